// MQTT CONNECT credentials of the platform protocol (spec device-mqtt.md A.3).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { parseHourStamp, toHourStamp } from '../time.ts'

/** 0: connect by deviceId; 2: connect by nodeId (A.3: 1 is not defined). */
export type AuthType = 0 | 2
/** 0: timestamp not checked; 1: timestamp checked against gateway time. */
export type SignType = 0 | 1

export interface ParsedClientId {
  id: string
  authType: AuthType
  signType: SignType
  timestamp: string
  /** Epoch ms of the start of the timestamp's UTC hour. */
  hourMs: number
}

/**
 * Parses `{id}_{authType}_{signType}_{YYYYMMDDHH}` from the right: the last three parts have fixed lengths
 * (1, 1, 10), and a nodeId may itself contain `_` (A.3 gateway note). Undefined when malformed.
 */
export function parseClientId(clientId: string): ParsedClientId | undefined {
  const m = /^(.+)_([02])_([01])_(\d{10})$/.exec(clientId)
  if (!m) return undefined
  const [, id, authType, signType, timestamp] = m as unknown as [string, string, string, string, string]
  const hourMs = parseHourStamp(timestamp)
  if (hourMs === undefined) return undefined
  return {
    id,
    authType: Number(authType) as AuthType,
    signType: Number(signType) as SignType,
    timestamp,
    hourMs,
  }
}

/** Password = lowercase hex HMAC-SHA256 with key = the ClientId timestamp, message = the device secret. */
export function devicePassword(secret: string, timestamp: string): string {
  return createHmac('sha256', timestamp).update(secret).digest('hex')
}

/** Compares a presented password with the expected one, case-insensitively and in constant time. */
export function passwordMatches(
  presented: Buffer | string | undefined,
  secret: string,
  timestamp: string,
): boolean {
  if (presented === undefined) return false
  const text = (typeof presented === 'string' ? presented : presented.toString('utf8')).toLowerCase()
  const expected = devicePassword(secret, timestamp)
  if (text.length !== expected.length) return false
  return timingSafeEqual(Buffer.from(text), Buffer.from(expected))
}

/** signType 1: the timestamp's hour must be within `toleranceHours` of the gateway's current UTC hour. */
export function timestampFresh(hourMs: number, now: number, toleranceHours: number): boolean {
  const currentHour = Math.floor(now / 3_600_000) * 3_600_000
  return Math.abs(currentHour - hourMs) <= toleranceHours * 3_600_000
}

export interface DeviceCredentials {
  clientId: string
  username: string
  password: string
}

/** What a device must present at `now` (the integrator helper of the CLI and the test simulators). */
export function deviceCredentials(opts: {
  id: string
  secret: string
  authType?: AuthType
  signType?: SignType
  now?: number
}): DeviceCredentials {
  const timestamp = toHourStamp(opts.now ?? Date.now())
  const clientId = `${opts.id}_${opts.authType ?? 0}_${opts.signType ?? 1}_${timestamp}`
  return { clientId, username: opts.id, password: devicePassword(opts.secret, timestamp) }
}
