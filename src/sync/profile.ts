// What differs between cloud platforms: how the gateway signs in, which topics it uses, how a batch of records
// and a command result are framed, and how a request from the cloud is read. The sync engine is the same for
// every profile (README "Upstream sync" documents both envelopes exactly).

/** The kinds of record the gateway sends up, one per outbox row kind family. */
export type RecordKind = 'telemetry' | 'shadow' | 'commandResult' | 'event' | 'snapshot'

/**
 * One record as it goes up: a ServiceData entry (device-mqtt.md A.4) tagged with the local device it is about,
 * its kind and its idempotency key (the cloud drops a record whose key it has already seen).
 */
export interface UpstreamRecord {
  serviceId: string
  serviceData: Record<string, unknown>
  /** yyyyMMdd'T'HHmmss'Z' (A.4). */
  eventTime: string
  deviceId: string | null
  kind: RecordKind
  idemKey: string
}

/** Where a cloud request came from, to address the answer: a cloudReq mid, or a OneJSON invoke id. */
export interface CloudRef {
  /** The platform's mid (1–65535), or the OneJSON id (digits, ≤ 13). */
  id: string
  /** OneJSON: the invoked service identifier (the reply goes to its invoke_reply topic). */
  identifier?: string
}

/** A request from the cloud, validated. */
export type CloudRequest =
  | {
      kind: 'command'
      ref: CloudRef
      deviceId: string
      serviceId: string
      method: string
      paras: Record<string, unknown>
    }
  | {
      kind: 'desired'
      ref: CloudRef
      deviceId: string
      serviceId: string
      desired: Record<string, unknown>
    }

/** A downlink that could not be read: answered with this error when it carried a usable reference. */
export interface CloudRequestError {
  ref: CloudRef | undefined
  error: string
}

/** The answer owed to a cloud request: success, or failure with what to tell the cloud. */
export interface CloudReply {
  ref: CloudRef
  success: boolean
  body: Record<string, unknown>
}

export interface ConnectIdentity {
  clientId: string
  username: string
  password: string
}

export interface OutgoingMessage {
  topic: string
  payload: Buffer | string
}

export interface UpstreamProfile {
  readonly name: 'platform' | 'onejson'
  /** Whether a batch may be deflated (the profile has a binary payload form). */
  readonly canCompress: boolean
  identity(now: number): ConnectIdentity
  /** Topic filters to subscribe to after every connect. */
  subscriptions(): string[]
  /** The JSON text of a batch message, before any compression: `prefix + records.join(',') + suffix`. */
  batchFrame(): { prefix: string; suffix: string }
  /** Where a batch goes; `compressed`: the payload is the zlib (RFC 1950) stream of the JSON text. */
  batchTopic(compressed: boolean): string
  /** The message that answers a cloud request. */
  reply(reply: CloudReply): OutgoingMessage
  /** Reads a message the cloud sent on a subscribed topic. */
  decodeRequest(topic: string, payload: Buffer): CloudRequest | CloudRequestError
}
