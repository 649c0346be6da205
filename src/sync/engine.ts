// The drain: outbox rows → MQTT messages to the cloud, deleted only after the broker's PUBACK (issue 5,
// ARCHITECTURE.md rule 3). Messages are built off the main thread (drain-channel.ts, hosted by the ingest writer
// thread); this side keeps the connection's in-flight window, publishes in the order messages were built, and has
// the writer thread delete what was acknowledged. The outbox is the only queue: after any reconnect the drain reads again from the start
// of every lane, so a row whose message died with a connection goes again (same idempotency keys).
import type { MessagePort } from 'node:worker_threads'
import type { MqttClient } from 'mqtt'
import type { LedgerWriter } from '../commands/service.ts'
import type { Logger } from '../logger.ts'
import type { DrainChannelData, FromDrain, ToDrain } from './drain-channel.ts'
import type { BuiltMessage } from './message-builder.ts'

interface InFlight extends BuiltMessage {
  sentAt: number
}

export interface DrainTotals {
  messages: number
  rows: number
  records: number
  /** Bytes of record JSON before compression. */
  rawBytes: number
  /** Payload bytes published. */
  wireBytes: number
}

const REATTACH_DELAY_MS = 1000
/** How long a new builder may take to open its database: at the start (a loaded machine), after a restart. */
const START_TIMEOUT_MS = 30_000
const REATTACH_TIMEOUT_MS = 5000

/** Hosts the message builder off the main thread (the ingest writer thread: telemetry/ingest.ts). */
export interface DrainHost {
  openDrainChannel(data: DrainChannelData): Promise<MessagePort>
}

export class DrainEngine {
  private port: MessagePort | undefined
  private stopping = false
  private client: MqttClient | undefined
  /** Bumped at every connect and disconnect: what was built or sent for an older connection is let go. */
  private generation = 0
  private readonly inflight = new Set<InFlight>()
  private snapshotRowsInFlight = 0
  /** Messages asked of the message builder and not yet answered, and the request they belong to. */
  private requested = 0
  private request = 0
  private readonly requests = new Map<number, { generation: number; n: number }>()
  /** A wake came while a request was out: its answer may have missed new rows. */
  private wokenDuringRequest = false
  readonly totals: DrainTotals = { messages: 0, rows: 0, records: 0, rawBytes: 0, wireBytes: 0 }
  /** Told after each acknowledged message: rows and records it carried. */
  onAcked: (rows: number, records: number) => void = () => {}

  constructor(
    private readonly channelData: DrainChannelData,
    private readonly writer: LedgerWriter & DrainHost,
    private readonly inflightMessages: number,
    private readonly log: Logger,
  ) {}

  /** Opens the channel to the message builder; resolves once the builder has opened the database. */
  async start(): Promise<void> {
    this.stopping = false
    await this.attach()
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.down()
    this.port?.close()
    this.port = undefined
  }

  /**
   * Opens a channel and waits for the builder's "ready". A channel that closes first, or stays silent for
   * `timeoutMs` (posted to a writer thread that was just terminating), is given up: the caller tries again.
   */
  private async attach(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const port = await this.writer.openDrainChannel(this.channelData)
    // The channel does not keep the process alive (the writer thread decides that).
    port.unref()
    let ready = false
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        port.close()
        reject(new Error(`no answer from the message builder within ${timeoutMs} ms`))
      }, timeoutMs)
      port.on('message', (msg: FromDrain) => {
        if (msg.type === 'ready') {
          ready = true
          // Set before anything else can happen on the port: a close from here on is this channel's loss.
          this.port = port
          clearTimeout(timer)
          resolve()
        } else if (msg.type === 'fatal') {
          clearTimeout(timer)
          reject(new Error(`upstream message builder: ${msg.error}`))
        } else this.answered(msg)
      })
      port.once('close', () => {
        if (ready) return this.channelLost(port)
        clearTimeout(timer)
        reject(new Error('the message builder channel closed before the builder was ready'))
      })
    })
  }

  /**
   * The writer thread exited (it is restarted): the builder went with it. Requests it had are forgotten; a new
   * builder starts from the oldest row of every lane, as after a reconnect (rows in flight may go twice, with
   * their idempotency keys).
   */
  private channelLost(port: MessagePort): void {
    if (this.stopping || port !== this.port) return
    this.port = undefined
    this.requests.clear()
    this.requested = 0
    this.log.warn('upstream message builder lost with the writer thread; opening it again')
    this.reattach()
  }

  /** Opens the builder again once the writer thread is back (tried every second until it is, or until stop). */
  private reattach(): void {
    if (this.stopping) return
    this.attach(REATTACH_TIMEOUT_MS).then(
      () => {
        this.post({ type: 'reset' })
        this.fill()
      },
      (err: unknown) => {
        this.log.warn({ err }, 'upstream message builder not open yet; the outbox is kept')
        setTimeout(() => this.reattach(), REATTACH_DELAY_MS).unref()
      },
    )
  }

  get inflightCount(): number {
    return this.inflight.size
  }

  /** The oldest unacknowledged publish (epoch ms), for the watchdog. */
  oldestUnacked(): number | undefined {
    let oldest: number | undefined
    for (const m of this.inflight) if (oldest === undefined || m.sentAt < oldest) oldest = m.sentAt
    return oldest
  }

  /** Link up: the drain starts at once, from the start of every lane. */
  up(client: MqttClient): void {
    this.generation += 1
    this.client = client
    this.inflight.clear()
    this.snapshotRowsInFlight = 0
    this.post({ type: 'reset' })
    this.fill()
  }

  /** Link down: whatever was in flight is unacknowledged and will be read again at the next `up`. */
  down(): void {
    this.generation += 1
    this.client = undefined
    this.inflight.clear()
    this.snapshotRowsInFlight = 0
  }

  /** Something was written to the outbox (or may have been): look again. */
  wake(): void {
    this.post({ type: 'wake' })
    if (this.requested > 0) this.wokenDuringRequest = true
    else this.fill()
  }

  private post(msg: ToDrain): void {
    this.port?.postMessage(msg)
  }

  /** Asks for as many messages as the in-flight window has room for. */
  private fill(): void {
    if (!this.client || !this.port) return
    const n = this.inflightMessages - this.inflight.size - this.requested
    if (n <= 0) return
    this.request += 1
    this.requested += n
    this.requests.set(this.request, { generation: this.generation, n })
    this.wokenDuringRequest = false
    this.post({ type: 'build', request: this.request, n, snapshotRowsInFlight: this.snapshotRowsInFlight })
  }

  private answered(msg: Exclude<FromDrain, { type: 'ready' | 'fatal' }>): void {
    const request = this.requests.get(msg.request)
    this.requests.delete(msg.request)
    // A request is answered at once: its share of `requested` is released however many messages came back.
    this.requested -= request?.n ?? 0
    if (msg.type === 'failed' || request?.generation !== this.generation) {
      if (this.client) this.fill()
      return
    }
    for (const message of msg.messages) {
      if (message.topic === '') this.ack(message, false)
      else this.send(message)
    }
    // More may be waiting when the thread filled the request, or when rows came in while it was out.
    if (msg.messages.length > 0 || this.wokenDuringRequest) this.fill()
  }

  private send(message: BuiltMessage): void {
    const client = this.client as MqttClient
    const generation = this.generation
    const payload = typeof message.payload === 'string' ? message.payload : Buffer.from(message.payload)
    const flight: InFlight = { ...message, sentAt: Date.now() }
    this.inflight.add(flight)
    this.snapshotRowsInFlight += message.snapshotRows
    client.publish(message.topic, payload, { qos: 1 }, (err) => {
      if (err || generation !== this.generation) return
      this.inflight.delete(flight)
      this.snapshotRowsInFlight -= message.snapshotRows
      this.totals.messages += 1
      this.totals.wireBytes += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
      this.totals.rawBytes += message.rawBytes
      this.ack(message, true)
    })
  }

  /** PUBACK received (or nothing to send): the rows go, and the window has room for another message. */
  private ack(message: BuiltMessage, refill: boolean): void {
    this.writer
      .execute('outbox.ack', { runs: message.runs })
      .then(() => {
        this.totals.rows += message.rows
        this.totals.records += message.records
        this.onAcked(message.rows, message.records)
      })
      .catch((err: unknown) => this.log.error({ err }, 'deleting acknowledged outbox rows failed'))
    if (refill) this.fill()
  }
}
