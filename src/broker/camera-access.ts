// Cameras on the MQTT broker (upload_type 1, device-mqtt.md C.5/C.6). The seed defines neither topics nor
// authentication (C.10 note 1); sitegate's choice, documented in the README ("Cameras"):
//   - CONNECT: ClientId = sn, User Name = sn, Password = the device secret registered for it (a camera's MQTT
//     settings are a fixed user and password). A device registered as a Camera that signs its CONNECT the
//     platform's way (A.3) is a platform-protocol device like any other, on the platform topics;
//   - publish only `cameras/{sn}/up`, subscribe only `cameras/{sn}/down`.
import { timingSafeEqual } from 'node:crypto'
import type { DeviceIdentity } from '../devices/registry.ts'
import { cameraDownTopic, cameraUpTopic } from '../protocols/camera.ts'
import type { ConnectDecision, DeviceSession } from './access.ts'

/** deviceInfo.deviceType that makes a registered device a camera (matched without regard to case). */
export const CAMERA_DEVICE_TYPE = 'Camera'

export const isCamera = (identity: Pick<DeviceIdentity, 'deviceType' | 'protocol'>): boolean =>
  identity.protocol === 'platform' && identity.deviceType?.toLowerCase() === CAMERA_DEVICE_TYPE.toLowerCase()

type CameraSession = Extract<DeviceSession, { protocol: 'camera' }>

/** The plain form: ClientId and User Name are the sn, the password is the registered secret. */
export function decideCameraConnect(
  identity: DeviceIdentity,
  input: { clientId: string; username: string | undefined; password: Buffer | undefined },
): ConnectDecision {
  // CONNACK codes as access.ts ConnackCode (not imported: that module imports this one).
  if (input.username !== identity.nodeId) {
    return { ok: false, code: 4, reason: 'a camera connects with User Name = its sn' }
  }
  const presented = input.password ?? Buffer.alloc(0)
  const expected = Buffer.from(identity.secret)
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { ok: false, code: 4, reason: 'wrong password' }
  }
  if (identity.mute) return { ok: false, code: 5, reason: 'device is frozen' }
  return { ok: true, session: { protocol: 'camera', deviceId: identity.deviceId, sn: identity.nodeId } }
}

export const cameraMayPublish = (session: CameraSession, topic: string): boolean =>
  topic === cameraUpTopic(session.sn)

export const cameraMaySubscribe = (session: CameraSession, topicFilter: string): boolean =>
  topicFilter === cameraDownTopic(session.sn)
