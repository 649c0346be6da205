import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ApplicationService } from '../../apps/service.ts'

// Login takes a form body (spec §3.1); missing fields are 102202, so the schema only types what is present.
const LoginBody = Type.Object({
  appId: Type.Optional(Type.String({ maxLength: 256 })),
  secret: Type.Optional(Type.String({ maxLength: 256 })),
})

const RefreshBody = Type.Object({
  appId: Type.String({ minLength: 1, maxLength: 256 }),
  secret: Type.String({ minLength: 1, maxLength: 256 }),
  refreshToken: Type.String({ minLength: 1, maxLength: 256 }),
})

/** Application security access (spec §3): login and refresh token. */
export function securityRoutes(app: FastifyInstance, apps: ApplicationService): void {
  app.post(
    '/iocm/app/sec/v1.1.0/login',
    { schema: { body: LoginBody }, config: { auth: false, validationCode: '102202' } },
    async (request) => {
      const body = (request.body ?? {}) as Static<typeof LoginBody>
      return apps.login(body.appId, body.secret)
    },
  )
  app.post(
    '/iocm/app/sec/v1.1.0/refreshToken',
    { schema: { body: RefreshBody }, config: { auth: false, validationCode: '102202' } },
    async (request) => {
      const body = request.body as Static<typeof RefreshBody>
      return apps.refresh(body.appId, body.secret, body.refreshToken)
    },
  )
}
