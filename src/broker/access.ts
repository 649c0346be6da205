// Who a connected device is, and what it may do: the CONNECT check (device-mqtt.md A.3) and the topic ACL
// (A.2 gateway note). Pure decisions; the broker module applies them.
import type { DeviceIdentity } from '../devices/registry.ts'
import { oneJsonMayPublish, oneJsonMaySubscribe, verifyOneJsonToken } from '../protocols/onejson.ts'
import { parseDeviceTopic } from '../protocols/platform-mqtt.ts'
import { cameraMayPublish, cameraMaySubscribe, decideCameraConnect, isCamera } from './camera-access.ts'
import { parseClientId, passwordMatches, timestampFresh } from './credentials.ts'

/** CONNACK return codes used for refusals (A.3 gateway note). */
export const ConnackCode = { identifierRejected: 2, badUsernameOrPassword: 4, notAuthorized: 5 } as const

/** The session of an authenticated device: its identity and the names its topics use. */
export type DeviceSession =
  | {
      protocol: 'platform'
      deviceId: string
      /** The id in the device's topics: its deviceId (authType 0) or its nodeId (authType 2), per A.2. */
      topicId: string
    }
  | {
      /** OneJSON thing-model device (device-mqtt.md Part B): topics `$sys/{pid}/{deviceName}/...`. */
      protocol: 'onejson'
      deviceId: string
      pid: string
      deviceName: string
    }
  | {
      /** A camera (device-mqtt.md Part C): topics `cameras/{sn}/up` and `cameras/{sn}/down`, sn = its nodeId. */
      protocol: 'camera'
      deviceId: string
      sn: string
    }

export type ConnectDecision =
  | { ok: true; session: DeviceSession }
  | { ok: false; code: number; reason: string }

export function decideConnect(input: {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  lookup: (id: string, by: 'deviceId' | 'nodeId') => DeviceIdentity | undefined
  now: number
  toleranceHours: number
}): ConnectDecision {
  const parsed = parseClientId(input.clientId)
  // A OneJSON device's ClientId is its bare device name (see decideOneJsonConnect); platform ClientIds have
  // four parts, so the two never collide.
  if (!parsed && input.username !== undefined) {
    const identity = input.lookup(input.clientId, 'nodeId')
    if (identity?.protocol === 'onejson') return decideOneJsonConnect(identity, input)
    if (identity && isCamera(identity)) return decideCameraConnect(identity, input)
  }
  if (!parsed) {
    return {
      ok: false,
      code: ConnackCode.identifierRejected,
      reason: 'malformed ClientId (want {id}_{0|2}_{0|1}_{YYYYMMDDHH})',
    }
  }
  if (input.username !== parsed.id) {
    return {
      ok: false,
      code: ConnackCode.badUsernameOrPassword,
      reason: 'User Name differs from the ClientId id',
    }
  }
  const identity = input.lookup(parsed.id, parsed.authType === 0 ? 'deviceId' : 'nodeId')
  if (!identity) return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: 'unknown device' }
  if (identity.protocol !== 'platform') {
    return {
      ok: false,
      code: ConnackCode.badUsernameOrPassword,
      reason: 'a OneJSON device must use its token',
    }
  }
  if (parsed.signType === 1 && !timestampFresh(parsed.hourMs, input.now, input.toleranceHours)) {
    return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: 'stale ClientId timestamp' }
  }
  if (!passwordMatches(input.password, identity.secret, parsed.timestamp)) {
    return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: 'wrong password' }
  }
  if (identity.mute) return { ok: false, code: ConnackCode.notAuthorized, reason: 'device is frozen' }
  return { ok: true, session: { protocol: 'platform', deviceId: identity.deviceId, topicId: parsed.id } }
}

/**
 * OneJSON devices (sitegate's definition, the seeds have none; README "OneJSON devices"): ClientId = device
 * name (its nodeId), User Name = pid (its productId), Password = a OneNET-style token signed with its secret.
 */
function decideOneJsonConnect(
  identity: DeviceIdentity,
  input: { username: string | undefined; password: Buffer | undefined; now: number },
): ConnectDecision {
  const pid = identity.productId ?? ''
  if (input.username !== pid) {
    return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: 'User Name is not the device pid' }
  }
  const check = verifyOneJsonToken({
    token: input.password,
    pid,
    deviceName: identity.nodeId,
    secret: identity.secret,
    nowSeconds: Math.floor(input.now / 1000),
  })
  if (!check.ok)
    return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: `token: ${check.reason}` }
  if (identity.mute) return { ok: false, code: ConnackCode.notAuthorized, reason: 'device is frozen' }
  return {
    ok: true,
    session: { protocol: 'onejson', deviceId: identity.deviceId, pid, deviceName: identity.nodeId },
  }
}

/**
 * A platform device may publish only to its own data topic (json or binary); a OneJSON device only its own
 * invoke replies (B.4 note 6).
 */
export function mayPublish(session: DeviceSession, topic: string): boolean {
  if (session.protocol === 'onejson') return oneJsonMayPublish(session, topic)
  if (session.protocol === 'camera') return cameraMayPublish(session, topic)
  const t = parseDeviceTopic(topic)
  return t !== undefined && t.kind === 'data' && t.id === session.topicId
}

/**
 * A platform device may subscribe only to its own command topic (json or binary), with no wildcards; a OneJSON
 * device only to its own invoke requests.
 */
export function maySubscribe(session: DeviceSession, topicFilter: string): boolean {
  if (session.protocol === 'onejson') return oneJsonMaySubscribe(session, topicFilter)
  if (session.protocol === 'camera') return cameraMaySubscribe(session, topicFilter)
  const t = parseDeviceTopic(topicFilter)
  return t !== undefined && t.kind === 'command' && t.id === session.topicId
}
