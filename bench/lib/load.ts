// MQTT load generator: one mqtt.js client per device, each publishing QoS 1 deviceReq messages with a bounded
// number unacknowledged. Runs in this thread (`workers` 0) or split over worker threads.
import type { Socket } from 'node:net'
import { Worker } from 'node:worker_threads'
import mqtt, { type MqttClient } from 'mqtt'
import { nowMs } from './proc.ts'

export interface DeviceSpec {
  /** The id in the device's topics (the gateway's deviceId). */
  id: string
  clientId: string
  username?: string
  password?: string
  topic: string
}

export interface LoadOptions {
  url: string
  devices: DeviceSpec[]
  /** Most unacknowledged publishes per client. */
  window: number
}

export interface PhaseResult {
  acked: number
  /** Monotonic ms (nowMs) of the first publish and of the last PUBACK. */
  firstPublishAt: number
  lastAckAt: number
}

interface Sender {
  conn: MqttClient
  topic: string
  payload: (k: number) => Buffer
  /** Index of the device's next sample (continues across phases). */
  next: number
}

export interface Load {
  /** Every client publishes `messages` messages; resolves when all are acknowledged. */
  run(messages: number): Promise<PhaseResult>
  close(): Promise<void>
}

const VALUE_VARIANTS = 256
const TIME_PLACEHOLDER = '@@@@@@@@@@@@@@@@' // as long as an eventTime
/** Sample times: one per second per device, ending about now (for runs of up to a day of messages). */
const FIRST_SAMPLE_MS = Date.now() - 86_400_000
const eventTimes: string[] = []

/** `yyyyMMdd'T'HHmmss'Z'` (device-mqtt.md A.4) of the k-th sample of a device. */
function eventTimeOf(k: number): string {
  let text = eventTimes[k]
  if (text === undefined) {
    text = `${new Date(FIRST_SAMPLE_MS + k * 1000).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`
    eventTimes[k] = text
  }
  return text
}

/**
 * Realistic deviceReq payloads of one device (2 services, 5 properties each, about 350 bytes): the k-th has
 * sample values of one of 256 precomputed variants and eventTime of sample k, so that, as with real devices,
 * each device's eventTime increases (the telemetry index is (device, eventTime): cycling times would make
 * every insert a random one).
 */
export function payloadSource(seed: number): (k: number) => Buffer {
  let x = seed * 2654435761 + 1
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x / 2147483648
  }
  const round = (v: number, digits: number) => Number(v.toFixed(digits))
  const templates = Array.from({ length: VALUE_VARIANTS }, () => {
    const doc = {
      msgType: 'deviceReq',
      data: [
        {
          serviceId: 'Environment',
          serviceData: {
            temperature: round(15 + rnd() * 20, 2),
            humidity: round(30 + rnd() * 50, 1),
            pm25: Math.round(rnd() * 150),
            noise: round(40 + rnd() * 50, 1),
            windSpeed: round(rnd() * 15, 1),
          },
          eventTime: TIME_PLACEHOLDER,
        },
        {
          serviceId: 'Battery',
          serviceData: {
            batteryLevel: Math.round(rnd() * 100),
            batteryVoltage: round(3.3 + rnd() * 0.9, 2),
            charging: rnd() > 0.5,
            signalStrength: -50 - Math.round(rnd() * 50),
            cellId: String(4600 + Math.round(rnd() * 100)),
          },
          eventTime: TIME_PLACEHOLDER,
        },
      ],
    }
    const bytes = Buffer.from(JSON.stringify(doc))
    const first = bytes.indexOf(TIME_PLACEHOLDER)
    return { bytes, first, second: bytes.indexOf(TIME_PLACEHOLDER, first + 1) }
  })
  return (k) => {
    const t = templates[k % VALUE_VARIANTS]!
    const buf = Buffer.allocUnsafe(t.bytes.length)
    t.bytes.copy(buf)
    const at = eventTimeOf(k)
    buf.write(at, t.first, 'latin1')
    buf.write(at, t.second, 'latin1')
    return buf
  }
}

/**
 * One device's MQTT 3.1.1 connection (clean session, no reconnect, no debug logging); `noDelay` turns Nagle's
 * algorithm off on the client's socket (latency benchmarks: else a small write waits for the peer's delayed ACK).
 */
export function connect(url: string, device: DeviceSpec, noDelay = false): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId: device.clientId,
      ...(device.username === undefined ? {} : { username: device.username }),
      ...(device.password === undefined ? {} : { password: device.password }),
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // mqtt.js calls its debug logger several times per packet; a no-op saves the load generator ~7% CPU.
      log: () => {},
    })
    client.once('connect', () => {
      if (noDelay) (client.stream as Socket).setNoDelay(true)
      resolve(client)
    })
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
  })
}

/**
 * Publishes `total` messages keeping at most `window` unacknowledged; resolves at the last PUBACK. Refills
 * after PUBACKs are batched per event-loop turn inside one cork, so that a turn costs one writev rather than
 * one per message (mqtt.js handles each incoming packet in its own tick and flushes each publish alone).
 */
function drive(client: Sender, total: number, window: number) {
  return new Promise<void>((resolve, reject) => {
    const { conn, topic, payload } = client
    let sent = 0
    let acked = 0
    let refillScheduled = false
    const send = () => {
      conn.publish(topic, payload(client.next++), { qos: 1 }, onAck)
      sent += 1
    }
    const refill = () => {
      refillScheduled = false
      conn.stream.cork()
      while (sent < total && sent - acked < window) send()
      conn.stream.uncork()
    }
    function onAck(err?: Error) {
      if (err) return reject(err)
      acked += 1
      if (acked === total) resolve()
      else if (sent < total && !refillScheduled) {
        refillScheduled = true
        setImmediate(refill)
      }
    }
    if (total === 0) resolve()
    else refill()
  })
}

/** The load generator in this thread. */
export async function connectLoad(opts: LoadOptions): Promise<Load> {
  const clients: Sender[] = await Promise.all(
    opts.devices.map(async (d, i) => ({
      conn: await connect(opts.url, d),
      topic: d.topic,
      payload: payloadSource(i + 1),
      next: 0,
    })),
  )
  return {
    async run(messages) {
      const firstPublishAt = nowMs()
      let lastAckAt = firstPublishAt
      await Promise.all(
        clients.map((c) =>
          drive(c, messages, opts.window).then(() => {
            lastAckAt = Math.max(lastAckAt, nowMs())
          }),
        ),
      )
      return { acked: messages * clients.length, firstPublishAt, lastAckAt }
    },
    async close() {
      await Promise.all(clients.map((c) => c.conn.endAsync()))
    },
  }
}

type WorkerReply = { ok: true; result?: PhaseResult } | { ok: false; error: string }

/** The load generator split over `workers` worker threads (devices dealt round-robin). */
export async function startLoad(opts: LoadOptions, workers: number): Promise<Load> {
  if (workers <= 0) return connectLoad(opts)
  const threads = Array.from({ length: Math.min(workers, opts.devices.length) }, (_, w) => {
    const devices = opts.devices.filter((_, i) => i % workers === w)
    // Node 20 workers do not inherit tsx's loader hooks: register them before importing the TS entry.
    const entry = JSON.stringify(new URL('./load-worker.ts', import.meta.url).href)
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
    const code = `import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}) })`
    return new Worker(code, { eval: true, workerData: { ...opts, devices } })
  })
  const ask = (worker: Worker, message: unknown) =>
    new Promise<PhaseResult | undefined>((resolve, reject) => {
      worker.once('message', (reply: WorkerReply) =>
        reply.ok ? resolve(reply.result) : reject(new Error(reply.error)),
      )
      worker.once('error', reject)
      if (message !== undefined) worker.postMessage(message)
    })
  await Promise.all(threads.map((t) => ask(t, undefined))) // connected
  return {
    async run(messages) {
      const results = (await Promise.all(threads.map((t) => ask(t, { run: messages })))) as PhaseResult[]
      return {
        acked: results.reduce((n, r) => n + r.acked, 0),
        firstPublishAt: Math.min(...results.map((r) => r.firstPublishAt)),
        lastAckAt: Math.max(...results.map((r) => r.lastAckAt)),
      }
    },
    async close() {
      await Promise.all(threads.map((t) => ask(t, { close: true })))
      await Promise.all(threads.map((t) => t.terminate()))
    },
  }
}
