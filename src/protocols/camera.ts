// The camera JSON protocol (spec device-mqtt.md Part C, seed 003): message envelope, validation, replies and
// the server → device requests. Pure functions; the transports (MQTT topics below, the HTTP upload endpoint)
// and what the gateway does with a message live in src/cameras/.

/** Device → server requests (C.3). */
export const DEVICE_REQUESTS = ['heartbeat', 'upload_snapshot'] as const
export type DeviceRequestName = (typeof DEVICE_REQUESTS)[number]

/** Server → device requests (C.3); their replies are `<name>_rsp`. */
export const SERVER_REQUESTS = ['get_dev_config', 'set_dev_config', 'upgrade_dev', 'control_cmd'] as const
export type ServerRequestName = (typeof SERVER_REQUESTS)[number]

/**
 * `ret` codes of the gateway's replies. The seed uses 0 for success and enumerates nothing else (C.10 note 3):
 * these are sitegate's, documented in the README ("Cameras").
 */
export const CameraRet = {
  ok: 0,
  malformed: 1,
  unknownOperate: 2,
  staleTimestamp: 3,
  unknownSn: 4,
  invalidImage: 5,
  imageTooLarge: 6,
  storageFailed: 7,
  unauthorized: 8,
} as const

/** sitegate's camera topics (C.10 note 1: the seed defines none). The camera publishes on up, subscribes to down. */
export const cameraUpTopic = (sn: string): string => `cameras/${sn}/up`
export const cameraDownTopic = (sn: string): string => `cameras/${sn}/down`

/** Common request fields (C.1). */
export interface CameraRequestEnvelope {
  operate: string
  request_id: string
  timestamp: number
  sn: string
}

export type DeviceRequest =
  | (CameraRequestEnvelope & { operate: 'heartbeat' })
  | (CameraRequestEnvelope & { operate: 'upload_snapshot'; data: string })

/** Common reply fields (C.1) and whatever else the reply carries. */
export interface CameraReply {
  operate: string
  request_id: string
  sn: string
  ret: number
  msg: string
  [field: string]: unknown
}

export type ParsedMessage =
  | { kind: 'request'; request: DeviceRequest }
  | { kind: 'reply'; reply: CameraReply }
  /** Refused: `reply` is what to answer (undefined when the message names no operation to answer). */
  | { kind: 'invalid'; reason: string; ret: number; reply: CameraReply | undefined }

const MAX_ID = 128
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const isIdString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID

/** The reply to a request: `<operate>_rsp` echoing its request_id and sn (C.1; replies carry no timestamp). */
export function replyTo(
  req: { operate: string; request_id: string; sn: string },
  ret: number,
  msg: string,
  extra: Record<string, unknown> = {},
): CameraReply {
  return { operate: `${req.operate}_rsp`, request_id: req.request_id, sn: req.sn, ret, msg, ...extra }
}

/**
 * Parses and checks one message from a camera: a request of C.4/C.5 with every field of its table (C.10 note
 * 2), or a `*_rsp` to one of the gateway's requests. The timestamp rule (C.2) is checked here too: a request
 * whose timestamp is `toleranceMs` or more from `now` is refused.
 */
export function parseCameraMessage(text: string, now: number, toleranceMs: number): ParsedMessage {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return { kind: 'invalid', reason: 'the message is not JSON', ret: CameraRet.malformed, reply: undefined }
  }
  if (!isObject(doc) || typeof doc.operate !== 'string' || doc.operate === '' || doc.operate.length > 64) {
    return {
      kind: 'invalid',
      reason: 'the message is not a JSON object with an operate string',
      ret: CameraRet.malformed,
      reply: undefined,
    }
  }
  const operate = doc.operate
  // What an error reply can echo, even from a message that fails the checks below.
  const echo = {
    operate,
    request_id: typeof doc.request_id === 'string' ? doc.request_id : '',
    sn: typeof doc.sn === 'string' ? doc.sn : '',
  }
  const refuse = (ret: number, reason: string): ParsedMessage => ({
    kind: 'invalid',
    reason,
    ret,
    reply: operate.endsWith('_rsp') ? undefined : replyTo(echo, ret, reason),
  })
  if (!isIdString(doc.request_id)) return refuse(CameraRet.malformed, 'request_id must be a non-empty string')
  if (!isIdString(doc.sn)) return refuse(CameraRet.malformed, 'sn must be a non-empty string')
  if (operate.endsWith('_rsp')) {
    const name = operate.slice(0, -4)
    if (!(SERVER_REQUESTS as readonly string[]).includes(name)) {
      return refuse(CameraRet.unknownOperate, `unknown reply ${operate}`)
    }
    if (!Number.isInteger(doc.ret)) return refuse(CameraRet.malformed, 'ret must be an integer')
    if (doc.msg !== undefined && typeof doc.msg !== 'string') {
      return refuse(CameraRet.malformed, 'msg must be a string')
    }
    return {
      kind: 'reply',
      reply: {
        ...doc,
        operate,
        request_id: doc.request_id,
        sn: doc.sn,
        ret: doc.ret as number,
        msg: doc.msg ?? '',
      },
    }
  }
  if (!(DEVICE_REQUESTS as readonly string[]).includes(operate)) {
    return refuse(CameraRet.unknownOperate, `unknown operate ${operate}`)
  }
  if (!Number.isSafeInteger(doc.timestamp)) {
    return refuse(CameraRet.malformed, 'timestamp must be an integer (seconds)')
  }
  const timestamp = doc.timestamp as number
  // C.2: valid only within five minutes of the receiver's clock ("five minutes or more" apart is invalid).
  if (Math.abs(now - timestamp * 1000) >= toleranceMs) {
    return refuse(
      CameraRet.staleTimestamp,
      `timestamp ${timestamp} is ${Math.round(toleranceMs / 1000)} s or more from gateway time ${Math.floor(now / 1000)}`,
    )
  }
  const envelope = { operate, request_id: doc.request_id, timestamp, sn: doc.sn }
  if (operate === 'upload_snapshot') {
    if (typeof doc.data !== 'string') return refuse(CameraRet.malformed, 'data must be a base64 string')
    return { kind: 'request', request: { ...envelope, operate, data: doc.data } }
  }
  return { kind: 'request', request: { ...envelope, operate: 'heartbeat' } }
}

export type ImageCheck =
  | { ok: true; bytes: Buffer; contentType: 'image/jpeg' | 'image/png' }
  | { ok: false; ret: number; msg: string }

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** The image type by its magic bytes: JPEG (FF D8 FF) or PNG; undefined for anything else. */
export function sniffImage(bytes: Buffer): 'image/jpeg' | 'image/png' | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg'
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_MAGIC)) return 'image/png'
  return undefined
}

/**
 * Decodes a snapshot's base64 `data` (C.5, C.9 take_snapshot): strict base64 (line breaks allowed), at most
 * `maxBytes` decoded, and a JPEG or PNG by its magic bytes. The size is checked before decoding.
 */
export function decodeImage(data: string, maxBytes: number): ImageCheck {
  const text = data.includes('\n') || data.includes('\r') ? data.replace(/[\r\n]/g, '') : data
  if (text.length === 0) return { ok: false, ret: CameraRet.invalidImage, msg: 'data is empty' }
  if (text.length % 4 !== 0 || !BASE64.test(text)) {
    return { ok: false, ret: CameraRet.invalidImage, msg: 'data is not valid base64' }
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const size = (text.length / 4) * 3 - padding
  if (size > maxBytes) {
    return {
      ok: false,
      ret: CameraRet.imageTooLarge,
      msg: `the image is ${size} bytes, more than the ${maxBytes} allowed`,
    }
  }
  const bytes = Buffer.from(text, 'base64')
  const contentType = sniffImage(bytes)
  if (!contentType) return { ok: false, ret: CameraRet.invalidImage, msg: 'data is not a JPEG or PNG image' }
  return { ok: true, bytes, contentType }
}

/** A server → device request with the gateway's current time (C.2: the rule holds both ways). */
export function encodeServerRequest(
  operate: ServerRequestName,
  requestId: string,
  sn: string,
  now: number,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return { operate, request_id: requestId, timestamp: Math.floor(now / 1000), sn, ...extra }
}

/** hb_interval range (C.4, C.7). */
export const HB_INTERVAL = { min: 15, max: 360, default: 60 } as const

export type FieldsCheck = { ok: true; fields: Record<string, unknown> } | { ok: false; msg: string }

/** set_dev_config's fields (C.7), range-checked before they are sent (C.7 gateway note). */
export function checkDevConfig(p: Record<string, unknown>): FieldsCheck {
  const { upload_type, upload_addr, hb_interval } = p
  if (upload_type !== 0 && upload_type !== 1)
    return { ok: false, msg: 'upload_type must be 0 (HTTP) or 1 (MQTT)' }
  if (typeof upload_addr !== 'string' || upload_addr.length > 1024) {
    return { ok: false, msg: 'upload_addr must be a string of at most 1024 characters' }
  }
  if (
    !Number.isInteger(hb_interval) ||
    (hb_interval as number) < HB_INTERVAL.min ||
    (hb_interval as number) > HB_INTERVAL.max
  ) {
    return { ok: false, msg: `hb_interval must be an integer from ${HB_INTERVAL.min} to ${HB_INTERVAL.max}` }
  }
  return { ok: true, fields: { upload_type, upload_addr, hb_interval } }
}

/** control_cmd's cmd_data (C.9): take_snapshot, or io_control with io0 / io1 (0 or 1). */
export function checkCmdData(cmd: unknown): FieldsCheck {
  if (!isObject(cmd)) return { ok: false, msg: 'cmd_data must be an object' }
  if (cmd.type === 'take_snapshot') return { ok: true, fields: { cmd_data: { type: 'take_snapshot' } } }
  if (cmd.type === 'io_control') {
    const out: Record<string, unknown> = { type: 'io_control' }
    for (const io of ['io0', 'io1'] as const) {
      if (cmd[io] === undefined) continue
      if (cmd[io] !== 0 && cmd[io] !== 1) return { ok: false, msg: `${io} must be 0 or 1` }
      out[io] = cmd[io]
    }
    if (Object.keys(out).length === 1) return { ok: false, msg: 'io_control needs io0 and/or io1' }
    return { ok: true, fields: { cmd_data: out } }
  }
  return { ok: false, msg: 'cmd_data.type must be take_snapshot or io_control' }
}

/** get_dev_config_rsp's configuration fields (C.6) that are present and well-typed. */
export function configOfReply(reply: CameraReply): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (typeof reply.mac === 'string') out.mac = reply.mac
  if (reply.upload_type === 0 || reply.upload_type === 1) out.upload_type = reply.upload_type
  if (typeof reply.upload_addr === 'string') out.upload_addr = reply.upload_addr
  if (Number.isInteger(reply.hb_interval)) out.hb_interval = reply.hb_interval
  if (Number.isSafeInteger(reply.run_time)) out.run_time = reply.run_time
  return out
}
