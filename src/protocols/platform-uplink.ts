import type { DevicePublishHandler } from '../broker/broker.ts'
import type { Logger } from '../logger.ts'
import type { IngestService } from '../telemetry/ingest.ts'
import { decodeUplink } from './platform-mqtt.ts'

/**
 * Routes what a device publishes on its data topic (device-mqtt.md A.2): `deviceReq` to durable ingest (the
 * PUBACK waits for its commit), `deviceRsp` to the command path. Bad input is logged and dropped: it writes
 * nothing, and the device stays connected.
 */
export function platformUplinkHandler(ingest: IngestService, log: Logger): DevicePublishHandler {
  return (session, topic, payload, done) => {
    const receivedAt = Date.now()
    // The broker's ACL has already parsed and checked the topic: only the codec suffix is left to read.
    if (topic.endsWith('/binary')) {
      // No codec plug-ins on the gateway yet (A.2 notes): binary payloads cannot be decoded, so none is stored.
      log.warn(
        { deviceId: session.deviceId, bytes: payload.length },
        'binary payload dropped: no codec for this device',
      )
      return done(null)
    }
    const decoded = decodeUplink(payload, receivedAt)
    if (!decoded.ok) {
      log.warn({ deviceId: session.deviceId, topic, error: decoded.error }, 'invalid device message dropped')
      return done(null)
    }
    const msg = decoded.value
    if (msg.msgType === 'deviceRsp') {
      log.info({ deviceId: session.deviceId, mid: msg.mid }, 'deviceRsp ignored: no command awaits this mid')
      return done(null)
    }
    if (msg.data.some((d) => d.eventTimeMalformed)) {
      log.warn({ deviceId: session.deviceId }, 'malformed eventTime replaced by the receive time (A.4)')
    }
    ingest.submit({ deviceId: session.deviceId, data: msg.data, receivedAt }, (err) => {
      if (err) log.error({ err, deviceId: session.deviceId }, 'ingest failed; message not acknowledged')
      done(err)
    })
  }
}
