import type { FastifyInstance } from 'fastify'
import type { SerialService } from '../../serial/service.ts'
import { availablePorts } from '../../serial/status.ts'

/**
 * Serial instruments (sitegate's admin API; README "Serial instruments"), with the platform API's credentials:
 *   GET /sitegate/v1/serial → {"ports":[…configured ports, their state, counters and slaves…],
 *                              "available":[…serial ports the operating system lists…]}
 */
export function serialRoutes(app: FastifyInstance, deps: { serial?: SerialService | undefined }): void {
  app.get('/sitegate/v1/serial', async (request) => {
    let available: Awaited<ReturnType<typeof availablePorts>> = []
    let availableError: string | undefined
    try {
      available = await availablePorts()
    } catch (err) {
      // Listing needs udev on Linux; the configured ports' state is worth answering without it.
      availableError = (err as Error).message
      request.log.warn({ err }, 'listing serial ports failed')
    }
    return {
      ports: deps.serial?.status() ?? [],
      available,
      ...(availableError === undefined ? {} : { availableError }),
    }
  })
}
