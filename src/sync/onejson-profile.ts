// The OneJSON profile (device-mqtt.md Part B, seed 001): the gateway is one OneNET thing-model device. It signs
// in with the OneNET token (src/protocols/onejson.ts), takes service invocations from the cloud on
// `$sys/{pid}/{name}/thing/service/+/invoke` (B.2) and answers each on its invoke_reply topic (B.3) with the
// invoke's id. Records go up as a property report on `$sys/{pid}/{name}/thing/property/post` — the OneNET
// thing-model convention; the seed documents only service invocation — with the records as the value of the
// `records` property. JSON only: this profile has no binary form, so batches are never deflated.
// An invoke's identifier is the command name; its params name the local device, the service and the
// parameters: {"deviceId", "serviceId", "paras"}. Identifier `SET_DESIRED` sets desired properties.
import { parseJsonObject } from '../protocols/json-payload.ts'
import { invokeFilter, invokeTopic, oneJsonToken, parseOneJsonTopic } from '../protocols/onejson.ts'
import { SET_DESIRED_COMMAND } from './platform-profile.ts'
import type {
  CloudReply,
  CloudRequest,
  CloudRequestError,
  ConnectIdentity,
  OutgoingMessage,
  UpstreamProfile,
} from './profile.ts'
import { idField, isError, objectField } from './request-fields.ts'

/** A token stays valid this long; the link signs in again with a fresh one on every connect. */
const TOKEN_LIFETIME_S = 7 * 86_400
/** B.2: an id is digits, at most 13 characters. */
const ID_PATTERN = /^\d{1,13}$/

export class OneJsonProfile implements UpstreamProfile {
  readonly name = 'onejson'
  readonly canCompress = false
  private lastId = 0

  constructor(
    private readonly pid: string,
    private readonly deviceName: string,
    private readonly secret: string,
  ) {}

  identity(now: number): ConnectIdentity {
    const expiresAt = Math.floor(now / 1000) + TOKEN_LIFETIME_S
    return {
      clientId: this.deviceName,
      username: this.pid,
      password: oneJsonToken({ pid: this.pid, deviceName: this.deviceName, secret: this.secret, expiresAt }),
    }
  }

  subscriptions(): string[] {
    return [invokeFilter(this.pid, this.deviceName)]
  }

  batchFrame(): { prefix: string; suffix: string } {
    return {
      prefix: `{"id":"${this.nextId()}","version":"1.0","params":{"records":{"value":[`,
      suffix: ']}}}',
    }
  }

  batchTopic(): string {
    return `$sys/${this.pid}/${this.deviceName}/thing/property/post`
  }

  reply(reply: CloudReply): OutgoingMessage {
    // B.3 (B.4 note 1: 200 is success).
    const identifier = reply.ref.identifier ?? SET_DESIRED_COMMAND
    const topic = `${invokeTopic(this.pid, this.deviceName, identifier)}_reply`
    const body = reply.success
      ? { id: reply.ref.id, code: 200, msg: 'success', data: reply.body }
      : { id: reply.ref.id, code: 500, msg: String(reply.body.error_desc ?? 'failed'), data: reply.body }
    return { topic, payload: JSON.stringify(body) }
  }

  decodeRequest(topic: string, payload: Buffer): CloudRequest | CloudRequestError {
    const parsed = parseOneJsonTopic(topic)
    if (parsed?.kind !== 'invoke') return { ref: undefined, error: `not an invoke topic: ${topic}` }
    const doc = parseJsonObject(payload)
    if (!doc.ok) return { ref: undefined, error: doc.error }
    const id = doc.value.id
    if (typeof id !== 'string' || !ID_PATTERN.test(id))
      return { ref: undefined, error: 'id must be a string of 1 to 13 digits (B.2)' }
    const ref = { id, identifier: parsed.identifier }
    const params = objectField(doc.value, 'params')
    if (isError(params)) return { ref, error: params.error }
    const deviceId = idField(params, 'deviceId')
    const serviceId = idField(params, 'serviceId')
    const paras = objectField(params, 'paras')
    for (const v of [deviceId, serviceId, paras]) if (isError(v)) return { ref, error: `params.${v.error}` }
    const fields = { ref, deviceId: deviceId as string, serviceId: serviceId as string }
    if (parsed.identifier === SET_DESIRED_COMMAND)
      return { kind: 'desired', ...fields, desired: paras as Record<string, unknown> }
    return { kind: 'command', ...fields, method: parsed.identifier, paras: paras as Record<string, unknown> }
  }

  /** Message ids: digits, increasing, ≤ 13 characters (milliseconds since 1970 have 13 digits until 2286). */
  private nextId(): string {
    this.lastId = Math.max(this.lastId + 1, Date.now())
    return String(this.lastId)
  }
}
