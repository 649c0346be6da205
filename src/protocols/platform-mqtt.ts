// The platform's device-side MQTT protocol (spec device-mqtt.md Part A): topics and the JSON messages
// deviceReq (A.4), cloudReq (A.5) and deviceRsp (A.6). Pure functions: wire bytes ⇄ validated values.
import { parsePlatformTime } from '../time.ts'
import { type Decoded, fail, isPlainObject, parseJsonObject } from './json-payload.ts'

export type CodecMode = 'json' | 'binary'

const TOPIC_PREFIX = '/huawei/v1/devices/'
const MAX_SERVICES_PER_MESSAGE = 100
const MAX_ID_LENGTH = 256

/** `/huawei/v1/devices/{id}/data/{codecMode}` (A.2): device → gateway. */
export const dataTopic = (id: string, codec: CodecMode = 'json'): string =>
  `${TOPIC_PREFIX}${id}/data/${codec}`

/** `/huawei/v1/devices/{id}/command/{codecMode}` (A.2): gateway → device. */
export const commandTopic = (id: string, codec: CodecMode = 'json'): string =>
  `${TOPIC_PREFIX}${id}/command/${codec}`

export interface DeviceTopic {
  id: string
  kind: 'data' | 'command'
  codec: CodecMode
}

/** Parses a platform device topic; undefined for any other topic (wildcards included). */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  if (!topic.startsWith(TOPIC_PREFIX)) return undefined
  const parts = topic.slice(TOPIC_PREFIX.length).split('/')
  if (parts.length !== 3) return undefined
  const [id, kind, codec] = parts as [string, string, string]
  if (id.length === 0 || id === '+' || id === '#') return undefined
  if (kind !== 'data' && kind !== 'command') return undefined
  if (codec !== 'json' && codec !== 'binary') return undefined
  return { id, kind, codec }
}

export interface ServiceData {
  serviceId: string
  serviceData: Record<string, unknown>
  /** Epoch ms of collection; the gateway's receive time when absent or malformed (A.4). */
  eventTime: number
  /** Where eventTime came from: the device's valid `eventTime`, or the receive time because it was absent or
   * not in yyyyMMdd'T'HHmmss'Z' form. */
  eventTimeSource: 'device' | 'absent' | 'malformed'
}

export interface DeviceReq {
  msgType: 'deviceReq'
  data: ServiceData[]
}

export interface DeviceRsp {
  msgType: 'deviceRsp'
  mid: number
  errcode: number
  body: Record<string, unknown> | undefined
}

export type Uplink = DeviceReq | DeviceRsp
export type { Decoded }

/** Decodes a JSON message a device published on its data topic. */
export function decodeUplink(payload: Buffer | string, receivedAt: number): Decoded<Uplink> {
  const parsed = parseJsonObject(payload)
  if (!parsed.ok) return parsed
  const doc = parsed.value
  if (doc.msgType === 'deviceReq') return decodeDeviceReq(doc, receivedAt)
  if (doc.msgType === 'deviceRsp') return decodeDeviceRsp(doc)
  return fail(`msgType must be "deviceReq" or "deviceRsp", got ${JSON.stringify(doc.msgType) ?? 'nothing'}`)
}

function decodeDeviceReq(doc: Record<string, unknown>, receivedAt: number): Decoded<DeviceReq> {
  const list = doc.data
  if (!Array.isArray(list)) return fail('deviceReq.data must be an array of ServiceData')
  if (list.length === 0) return fail('deviceReq.data is empty')
  if (list.length > MAX_SERVICES_PER_MESSAGE) {
    return fail(`deviceReq.data has ${list.length} entries, at most ${MAX_SERVICES_PER_MESSAGE} are accepted`)
  }
  const data: ServiceData[] = []
  for (const [i, entry] of list.entries()) {
    if (!isPlainObject(entry)) return fail(`deviceReq.data[${i}] is not an object`)
    const { serviceId, serviceData, eventTime } = entry
    if (typeof serviceId !== 'string' || serviceId.length === 0 || serviceId.length > MAX_ID_LENGTH) {
      return fail(`deviceReq.data[${i}].serviceId must be a string of 1-${MAX_ID_LENGTH} characters`)
    }
    if (!isPlainObject(serviceData)) return fail(`deviceReq.data[${i}].serviceData must be a JSON object`)
    let at = receivedAt
    let source: ServiceData['eventTimeSource'] = 'absent'
    if (eventTime !== undefined && eventTime !== null) {
      const parsed = typeof eventTime === 'string' ? parsePlatformTime(eventTime) : undefined
      if (parsed === undefined) source = 'malformed'
      else [at, source] = [parsed, 'device']
    }
    data.push({ serviceId, serviceData, eventTime: at, eventTimeSource: source })
  }
  return { ok: true, value: { msgType: 'deviceReq', data } }
}

function decodeDeviceRsp(doc: Record<string, unknown>): Decoded<DeviceRsp> {
  const { mid, errcode, body } = doc
  if (!Number.isInteger(mid) || (mid as number) < 1 || (mid as number) > 65535) {
    return fail('deviceRsp.mid must be an integer 1-65535')
  }
  if (!Number.isInteger(errcode)) return fail('deviceRsp.errcode must be an integer')
  if (body !== undefined && body !== null && !isPlainObject(body))
    return fail('deviceRsp.body must be a JSON object')
  return {
    ok: true,
    value: { msgType: 'deviceRsp', mid: mid as number, errcode: errcode as number, body: body ?? undefined },
  }
}
