import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ApplicationService } from '../../apps/service.ts'
import { PlatformError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import { CALL_STATES, EVENT_KINDS } from '../../safety/safety-repo.ts'
import { type CallRefusal, SafetyCallError, type SafetyService } from '../../safety/service.ts'
import { parseCallStanza, StanzaError } from '../../safety/stanza.ts'
import { callView, eventView } from '../../safety/views.ts'
import type { AppThrottle } from '../throttle.ts'
import { numbersInQuery, timeWindow } from './commands.ts'

/**
 * The call API's `stateCode`s (rpc-and-calls.md B.7: "0" = success, anything else a failure; the source's code
 * pages are not in the seeds, so these are sitegate's). HTTP status 200 except when unauthenticated (B.7 note).
 */
export const CALL_STATE_CODES = {
  ok: '0',
  unauthenticated: '401',
  badRequest: '1001',
  badStanza: '1002',
  unknownDevice: '1003',
  deviceMismatch: '1004',
  deviceFrozen: '1005',
  xmppDown: '1006',
  throttled: '1010009',
  internal: '500',
} as const

const REFUSAL_CODES: Record<CallRefusal, string> = {
  'unknown-device': CALL_STATE_CODES.unknownDevice,
  'device-mismatch': CALL_STATE_CODES.deviceMismatch,
  'device-frozen': CALL_STATE_CODES.deviceFrozen,
  'xmpp-down': CALL_STATE_CODES.xmppDown,
}

// B.4: one field, the stanza as a string. 16 KiB is far more than a call stanza needs.
const CallApiBody = Type.Object({ message: Type.String({ minLength: 1, maxLength: 16_384 }) })

const Caller = Type.Object({
  userId: Type.Optional(Type.Integer({ minimum: 0 })),
  userName: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  userNo: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  tenantId: Type.Optional(Type.Integer({ minimum: 0 })),
})
const GatewayCallBody = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  directive: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' })),
  text: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  caller: Type.Optional(Caller),
})
const DeviceBody = Type.Object({
  nodeId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\s<>&"\'/]+$' }),
  chatJid: Type.String({ minLength: 3, maxLength: 320 }),
  isdpDeviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\s<>&"\']+$' })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
})
const Page = {
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  startTime: Type.Optional(Type.String()),
  endTime: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
}
const CallsQuery = Type.Object({
  ...Page,
  state: Type.Optional(Type.Union(CALL_STATES.map((s) => Type.Literal(s)))),
})
const EventsQuery = Type.Object({
  ...Page,
  kind: Type.Optional(Type.Union(EVENT_KINDS.map((k) => Type.Literal(k)))),
})
const CallParams = Type.Object({ callId: Type.String({ minLength: 1, maxLength: 64 }) })
const numericQuery = { pageNo: true, pageSize: true } as const
const tags = ['safety']

function envelope(reply: FastifyReply, stateCode: string, errorMessage: string | null, status = 200) {
  return reply.status(status).send({ stateCode, errorMessage, result: null })
}

/** Validation and unexpected errors of the call API, in its envelope. */
function callApiErrors(
  error: Error & { validation?: unknown; statusCode?: number },
  _r: unknown,
  reply: FastifyReply,
) {
  if (error.validation)
    return envelope(reply, CALL_STATE_CODES.badRequest, `invalid request: ${error.message}`)
  // Body not JSON, wrong content type, body too large.
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return envelope(reply, CALL_STATE_CODES.badRequest, `invalid request: ${error.message}`)
  }
  reply.log.error({ err: error }, 'safety call failed')
  return envelope(reply, CALL_STATE_CODES.internal, 'internal error')
}

/**
 * Safety-device calls (issue 7): the platform's call API `openApiSendImMessage` (rpc-and-calls.md B), and
 * sitegate's own endpoints under /sitegate/v1/safety — register safety devices, call one, read the call log and
 * the devices' messages, and the XMPP session's state.
 */
export function safetyRoutes(
  app: FastifyInstance,
  deps: { safety: SafetyService; apps: ApplicationService; throttle: AppThrottle; log: Logger },
): void {
  const { safety, apps, throttle } = deps
  const log = deps.log.child({ part: 'safety-api' })

  /** B.3: `Authorization: bearer {access_token}`; the token is one of the gateway's (§3.1 login). */
  const callerApp = (request: FastifyRequest): string | undefined => {
    const header = request.headers.authorization
    const match = typeof header === 'string' ? /^bearer\s+(\S+)\s*$/i.exec(header) : null
    if (!match) return undefined
    const appKey = request.headers.app_key ?? request.headers['x-app-key']
    if (typeof appKey === 'string' && appKey !== '') {
      try {
        return apps.authenticate(appKey, match[1]!)
      } catch {
        return undefined
      }
    }
    return apps.appForAccessToken(match[1]!)
  }

  app.post(
    '/openapi/v1/openSendImMessage/openApiSendImMessage',
    {
      schema: {
        tags,
        summary: 'Device call (rpc-and-calls.md B): send an XMPP call stanza to a safety device',
        body: CallApiBody,
        security: [{ bearer: [] }],
      },
      config: { auth: false },
      errorHandler: callApiErrors,
    },
    async (request, reply) => {
      const appId = callerApp(request)
      if (!appId) {
        log.info({ url: request.url }, 'call refused: missing or invalid bearer token')
        return envelope(
          reply,
          CALL_STATE_CODES.unauthenticated,
          'Authorization must be "bearer {access_token}" with a valid token',
          401,
        )
      }
      if (!throttle.take(appId)) return envelope(reply, CALL_STATE_CODES.throttled, 'app throttle exceed.')
      const { message } = request.body as Static<typeof CallApiBody>
      try {
        const call = parseCallStanza(message, { namespace: safety.settings?.propertiesNamespace })
        await safety.place(appId, 'openapi', call)
        return envelope(reply, CALL_STATE_CODES.ok, null)
      } catch (err) {
        if (err instanceof StanzaError) {
          log.info({ appId, reason: err.message }, 'call refused: invalid stanza')
          return envelope(reply, CALL_STATE_CODES.badStanza, `invalid message: ${err.message}`)
        }
        if (err instanceof SafetyCallError) {
          log.info({ appId, reason: err.reason, detail: err.message }, 'call refused')
          return envelope(reply, REFUSAL_CODES[err.reason], err.message)
        }
        throw err
      }
    },
  )

  app.get('/sitegate/v1/safety/status', { schema: { tags } }, async () => safety.status())

  app.post('/sitegate/v1/safety/devices', { schema: { tags, body: DeviceBody } }, async (request) => {
    const body = request.body as Static<typeof DeviceBody>
    return safety.registerDevice(request.appId, body)
  })

  app.get('/sitegate/v1/safety/devices', { schema: { tags } }, async (request) => ({
    devices: safety.devices(request.appId).map((d) => {
      const info = JSON.parse(d.info_json) as { chatJid?: string; isdpDeviceId?: string }
      return {
        deviceId: d.device_id,
        nodeId: d.node_id,
        name: d.name,
        chatJid: info.chatJid ?? null,
        isdpDeviceId: info.isdpDeviceId ?? null,
      }
    }),
  }))

  app.post(
    '/sitegate/v1/safety/calls',
    { schema: { tags, body: GatewayCallBody } },
    async (request, reply) => {
      const body = request.body as Static<typeof GatewayCallBody>
      try {
        const call = await safety.place(request.appId, 'gateway', safety.gatewayCall(request.appId, body))
        return reply.status(201).send(call)
      } catch (err) {
        if (!(err instanceof SafetyCallError)) throw err
        if (err.reason === 'xmpp-down') throw new PlatformError('109001', err.message)
        if (err.reason === 'device-frozen') throw new PlatformError('100449', err.message)
        throw new PlatformError('100403', err.message)
      }
    },
  )

  app.get(
    '/sitegate/v1/safety/calls',
    {
      schema: { tags, querystring: CallsQuery },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, numericQuery),
    },
    async (request) => {
      const q = request.query as Static<typeof CallsQuery>
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 100
      const { total, rows } = safety.repo.listCalls(request.appId, {
        deviceId: q.deviceId,
        state: q.state,
        ...timeWindow(q),
        limit: pageSize,
        offset: pageNo * pageSize,
      })
      return { totalCount: total, pageNo, pageSize, calls: rows.map(callView) }
    },
  )

  app.get('/sitegate/v1/safety/calls/:callId', { schema: { tags, params: CallParams } }, async (request) => {
    const { callId } = request.params as Static<typeof CallParams>
    const row = safety.repo.call(callId)
    const owner = row?.device_id ? safety.repo.deviceOwner(row.device_id) : undefined
    if (!row || (row.app_id !== request.appId && owner !== request.appId)) throw new PlatformError('100225')
    return callView(row)
  })

  app.get(
    '/sitegate/v1/safety/events',
    {
      schema: { tags, querystring: EventsQuery },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, numericQuery),
    },
    async (request) => {
      const q = request.query as Static<typeof EventsQuery>
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 100
      const { total, rows } = safety.repo.listEvents(request.appId, {
        deviceId: q.deviceId,
        kind: q.kind,
        ...timeWindow(q),
        limit: pageSize,
        offset: pageNo * pageSize,
      })
      return { totalCount: total, pageNo, pageSize, events: rows.map(eventView) }
    },
  )
}
