import type { FastifyError, FastifyInstance } from 'fastify'
import { PlatformError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/**
 * Every error leaves the API as `{"error_code","error_desc"}` (spec §1.3) with the catalogue's status; nothing
 * ever answers a raw 500 stack or a non-platform body.
 */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((error: FastifyError | PlatformError, request, reply) => {
    if (error instanceof PlatformError) {
      if (error.status >= 500) log.error({ err: error, url: request.url }, 'request failed')
      else log.info({ code: error.code, detail: error.detail, url: request.url }, 'request refused')
      return reply.status(error.status).send(error.toBody())
    }
    const fe = error as FastifyError
    if (fe.validation) {
      const code = request.routeOptions.config.validationCode ?? '50400'
      const failure = new PlatformError(code, fe.message)
      log.info({ code, detail: fe.message, url: request.url }, 'request failed validation')
      return reply.status(failure.status).send(failure.toBody())
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Body not JSON, wrong content type, body too large: the platform's generic input error (§12 gateway note).
      log.info({ code: fe.code, detail: fe.message, url: request.url }, 'bad request')
      return reply.status(400).send(new PlatformError('50400').toBody())
    }
    log.error({ err: error, url: request.url }, 'unexpected error in request')
    return reply.status(500).send(new PlatformError('50252').toBody())
  })
  app.setNotFoundHandler((_request, reply) => {
    reply.status(404).send(new PlatformError('100225').toBody())
  })
}
