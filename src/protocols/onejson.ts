// OneJSON thing-model service invocation (spec device-mqtt.md Part B): topics (B.2/B.3), the device ACL
// (B.4 note 6), the invoke request (B.2) and invoke_reply response (B.3) messages, and CONNECT
// authentication for OneJSON devices. Pure functions: wire bytes ⇄ validated values.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { type Decoded, fail, isPlainObject, parseJsonObject } from './json-payload.ts'

const SYS = '$sys'
const DEFAULT_VERSION = '1.0'
/** B.2/B.4 note 5: the message id is a string of digits, at most 13 characters. */
const ID_PATTERN = /^\d{1,13}$/

export type OneJsonTopicKind = 'invoke' | 'invoke_reply'

export interface OneJsonTopic {
  pid: string
  deviceName: string
  identifier: string
  kind: OneJsonTopicKind
}

export interface OneJsonSession {
  pid: string
  deviceName: string
}

/** A concrete topic level: non-empty, no wildcard characters, no level separator. */
const isConcreteLevel = (level: string): boolean =>
  level.length > 0 && !level.includes('+') && !level.includes('#') && !level.includes('/')

function assertLevel(name: string, value: string): void {
  if (typeof value !== 'string' || !isConcreteLevel(value)) {
    throw new Error(
      `${name} must be a non-empty topic level without "/", "+" or "#", got ${JSON.stringify(value)}`,
    )
  }
}

const servicePrefix = (pid: string, deviceName: string): string => {
  assertLevel('pid', pid)
  assertLevel('deviceName', deviceName)
  return `${SYS}/${pid}/${deviceName}/thing/service/`
}

/**
 * `$sys/{pid}/{device-name}/thing/service/{identifier}/invoke` (B.2): gateway → device.
 * Throws when a part is not a concrete topic level (empty, or containing `/`, `+`, `#`).
 */
export function invokeTopic(pid: string, deviceName: string, identifier: string): string {
  const prefix = servicePrefix(pid, deviceName)
  assertLevel('identifier', identifier)
  return `${prefix}${identifier}/invoke`
}

/** `$sys/{pid}/{device-name}/thing/service/+/invoke`: what a device subscribes to (B.4 note 6). */
export const invokeFilter = (pid: string, deviceName: string): string =>
  `${servicePrefix(pid, deviceName)}+/invoke`

/** `$sys/{pid}/{device-name}/thing/service/+/invoke_reply` (B.3): the gateway's filter for a device's replies. */
export const invokeReplyFilter = (pid: string, deviceName: string): string =>
  `${servicePrefix(pid, deviceName)}+/invoke_reply`

/** Splits a topic into its 7 levels when it has the `$sys/x/x/thing/service/x/x` shape. */
function serviceLevels(topic: string): [string, string, string, string] | undefined {
  const parts = topic.split('/')
  if (parts.length !== 7) return undefined
  const [sys, pid, deviceName, thing, service, identifier, kind] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ]
  if (sys !== SYS || thing !== 'thing' || service !== 'service') return undefined
  return [pid, deviceName, identifier, kind]
}

/**
 * Parses an invoke (B.2) or invoke_reply (B.3) topic name; undefined for any other topic, for wildcards in
 * pid/device-name/identifier, empty levels and a wrong number of levels.
 */
export function parseOneJsonTopic(topic: string): OneJsonTopic | undefined {
  const levels = serviceLevels(topic)
  if (!levels) return undefined
  const [pid, deviceName, identifier, kind] = levels
  if (!isConcreteLevel(pid) || !isConcreteLevel(deviceName) || !isConcreteLevel(identifier)) return undefined
  if (kind !== 'invoke' && kind !== 'invoke_reply') return undefined
  return { pid, deviceName, identifier, kind }
}

const ownsTopic = (session: OneJsonSession, pid: string, deviceName: string): boolean =>
  isConcreteLevel(session.pid) &&
  isConcreteLevel(session.deviceName) &&
  pid === session.pid &&
  deviceName === session.deviceName

/**
 * ACL (B.4 note 6): a OneJSON device may publish only its own
 * `$sys/{pid}/{name}/thing/service/{identifier}/invoke_reply`, with a concrete identifier.
 */
export function oneJsonMayPublish(session: OneJsonSession, topic: string): boolean {
  const parsed = parseOneJsonTopic(topic)
  if (parsed?.kind !== 'invoke_reply') return false
  return ownsTopic(session, parsed.pid, parsed.deviceName)
}

/**
 * ACL (B.4 note 6): a OneJSON device may subscribe only to its own
 * `$sys/{pid}/{name}/thing/service/+/invoke` or `.../{identifier}/invoke` (concrete identifier);
 * no `#`, no other devices, no invoke_reply.
 */
export function oneJsonMaySubscribe(session: OneJsonSession, filter: string): boolean {
  const levels = serviceLevels(filter)
  if (!levels) return false
  const [pid, deviceName, identifier, kind] = levels
  if (kind !== 'invoke') return false
  if (identifier !== '+' && !isConcreteLevel(identifier)) return false
  return ownsTopic(session, pid, deviceName)
}

export interface InvokeRequest {
  /** Message id: a string of 1-13 digits (B.2, B.4 note 5). */
  id: string
  /** Thing-model version; `1.0` when omitted (B.2). */
  version?: string
  /** The service's input parameters (B.2). */
  params: Record<string, unknown>
}

export interface InvokeReply {
  id: string
  code: number
  msg: string | undefined
  data: Record<string, unknown> | undefined
}

export type { Decoded }

/** Encodes the invoke request payload (B.2). Throws on an invalid id, version or params. */
export function encodeInvoke(req: InvokeRequest): string {
  const { id, params } = req
  const version = req.version ?? DEFAULT_VERSION
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new Error(`invoke id must be a string of 1-13 digits (B.4 note 5), got ${JSON.stringify(id)}`)
  }
  if (typeof version !== 'string' || version.length === 0) {
    throw new Error(`invoke version must be a non-empty string, got ${JSON.stringify(version)}`)
  }
  if (!isPlainObject(params)) throw new Error('invoke params must be a plain JSON object')
  return JSON.stringify({ id, version, params })
}

/**
 * Decodes an invoke_reply payload (B.3).
 * - `id`: a string of 1-13 digits. A JSON number that is a non-negative integer of at most 13 digits is
 *   accepted too and converted to its decimal string, because devices commonly send the id as a number
 *   (13 digits stay well inside the safe-integer range, so no precision is lost).
 * - `code`: integer, required (200 = success, see isSuccessCode).
 * - `msg`: optional string; `data`: optional JSON object. `null` counts as absent for both.
 */
export function decodeInvokeReply(payload: Buffer | string): Decoded<InvokeReply> {
  const parsed = parseJsonObject(payload)
  if (!parsed.ok) return parsed
  const doc = parsed.value
  const { code, msg, data } = doc
  let id: string
  if (typeof doc.id === 'string' && ID_PATTERN.test(doc.id)) id = doc.id
  else if (typeof doc.id === 'number' && Number.isSafeInteger(doc.id) && doc.id >= 0 && doc.id < 1e13) {
    id = String(doc.id)
  } else
    return fail(`invoke_reply.id must be a string of 1-13 digits, got ${JSON.stringify(doc.id) ?? 'nothing'}`)
  if (!Number.isSafeInteger(code)) {
    return fail(`invoke_reply.code must be an integer, got ${JSON.stringify(code) ?? 'nothing'}`)
  }
  if (msg !== undefined && msg !== null && typeof msg !== 'string')
    return fail('invoke_reply.msg must be a string')
  if (data !== undefined && data !== null && !isPlainObject(data)) {
    return fail('invoke_reply.data must be a JSON object')
  }
  return { ok: true, value: { id, code: code as number, msg: msg ?? undefined, data: data ?? undefined } }
}

/** B.4 note 1: 200 = success; any other code is a failure explained by `msg`. */
export const isSuccessCode = (code: number): boolean => code === 200

// CONNECT authentication for OneJSON devices. Not in the seeds (B.4 note 6); sitegate follows the OneNET
// Studio token scheme so that real OneNET devices connect unchanged:
//   ClientId = device name, User Name = pid, Password = token
//   token = version=2018-10-31&res=products%2F{pid}%2Fdevices%2F{deviceName}&et={unix s}&method={m}&sign={s}
//   sign  = base64(HMAC-{m}(key, `${et}\n${method}\n${res}\n${version}`)), res decoded, sign URL-encoded.
// Key choice: OneNET base64-decodes its access key; sitegate's device secrets are plain text, not base64, so
// the key is the secret's UTF-8 bytes.

export type TokenMethod = 'md5' | 'sha1' | 'sha256'

const TOKEN_VERSION = '2018-10-31'
const TOKEN_METHODS: readonly string[] = ['md5', 'sha1', 'sha256']
const TOKEN_KEYS = ['version', 'res', 'et', 'method', 'sign'] as const

const isTokenMethod = (m: string): m is TokenMethod => TOKEN_METHODS.includes(m)
const tokenResource = (pid: string, deviceName: string): string => `products/${pid}/devices/${deviceName}`

const tokenSignature = (secret: string, et: string, method: TokenMethod, res: string): string =>
  createHmac(method, Buffer.from(secret, 'utf8'))
    .update(`${et}\n${method}\n${res}\n${TOKEN_VERSION}`)
    .digest('base64')

/** The password a OneJSON device presents, valid until `expiresAt` (unix seconds). */
export function oneJsonToken(opts: {
  pid: string
  deviceName: string
  secret: string
  expiresAt: number
  method?: TokenMethod
}): string {
  const method = opts.method ?? 'sha256'
  if (!isTokenMethod(method))
    throw new Error(`token method must be md5, sha1 or sha256, got ${JSON.stringify(method)}`)
  if (!Number.isSafeInteger(opts.expiresAt) || opts.expiresAt < 0) {
    throw new Error(`token expiresAt must be a non-negative integer of unix seconds, got ${opts.expiresAt}`)
  }
  if (opts.pid.length === 0 || opts.deviceName.length === 0)
    throw new Error('token pid and deviceName must be non-empty')
  const res = tokenResource(opts.pid, opts.deviceName)
  const et = String(opts.expiresAt)
  const sign = tokenSignature(opts.secret, et, method, res)
  return (
    `version=${TOKEN_VERSION}&res=${encodeURIComponent(res)}&et=${et}` +
    `&method=${method}&sign=${encodeURIComponent(sign)}`
  )
}

export type TokenCheck = { ok: true } | { ok: false; reason: string }

/**
 * Verifies a OneJSON device's token for the device `{pid}/{deviceName}` at `nowSeconds` (unix seconds):
 * version 2018-10-31, res exactly `products/{pid}/devices/{deviceName}`, a known method, `et` an integer
 * later than now, and the signature (constant-time compare).
 */
export function verifyOneJsonToken(opts: {
  token: Buffer | string | undefined
  pid: string
  deviceName: string
  secret: string
  nowSeconds: number
}): TokenCheck {
  const { token, pid, deviceName, secret, nowSeconds } = opts
  if (token === undefined) return { ok: false, reason: 'no token' }
  const params = new URLSearchParams(typeof token === 'string' ? token : token.toString('utf8'))
  for (const key of TOKEN_KEYS) {
    const n = params.getAll(key).length
    if (n === 0) return { ok: false, reason: `token has no ${key}` }
    if (n > 1) return { ok: false, reason: `token has ${key} more than once` }
  }
  const version = params.get('version')!
  const res = params.get('res')!
  const et = params.get('et')!
  const method = params.get('method')!
  // base64 never contains spaces: a space is a `+` from a device that did not URL-encode the sign.
  const sign = params.get('sign')!.replaceAll(' ', '+')
  if (version !== TOKEN_VERSION) return { ok: false, reason: `token version must be ${TOKEN_VERSION}` }
  if (res !== tokenResource(pid, deviceName)) {
    return { ok: false, reason: `token res must be ${tokenResource(pid, deviceName)}` }
  }
  if (!isTokenMethod(method)) return { ok: false, reason: 'token method must be md5, sha1 or sha256' }
  if (!/^\d{1,15}$/.test(et)) return { ok: false, reason: 'token et must be an integer of unix seconds' }
  if (Number(et) <= nowSeconds) return { ok: false, reason: 'token expired' }
  const presented = Buffer.from(sign, 'utf8')
  const expected = Buffer.from(tokenSignature(secret, et, method, res), 'utf8')
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { ok: false, reason: 'token signature mismatch' }
  }
  return { ok: true }
}
