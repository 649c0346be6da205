import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { newCommandRow } from '../../commands/new-command.ts'
import type { CommandService } from '../../commands/service.ts'
import type { DeviceRegistry } from '../../devices/registry.ts'
import { ONEJSON_PROTOCOL_TYPE } from '../../devices/registry.ts'
import { PlatformError } from '../../errors.ts'
import type { Store } from '../../store/index.ts'
import type { CommandRow } from '../../store/repos/commands.ts'

const InvokeParams = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  identifier: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^/+#\\s]+$' }),
})
const InvokeQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  mode: Type.Optional(Type.Union([Type.Literal('sync'), Type.Literal('async')])),
})
const InvokeBody = Type.Object({
  params: Type.Object({}, { additionalProperties: true }),
  version: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
})
const ResultParams = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  id: Type.String({ pattern: '^\\d{1,13}$' }),
})

/** The B.3 reply shape of a settled call (with `data` only when the device sent some). */
function replyOf(row: CommandRow): Record<string, unknown> {
  const result = row.result_json
    ? (JSON.parse(row.result_json) as { resultDetail?: Record<string, unknown> })
    : {}
  const detail = result.resultDetail ?? {}
  return {
    id: String(row.mid),
    code: detail.code ?? null,
    msg: detail.msg ?? null,
    ...(detail.data ? { data: detail.data } : {}),
  }
}

/**
 * OneJSON thing-model service calls (device-mqtt.md Part B). The seeds define only the device side (B.4 note
 * 2); this is sitegate's application side:
 *   POST /iocm/app/onejson/v1.0.0/devices/{deviceId}/services/{identifier}/invoke?mode=sync|async
 *        body {"params":{…},"version":"1.0"}
 *   GET  /iocm/app/onejson/v1.0.0/devices/{deviceId}/invocations/{id}
 * Synchronous (default): waits at most 5 s (B.1) and answers the device's reply {id, code, msg, data}, or 504
 * with code 504 when it did not reply in time (B.4 note 3; the late reply is kept). Asynchronous: answers at once
 * {id, code: 200, msg} without data; the reply is stored and pushed (`command.status`) when it comes.
 */
export function oneJsonRoutes(
  app: FastifyInstance,
  deps: { registry: DeviceRegistry; store: Store; commands: CommandService; syncCallTimeoutMs: number },
): void {
  const { registry, store, commands } = deps
  app.post(
    '/iocm/app/onejson/v1.0.0/devices/:deviceId/services/:identifier/invoke',
    { schema: { params: InvokeParams, querystring: InvokeQuery, body: InvokeBody } },
    async (request, reply) => {
      const { deviceId, identifier } = request.params as Static<typeof InvokeParams>
      const { mode } = request.query as Static<typeof InvokeQuery>
      const body = request.body as Static<typeof InvokeBody>
      const device = registry.getForApp(request.appId, deviceId, '100418')
      if (device.protocol_type !== ONEJSON_PROTOCOL_TYPE) {
        throw new PlatformError('50400', 'the device does not speak OneJSON (deviceInfo.protocolType)')
      }
      if (!commands.isOnline(deviceId)) throw new PlatformError('100428')
      const row = await commands.create(
        newCommandRow(
          {
            appId: request.appId,
            deviceId,
            origin: 'invoke',
            immediate: true,
            serviceId: identifier,
            method: identifier,
            paras: body.params,
            extra: { version: body.version ?? '1.0' },
          },
          Date.now(),
        ),
      )
      if (row.status !== 'SENT') throw new PlatformError('100428')
      const id = String(row.mid)
      if (mode === 'async') return { id, code: 200, msg: 'accepted' }
      const ended = await commands.waitForEnd(row.command_id, deps.syncCallTimeoutMs)
      if (!ended) {
        return reply
          .status(504)
          .send({ id, code: 504, msg: `the device did not reply within ${deps.syncCallTimeoutMs} ms` })
      }
      if (ended.status === 'TIMEOUT')
        return reply.status(504).send({ id, code: 504, msg: 'the device did not reply' })
      return replyOf(ended)
    },
  )

  app.get(
    '/iocm/app/onejson/v1.0.0/devices/:deviceId/invocations/:id',
    { schema: { params: ResultParams, querystring: Type.Object({ appId: Type.Optional(Type.String()) }) } },
    async (request) => {
      const { deviceId, id } = request.params as Static<typeof ResultParams>
      registry.getForApp(request.appId, deviceId, '100418')
      const row = store.commands.latestByMid(deviceId, Number(id), 'invoke')
      if (!row) throw new PlatformError('100434')
      return { ...replyOf(row), status: row.status }
    },
  )
}
