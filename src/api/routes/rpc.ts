import { randomBytes } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { ApplicationService } from '../../apps/service.ts'
import { newCommandRow } from '../../commands/new-command.ts'
import type { CommandService } from '../../commands/service.ts'
import type { DeviceRegistry } from '../../devices/registry.ts'
import type { Store } from '../../store/index.ts'
import type { CommandRow } from '../../store/repos/commands.ts'

// rpc-and-calls.md A.2: every query parameter is required.
const CallQuery = Type.Object({
  apikey: Type.String({ minLength: 1, maxLength: 256 }),
  product_uuid: Type.String({ minLength: 1, maxLength: 64 }),
  device_uuid: Type.String({ minLength: 1, maxLength: 64 }),
  method: Type.String({ minLength: 1, maxLength: 128 }),
})
// A.5 note 1: cmd is a string or a number; para a JSON object, or a string (GUS-encoded, opaque).
const CallBody = Type.Object({
  cmd: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Number()]),
  groupid: Type.String({ minLength: 1, maxLength: 64 }),
  para: Type.Union([Type.Object({}, { additionalProperties: true }), Type.String({ maxLength: 65536 })]),
})
const ResultQuery = Type.Object({
  apikey: Type.String({ minLength: 1, maxLength: 256 }),
  msgid: Type.String({ minLength: 1, maxLength: 64 }),
})

/** `type` of the A.2 answer envelope (meaning not given by the source; echoed as documented). */
const MESSAGE_TYPE = 34
/**
 * `data.topic`: where the result arrives. sitegate pushes call results as `commandRsp` notifications (the
 * subscription API) and serves them at GET /iot/v1/application/device/rpc/result.
 */
const RESULT_TOPIC = 'commandRsp'

class CallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

/** A.5 note 3: errors answer in the same envelope, code ≠ 200, msg explaining, no data. */
function envelope(reply: FastifyReply, code: number, msg: string, data?: Record<string, unknown>) {
  return reply.status(code === 200 ? 200 : code).send({
    code,
    msg,
    type: MESSAGE_TYPE,
    ...(data ? { data } : {}),
    ts: Date.now(),
  })
}

/** 12 alphanumeric characters, as the A.2 example's msgid. */
function newMsgId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('')
}

function resultOf(row: CommandRow): Record<string, unknown> {
  return {
    msgid: row.request_id,
    device_uuid: row.device_id,
    status: row.status,
    result: row.result_json === null ? null : (JSON.parse(row.result_json) as unknown),
  }
}

/**
 * Remote calls (rpc-and-calls.md Part A): asynchronous (A.2, answered at once with the msgid), synchronous
 * (A.4, waits for the device up to the configured limit, 5 s by default) and the result query. Authentication
 * is the `apikey` query parameter alone (A.5 note 3), mapped to one of the gateway's applications.
 */
export function rpcRoutes(
  app: FastifyInstance,
  deps: {
    apps: ApplicationService
    registry: DeviceRegistry
    store: Store
    commands: CommandService
    syncCallTimeoutMs: number
  },
): void {
  const { apps, registry, store, commands } = deps
  // This API has its own error envelope: validation failures and unexpected errors answer in it too.
  const config = { auth: false }

  const start = async (
    query: Static<typeof CallQuery>,
    body: Static<typeof CallBody>,
  ): Promise<CommandRow> => {
    const appId = apps.appForApiKey(query.apikey)
    if (!appId) throw new CallError(401, 'apikey is not valid')
    const device = store.devices.get(query.device_uuid)
    if (!device || device.app_id !== appId)
      throw new CallError(404, `device ${query.device_uuid} does not exist`)
    // A device registered with a product must be called under that product; one without cannot be checked.
    if (device.product_id !== null && device.product_id !== query.product_uuid) {
      throw new CallError(404, `device ${query.device_uuid} is not of product ${query.product_uuid}`)
    }
    if (!registry.exists(device.device_id) || !commands.isOnline(device.device_id)) {
      throw new CallError(409, 'the device is not online')
    }
    const cmd = String(body.cmd)
    if (/[/+#\s]/.test(cmd)) throw new CallError(400, 'cmd must not contain / + # or spaces')
    const paras = typeof body.para === 'string' ? { data: body.para } : body.para
    const row = await commands.create(
      newCommandRow(
        {
          appId,
          deviceId: device.device_id,
          origin: 'rpc',
          immediate: true,
          serviceId: body.groupid,
          method: cmd,
          paras,
          requestId: newMsgId(),
          extra: { method: query.method, product_uuid: query.product_uuid },
        },
        Date.now(),
      ),
    )
    if (row.status !== 'SENT') throw new CallError(409, 'the device is not online')
    return row
  }

  const handle =
    (wait: boolean) => async (request: { query: unknown; body: unknown }, reply: FastifyReply) => {
      try {
        const row = await start(
          request.query as Static<typeof CallQuery>,
          request.body as Static<typeof CallBody>,
        )
        const data = { msgid: row.request_id, topic: RESULT_TOPIC }
        if (!wait) return envelope(reply, 200, 'OK', data)
        const ended = await commands.waitForEnd(row.command_id, deps.syncCallTimeoutMs)
        if (!ended) {
          return envelope(
            reply,
            504,
            `the device did not answer within ${deps.syncCallTimeoutMs} ms; the result stays retrievable by msgid`,
            data,
          )
        }
        // The response timeout ended it first (commands.responseTimeoutMs < the sync limit): no answer either.
        if (ended.status === 'TIMEOUT') {
          return envelope(reply, 504, 'the device did not answer', { ...data, ...resultOf(ended) })
        }
        return envelope(reply, 200, 'OK', { ...data, ...resultOf(ended) })
      } catch (err) {
        if (err instanceof CallError) return envelope(reply, err.code, err.message)
        throw err
      }
    }

  const schema = { querystring: CallQuery, body: CallBody }
  app.post(
    '/iot/v1/application/device/rpc/async',
    { schema, config, errorHandler: callErrors },
    handle(false),
  )
  app.post('/iot/v1/application/device/rpc/sync', { schema, config, errorHandler: callErrors }, handle(true))
  app.get(
    '/iot/v1/application/device/rpc/result',
    { schema: { querystring: ResultQuery }, config, errorHandler: callErrors },
    async (request, reply) => {
      const q = request.query as Static<typeof ResultQuery>
      const appId = apps.appForApiKey(q.apikey)
      if (!appId) return envelope(reply, 401, 'apikey is not valid')
      const row = store.commands.byRequest(appId, 'rpc', q.msgid)
      if (!row) return envelope(reply, 404, `no call with msgid ${q.msgid}`)
      return envelope(reply, 200, 'OK', resultOf(row))
    },
  )
}

/** Validation and unexpected errors of the remote-call routes, in their envelope (A.5 note 3). */
function callErrors(
  error: Error & { validation?: unknown; statusCode?: number },
  _request: unknown,
  reply: FastifyReply,
) {
  if (error.validation) return envelope(reply, 400, `invalid request: ${error.message}`)
  // Body not JSON, wrong content type, body too large: the caller's error, not the gateway's.
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return envelope(reply, 400, `invalid request: ${error.message}`)
  }
  reply.log.error({ err: error }, 'remote call failed')
  return envelope(reply, 500, 'internal error')
}
