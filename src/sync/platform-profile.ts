// The platform profile (device-mqtt.md Part A): the gateway is one platform device. It signs in as a device
// connecting by deviceId (A.3), reports records as a deviceReq on its data topic (A.4) — JSON on
// `…/data/json`, or deflated on `…/data/binary` (A.2: `binary` is the codec-plug-in form; sitegate's codec is
// zlib over the same JSON) — answers with deviceRsp (A.6) carrying the cloud's mid, and takes cloudReq (A.5)
// from its command topic. A cloudReq names the local device it is for in a top-level `deviceId` field;
// `cmd: "SET_DESIRED"` sets that device's desired properties of `serviceId` to `paras` (README "Upstream sync").
import { deviceCredentials } from '../broker/credentials.ts'
import { parseJsonObject } from '../protocols/json-payload.ts'
import { commandTopic, dataTopic } from '../protocols/platform-mqtt.ts'
import type {
  CloudReply,
  CloudRequest,
  CloudRequestError,
  ConnectIdentity,
  OutgoingMessage,
  UpstreamProfile,
} from './profile.ts'
import { idField, isError, objectField } from './request-fields.ts'

export const SET_DESIRED_COMMAND = 'SET_DESIRED'

export class PlatformProfile implements UpstreamProfile {
  readonly name = 'platform'
  readonly canCompress = true

  constructor(
    private readonly deviceId: string,
    private readonly secret: string,
  ) {}

  identity(now: number): ConnectIdentity {
    // Connect by deviceId (authType 0) with the timestamp checked (signType 1): the cloud can refuse a replay.
    return deviceCredentials({ id: this.deviceId, secret: this.secret, authType: 0, signType: 1, now })
  }

  subscriptions(): string[] {
    return [commandTopic(this.deviceId, 'json')]
  }

  batchFrame(): { prefix: string; suffix: string } {
    return { prefix: '{"msgType":"deviceReq","data":[', suffix: ']}' }
  }

  batchTopic(compressed: boolean): string {
    return dataTopic(this.deviceId, compressed ? 'binary' : 'json')
  }

  reply(reply: CloudReply): OutgoingMessage {
    // A.6: errcode 0 success, 1 failure; the mid is the cloudReq's.
    return {
      topic: dataTopic(this.deviceId, 'json'),
      payload: JSON.stringify({
        msgType: 'deviceRsp',
        mid: Number(reply.ref.id),
        errcode: reply.success ? 0 : 1,
        body: reply.body,
      }),
    }
  }

  decodeRequest(_topic: string, payload: Buffer): CloudRequest | CloudRequestError {
    const parsed = parseJsonObject(payload)
    if (!parsed.ok) return { ref: undefined, error: parsed.error }
    const doc = parsed.value
    const mid = doc.mid
    const ref =
      Number.isInteger(mid) && (mid as number) >= 1 && (mid as number) <= 65535
        ? { id: String(mid) }
        : undefined
    if (!ref) return { ref, error: 'mid must be an integer from 1 to 65535 (A.5)' }
    if (doc.msgType !== 'cloudReq') return { ref, error: 'msgType must be "cloudReq" (A.5)' }
    const deviceId = idField(doc, 'deviceId')
    const serviceId = idField(doc, 'serviceId')
    const method = idField(doc, 'cmd')
    const paras = objectField(doc, 'paras')
    for (const v of [deviceId, serviceId, method, paras]) if (isError(v)) return { ref, error: v.error }
    const fields = { ref, deviceId: deviceId as string, serviceId: serviceId as string }
    if (method === SET_DESIRED_COMMAND)
      return { kind: 'desired', ...fields, desired: paras as Record<string, unknown> }
    return { kind: 'command', ...fields, method: method as string, paras: paras as Record<string, unknown> }
  }
}
