// Who a connected device is, and what it may do: the CONNECT check (device-mqtt.md A.3) and the topic ACL
// (A.2 gateway note). Pure decisions; the broker module applies them.
import type { DeviceIdentity } from '../devices/registry.ts'
import { parseDeviceTopic } from '../protocols/platform-mqtt.ts'
import { type ParsedClientId, parseClientId, passwordMatches, timestampFresh } from './credentials.ts'

/** CONNACK return codes used for refusals (A.3 gateway note). */
export const ConnackCode = { identifierRejected: 2, badUsernameOrPassword: 4, notAuthorized: 5 } as const

/** The session of an authenticated device: its identity and the id its topics use. */
export interface DeviceSession {
  deviceId: string
  /** The id in the device's topics: its deviceId (authType 0) or its nodeId (authType 2), per A.2. */
  topicId: string
}

export type ConnectDecision =
  | { ok: true; session: DeviceSession; clientId: ParsedClientId }
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
  if (parsed.signType === 1 && !timestampFresh(parsed.hourMs, input.now, input.toleranceHours)) {
    return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: 'stale ClientId timestamp' }
  }
  if (!passwordMatches(input.password, identity.secret, parsed.timestamp)) {
    return { ok: false, code: ConnackCode.badUsernameOrPassword, reason: 'wrong password' }
  }
  if (identity.mute) return { ok: false, code: ConnackCode.notAuthorized, reason: 'device is frozen' }
  return { ok: true, session: { deviceId: identity.deviceId, topicId: parsed.id }, clientId: parsed }
}

/** A device may publish only to its own data topic (json or binary). */
export function mayPublish(session: DeviceSession, topic: string): boolean {
  const t = parseDeviceTopic(topic)
  return t !== undefined && t.kind === 'data' && t.id === session.topicId
}

/** A device may subscribe only to its own command topic (json or binary), with no wildcards. */
export function maySubscribe(session: DeviceSession, topicFilter: string): boolean {
  const t = parseDeviceTopic(topicFilter)
  return t !== undefined && t.kind === 'command' && t.id === session.topicId
}
