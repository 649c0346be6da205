import type { DevicePublishHandler } from '../broker/broker.ts'
import type { Logger } from '../logger.ts'
import { cameraDownTopic } from '../protocols/camera.ts'
import type { CameraBroker, CameraService } from './service.ts'

/**
 * MQTT cameras' messages on `cameras/{sn}/up` (the ACL allows them nothing else): handled, then the `_rsp`
 * published on `cameras/{sn}/down`, then the PUBACK — after whatever the message stored has been committed.
 */
export function cameraUplinkHandler(
  cameras: CameraService,
  broker: CameraBroker,
  log: Logger,
): DevicePublishHandler {
  return (session, _topic, payload, done) => {
    if (session.protocol !== 'camera') return done(null)
    cameras
      .receive(payload.toString('utf8'), { transport: 'mqtt', session })
      .then(async (outcome) => {
        if (outcome.reply) {
          await broker.publishToDevice(
            session.deviceId,
            cameraDownTopic(session.sn),
            JSON.stringify(outcome.reply),
          )
        }
        done(null)
      })
      .catch((err: unknown) => {
        // Not acknowledged: the camera sends it again (a failed commit, as for platform devices).
        log.error({ err, deviceId: session.deviceId }, 'camera message could not be handled')
        done(err instanceof Error ? err : new Error(String(err)))
      })
  }
}
