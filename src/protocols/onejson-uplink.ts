import type { DevicePublishHandler } from '../broker/broker.ts'
import type { CommandService } from '../commands/service.ts'
import type { Logger } from '../logger.ts'
import { decodeInvokeReply, isSuccessCode } from './onejson.ts'

/**
 * What a OneJSON device publishes: invoke replies (device-mqtt.md B.3; the ACL admits nothing else). A reply
 * settles the call awaiting its id before the PUBACK; a reply nobody awaits, or a malformed one, is logged and
 * dropped.
 */
export function oneJsonUplinkHandler(commands: CommandService, log: Logger): DevicePublishHandler {
  return (session, topic, payload, done) => {
    const { deviceId } = session
    const decoded = decodeInvokeReply(payload)
    if (!decoded.ok) {
      log.warn({ deviceId, topic, error: decoded.error }, 'invalid invoke_reply dropped')
      return done(null)
    }
    const reply = decoded.value
    const mid = Number(reply.id)
    const detail = { code: reply.code, msg: reply.msg ?? null, data: reply.data ?? null }
    commands.answer({ deviceId, mid, success: isSuccessCode(reply.code), detail }).then(
      (row) => {
        if (!row) log.info({ deviceId, id: reply.id }, 'invoke_reply ignored: no call awaits this id')
        done(null)
      },
      (err: unknown) => {
        log.error({ err, deviceId }, 'recording an invoke_reply failed; not acknowledged')
        done(err as Error)
      },
    )
  }
}
