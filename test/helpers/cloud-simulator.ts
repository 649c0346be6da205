// The cloud platform as the gateway sees it, on mqtt.js against the test's mosquitto: it subscribes to the
// gateway's data topics (json and deflated binary, README "Upstream sync"), keeps every record and reply in
// arrival order, and sends cloudReq commands and OneJSON invokes.
import { inflateSync } from 'node:zlib'
import mqtt, { type MqttClient } from 'mqtt'
import { waitFor } from './mqtt.ts'

export interface CloudRecord {
  serviceId: string
  serviceData: Record<string, unknown>
  eventTime: string
  deviceId: string | null
  kind: string
  idemKey: string
}

export interface CloudReply {
  topic: string
  body: Record<string, unknown>
}

export interface CloudSimulator {
  client: MqttClient
  /** Every record received, in arrival order (resent duplicates included). */
  records: CloudRecord[]
  /** deviceRsp / invoke_reply messages, in arrival order. */
  replies: CloudReply[]
  messages: { topic: string; bytes: number }[]
  /** Records by idempotency key, first arrival only. */
  unique(kind?: string): CloudRecord[]
  waitForUnique(n: number, kind?: string, timeoutMs?: number): Promise<CloudRecord[]>
  waitForReply(match: (r: CloudReply) => boolean, timeoutMs?: number): Promise<CloudReply>
  send(topic: string, payload: string | Buffer): Promise<void>
  close(): Promise<void>
}

/** Subscribes as a persistent session (clean false, fixed client id): what arrives while it is away waits. */
export async function simulateCloud(url: string, clientId = 'cloud-sim'): Promise<CloudSimulator> {
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 100, protocolVersion: 4 })
  const sim: CloudSimulator = {
    client,
    records: [],
    replies: [],
    messages: [],
    unique(kind) {
      const seen = new Set<string>()
      const out: CloudRecord[] = []
      for (const r of sim.records) {
        if (kind !== undefined && r.kind !== kind) continue
        if (seen.has(r.idemKey)) continue
        seen.add(r.idemKey)
        out.push(r)
      }
      return out
    },
    waitForUnique: (n, kind, timeoutMs = 20_000) =>
      waitFor(
        () => {
          const u = sim.unique(kind)
          return u.length >= n ? u : undefined
        },
        `${n} ${kind ?? ''} records at the cloud`,
        timeoutMs,
      ),
    waitForReply: (match, timeoutMs = 10_000) =>
      waitFor(() => sim.replies.find(match), 'a reply at the cloud', timeoutMs),
    send: (topic, payload) =>
      new Promise((resolve, reject) =>
        client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      ),
    close: () => new Promise((resolve) => client.end(true, {}, () => resolve())),
  }
  client.on('message', (topic, payload) => {
    sim.messages.push({ topic, bytes: payload.length })
    const text = topic.endsWith('/binary') ? inflateSync(payload).toString('utf8') : payload.toString('utf8')
    const doc = JSON.parse(text) as Record<string, unknown>
    if (doc.msgType === 'deviceReq') sim.records.push(...(doc.data as CloudRecord[]))
    else if (topic.endsWith('/thing/property/post')) {
      const params = doc.params as { records: { value: CloudRecord[] } }
      sim.records.push(...params.records.value)
    } else sim.replies.push({ topic, body: doc })
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  await new Promise<void>((resolve, reject) =>
    client.subscribe(
      [
        '/huawei/v1/devices/+/data/#',
        '$sys/+/+/thing/property/post',
        '$sys/+/+/thing/service/+/invoke_reply',
      ],
      { qos: 1 },
      (err) => (err ? reject(err) : resolve()),
    ),
  )
  return sim
}
