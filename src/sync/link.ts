// The connection to the cloud broker (mqtt.js). One client per connection attempt, so nothing of a dead
// connection (its in-flight publishes, its callbacks) leaks into the next: the sync engine resends from the
// outbox, which is the only queue. Reconnects back off exponentially with jitter, capped (issue 5: 30 s).
import { readFileSync } from 'node:fs'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { settleMqttPacketMemory } from '../broker/mqtt-packet-memory.ts'
import type { Logger } from '../logger.ts'
import type { UpstreamProfile } from './profile.ts'

export interface LinkOptions {
  url: string
  keepaliveSeconds: number
  initialBackoffMs: number
  maxBackoffMs: number
  ca?: string | undefined
  cert?: string | undefined
  key?: string | undefined
}

export interface LinkHandlers {
  /** Connected and subscribed: `client` is the live connection until `down` is called. */
  up(client: MqttClient): void
  down(reason: string): void
  /**
   * A message from the cloud. Its PUBACK is sent only once the returned promise settles, so a request is
   * acknowledged after the transaction that recorded it committed (ARCHITECTURE.md rule 2).
   */
  message(topic: string, payload: Buffer): Promise<void>
}

/** Wait before reconnect attempt n (1-based): initial × 2^(n−1), ±20 % jitter, capped. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 20))
  return Math.min(maxMs, Math.round(base * (0.8 + 0.4 * random())))
}

export class UpstreamLink {
  private client: MqttClient | undefined
  private attempts = 0
  private retryTimer: NodeJS.Timeout | undefined
  private stopped = true
  private connected = false

  constructor(
    private readonly options: LinkOptions,
    private readonly profile: UpstreamProfile,
    private readonly handlers: LinkHandlers,
    private readonly log: Logger,
  ) {}

  start(): void {
    // mqtt.js writes through the same mqtt-packet module as the broker; settled once per process.
    settleMqttPacketMemory()
    this.stopped = false
    this.connect()
  }

  /** Drops the connection now and makes a new one (the watchdog's remedy for a link that stopped acking). */
  restart(reason: string): void {
    if (this.stopped) return
    this.log.warn({ reason }, 'upstream connection restarted')
    this.lastError = reason
    this.dropClient(reason)
    this.scheduleReconnect()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    const client = this.client
    this.client = undefined
    if (client) {
      const wasConnected = this.connected
      this.connected = false
      if (wasConnected) this.handlers.down('stopped')
      await new Promise<void>((resolve) => client.end(true, {}, () => resolve()))
    }
  }

  private connect(): void {
    if (this.stopped) return
    const identity = this.profile.identity(Date.now())
    const o = this.options
    const opts: IClientOptions = {
      ...identity,
      protocolVersion: 4,
      // The cloud keeps our subscription (and queued requests) across a dropped connection.
      clean: false,
      keepalive: o.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      // No table of pre-built number Buffers (broker/mqtt-packet-memory.ts).
      writeCache: false,
      ...(o.ca ? { ca: readFileSync(o.ca) } : {}),
      ...(o.cert ? { cert: readFileSync(o.cert) } : {}),
      ...(o.key ? { key: readFileSync(o.key) } : {}),
    }
    let client: MqttClient
    try {
      client = mqtt.connect(o.url, opts)
    } catch (err) {
      this.log.error({ err }, 'upstream connection could not be made')
      this.scheduleReconnect()
      return
    }
    this.client = client
    client.handleMessage = (packet, done) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
      this.handlers
        .message(packet.topic, payload)
        .catch((err: unknown) =>
          this.log.error({ err, topic: packet.topic }, 'cloud message handling failed'),
        )
        .finally(() => done())
    }
    client.on('connect', () => {
      if (client !== this.client) return
      client.subscribe(this.profile.subscriptions(), { qos: 1 }, (err, granted) => {
        if (client !== this.client) return
        const refused = granted?.some((g) => g.qos === 128)
        if (err || refused) {
          this.restart(`subscription refused: ${err?.message ?? 'SUBACK 0x80'}`)
          return
        }
        this.attempts = 0
        this.connected = true
        this.log.info({ url: o.url }, 'upstream connected')
        this.handlers.up(client)
      })
    })
    client.on('error', (err) => {
      if (client !== this.client) return
      this.log.warn({ err: err.message }, 'upstream connection error')
      this.lastError = err.message
    })
    client.on('close', () => {
      if (client !== this.client) return
      this.dropClient(this.lastError ?? 'connection closed')
      this.scheduleReconnect()
    })
  }

  /** The latest error the connection reported (for the status page). */
  lastError: string | undefined

  private dropClient(reason: string): void {
    const client = this.client
    this.client = undefined
    if (this.connected) {
      this.connected = false
      this.handlers.down(reason)
    }
    client?.removeAllListeners('connect')
    client?.end(true)
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    clearTimeout(this.retryTimer)
    this.attempts += 1
    const wait = backoffMs(this.attempts, this.options.initialBackoffMs, this.options.maxBackoffMs)
    this.log.info({ attempt: this.attempts, waitMs: wait }, 'upstream reconnect scheduled')
    this.retryTimer = setTimeout(() => this.connect(), wait)
    this.retryTimer.unref()
  }
}
