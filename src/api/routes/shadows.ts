import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { DeviceRegistry } from '../../devices/registry.ts'
import { deviceInfoOf } from '../../devices/view.ts'
import type { ShadowService } from '../../shadows/service.ts'

const Params = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 256 }) })

/** Device shadow query (spec §4.9). */
export function shadowRoutes(app: FastifyInstance, registry: DeviceRegistry, shadows: ShadowService): void {
  app.get(
    '/iocm/app/shadow/v1.5.0/devices/:deviceId',
    { schema: { params: Params, querystring: Type.Object({ appId: Type.Optional(Type.String()) }) } },
    async (request) => {
      const { deviceId } = request.params as Static<typeof Params>
      // Spec §4.9 lists only 100418 for an unknown device on this API.
      const row = registry.getForApp(request.appId, deviceId, '100418')
      return shadows.view(row, deviceInfoOf(row))
    },
  )
}
