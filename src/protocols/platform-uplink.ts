import type { DevicePublishHandler } from '../broker/broker.ts'
import type { CommandService } from '../commands/service.ts'
import type { Logger } from '../logger.ts'
import type { IngestService } from '../telemetry/ingest.ts'

/**
 * Routes what a device publishes on its data topic (device-mqtt.md A.2). JSON messages go, undecoded, to the
 * ingest writer thread, which decodes them (platform-mqtt.ts), stores deviceReq and settles the command a deviceRsp
 * answers; the PUBACK waits for that commit. Bad input is logged and dropped: it writes nothing, and the device stays connected.
 */
export function platformUplinkHandler(
  ingest: IngestService,
  commands: CommandService,
  log: Logger,
): DevicePublishHandler {
  return (session, topic, payload, done) => {
    const { deviceId } = session
    // The broker's ACL has already parsed and checked the topic: only the codec suffix is left to read.
    if (topic.endsWith('/binary')) {
      // No codec plug-ins on the gateway yet (A.2 notes): binary payloads cannot be decoded, so none is stored.
      log.warn({ deviceId, bytes: payload.length }, 'binary payload dropped: no codec for this device')
      return done(null)
    }
    ingest.submit({ deviceId, payload, receivedAt: Date.now() }, (err, outcome) => {
      if (err) log.error({ err, deviceId }, 'ingest failed; message not acknowledged')
      else if (outcome?.kind === 'stored') log.warn({ deviceId }, outcome.warning)
      else if (outcome?.kind === 'invalid')
        log.warn({ deviceId, topic, error: outcome.error }, 'invalid device message dropped')
      else if (outcome?.kind === 'response') {
        // The writer settled the command in the same commit (A.6); an unknown mid is logged and ignored.
        if (outcome.command) commands.answered(outcome.command)
        else
          log.info({ deviceId, mid: outcome.response.mid }, 'deviceRsp ignored: no command awaits this mid')
      }
      done(err)
    })
  }
}
