// The drain: outbox rows → MQTT messages to the cloud, deleted only after the broker's PUBACK (issue 5,
// ARCHITECTURE.md rule 3). The outbox is the only queue: after any reconnect the engine reads again from the
// start of every lane, so a row whose message died with a connection goes again (same idempotency keys).
import { promisify } from 'node:util'
import { deflate } from 'node:zlib'
import type { MqttClient } from 'mqtt'
import type { LedgerWriter } from '../commands/service.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import { LANES, type LaneNumber, type OutboxReadRow } from '../store/repos/outbox.ts'
import type { CloudReply, UpstreamProfile } from './profile.ts'
import { contentOf, type RowContent, type SnapshotReader } from './records.ts'
import type { OutboxRun } from './sync-ops.ts'

const deflateAsync = promisify(deflate)

/** Rows read from a lane at a time. */
const READ_AHEAD = 1000
/** Snapshot rows are read a few at a time: their images are large. */
const SNAPSHOT_READ_AHEAD = 8
const SNAPSHOT_LANE: LaneNumber = 4

export interface DrainOptions {
  compress: boolean
  maxMessageBytes: number
  inflightMessages: number
  ackTimeoutMs: number
}

interface Buffered {
  row: OutboxReadRow
  content?: RowContent
}

interface Outgoing {
  id: number
  /** The rows carried, as one run of sequence numbers per lane (rows of a lane are read in order). */
  runs: OutboxRun[]
  rows: number
  /** Records the message carries (0 for a reply). */
  records: number
  rawBytes: number
  topic: string
  payload: Promise<Buffer | string>
  snapshotRows: number
  sentAt: number | undefined
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

export class DrainEngine {
  private client: MqttClient | undefined
  /** Bumped at every connect and disconnect: late callbacks of an older connection are ignored. */
  private generation = 0
  private readonly cursors: number[] = []
  private readonly buffers: Buffered[][] = []
  private readonly exhausted: boolean[] = []
  private readonly inflight = new Map<number, Outgoing>()
  private snapshotRowsInFlight = 0
  private sendChain: Promise<void> = Promise.resolve()
  private scheduled = false
  private nextId = 1
  readonly totals: DrainTotals = { messages: 0, rows: 0, records: 0, rawBytes: 0, wireBytes: 0 }
  /** Told after each acknowledged message: rows and records it carried. */
  onAcked: (rows: number, records: number) => void = () => {}

  constructor(
    private readonly store: Store,
    private readonly writer: LedgerWriter,
    private readonly profile: UpstreamProfile,
    private readonly options: DrainOptions,
    private readonly log: Logger,
    private readonly snapshots?: SnapshotReader,
  ) {
    this.resetCursors()
  }

  get inflightCount(): number {
    return this.inflight.size
  }

  /** The oldest unacknowledged publish (epoch ms), for the watchdog. */
  oldestUnacked(): number | undefined {
    let oldest: number | undefined
    for (const m of this.inflight.values()) {
      if (m.sentAt !== undefined && (oldest === undefined || m.sentAt < oldest)) oldest = m.sentAt
    }
    return oldest
  }

  /** Link up: the drain starts at once, from the start of every lane. */
  up(client: MqttClient): void {
    this.generation += 1
    this.client = client
    this.resetCursors()
    this.inflight.clear()
    this.snapshotRowsInFlight = 0
    this.sendChain = Promise.resolve()
    this.pump()
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
    this.exhausted.fill(false)
    if (this.scheduled || !this.client) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.pump()
    })
  }

  /** Sends an answer to a cloud request that is not in the outbox (a request that could not be read). */
  publishReply(reply: CloudReply): void {
    const message = this.profile.reply(reply)
    this.client?.publish(message.topic, message.payload, { qos: 1 })
  }

  private resetCursors(): void {
    for (const lane of LANES) {
      this.cursors[lane] = lane === SNAPSHOT_LANE ? Number.MAX_SAFE_INTEGER : 0
      this.buffers[lane] = []
      this.exhausted[lane] = false
    }
  }

  private pump(): void {
    while (this.client && this.inflight.size < this.options.inflightMessages) {
      const message = this.build()
      if (!message) return
      if (message.records === 0 && message.topic === '') {
        // Only rows with nothing left to send (their history chunk is gone): acknowledge them as they are.
        this.ack(message)
        continue
      }
      this.send(message)
    }
  }

  /** The next buffered row of a lane, reading ahead from the store when the buffer is empty. */
  private peek(lane: LaneNumber): Buffered | undefined {
    const buffer = this.buffers[lane] as Buffered[]
    if (buffer.length === 0 && !this.exhausted[lane]) {
      const rows =
        lane === SNAPSHOT_LANE
          ? this.store.outbox.readBefore(lane, this.cursors[lane] as number, SNAPSHOT_READ_AHEAD)
          : this.store.outbox.readAfter(lane, this.cursors[lane] as number, READ_AHEAD)
      if (rows.length === 0) {
        this.exhausted[lane] = true
        // Newest first: once every snapshot row read was acknowledged, the next pass starts from the top.
        if (lane === SNAPSHOT_LANE && this.snapshotRowsInFlight === 0)
          this.cursors[lane] = Number.MAX_SAFE_INTEGER
        return undefined
      }
      this.cursors[lane] = (rows[rows.length - 1] as OutboxReadRow).seq
      for (const row of rows) buffer.push({ row })
    }
    return buffer[0]
  }

  private contentOf(entry: Buffered): RowContent {
    if (!entry.content) {
      try {
        entry.content = contentOf(entry.row, this.snapshots)
      } catch (err) {
        // A row that cannot be read would block its lane for ever; it is logged and let go.
        this.log.error({ err, seq: entry.row.seq, kind: entry.row.kind }, 'outbox row unreadable; dropped')
        entry.content = { type: 'nothing' }
      }
    }
    return entry.content
  }

  /**
   * The next message: rows in lane priority order (safety events, command results, shadow updates,
   * telemetry; snapshots only when every higher lane is empty), per lane in sequence order, records up to
   * `maxMessageBytes` of JSON. An answer to a cloud request is a message of its own.
   */
  private build(): Outgoing | undefined {
    const frame = this.profile.batchFrame()
    const parts: string[] = []
    const seqs = new RunCollector()
    let size = frame.prefix.length + frame.suffix.length
    let snapshotRows = 0
    for (const lane of LANES) {
      if (lane === SNAPSHOT_LANE && (parts.length > 0 || LANES.some((l) => l < lane && this.peek(l)))) break
      for (let entry = this.peek(lane); entry; entry = this.peek(lane)) {
        const content = this.contentOf(entry)
        if (content.type === 'reply') {
          if (seqs.rows > 0) return this.batch(frame, parts, seqs, size, snapshotRows)
          this.buffers[lane]?.shift()
          return this.replyMessage(entry.row, content.reply)
        }
        if (content.type === 'nothing') {
          this.buffers[lane]?.shift()
          seqs.add(lane, entry.row.seq)
          continue
        }
        let add = 0
        for (const r of content.records) add += r.length + 1
        if (parts.length > 0 && size + add > this.options.maxMessageBytes)
          return this.batch(frame, parts, seqs, size, snapshotRows)
        this.buffers[lane]?.shift()
        seqs.add(lane, entry.row.seq)
        for (const r of content.records) parts.push(r)
        size += add
        if (lane === SNAPSHOT_LANE) snapshotRows += 1
        if (size >= this.options.maxMessageBytes) return this.batch(frame, parts, seqs, size, snapshotRows)
      }
    }
    return seqs.rows > 0 ? this.batch(frame, parts, seqs, size, snapshotRows) : undefined
  }

  private batch(
    frame: { prefix: string; suffix: string },
    parts: string[],
    seqs: RunCollector,
    size: number,
    snapshotRows: number,
  ): Outgoing {
    const id = this.nextId++
    const { runs, rows } = seqs
    if (parts.length === 0)
      return {
        id,
        runs,
        rows,
        records: 0,
        rawBytes: 0,
        topic: '',
        payload: Promise.resolve(''),
        snapshotRows,
        sentAt: undefined,
      }
    const text = `${frame.prefix}${parts.join(',')}${frame.suffix}`
    const compress = this.options.compress && this.profile.canCompress
    return {
      id,
      runs,
      rows,
      records: parts.length,
      rawBytes: size,
      topic: this.profile.batchTopic(compress),
      // Deflated on the thread pool; messages still go out in the order they were built (send()).
      payload: compress ? deflateAsync(text) : Promise.resolve(text),
      snapshotRows,
      sentAt: undefined,
    }
  }

  private replyMessage(row: OutboxReadRow, reply: CloudReply): Outgoing {
    const message = this.profile.reply(reply)
    const raw = typeof message.payload === 'string' ? message.payload.length : message.payload.byteLength
    return {
      id: this.nextId++,
      runs: [{ lane: row.lane, from: row.seq, to: row.seq }],
      rows: 1,
      records: 0,
      rawBytes: raw,
      topic: message.topic,
      payload: Promise.resolve(message.payload),
      snapshotRows: 0,
      sentAt: undefined,
    }
  }

  private send(message: Outgoing): void {
    const generation = this.generation
    const client = this.client as MqttClient
    this.inflight.set(message.id, message)
    this.snapshotRowsInFlight += message.snapshotRows
    this.sendChain = this.sendChain.then(async () => {
      let payload: Buffer | string
      try {
        payload = await message.payload
      } catch (err) {
        this.log.error({ err }, 'compressing an upstream message failed')
        return
      }
      if (generation !== this.generation) return
      message.sentAt = Date.now()
      const wire = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength
      this.log.debug(
        { id: message.id, rows: message.rows, records: message.records, wire },
        'publishing',
      )
      client.publish(message.topic, payload, { qos: 1 }, (err) => {
        this.log.debug({ id: message.id, err: err?.message }, 'publish acknowledged')
        if (err || generation !== this.generation) return
        this.totals.messages += 1
        this.totals.wireBytes += wire
        this.totals.rawBytes += message.rawBytes
        this.ack(message)
      })
    })
  }

  /** PUBACK received (or nothing to send): the rows go, and the next message may follow. */
  private ack(message: Outgoing): void {
    this.inflight.delete(message.id)
    this.snapshotRowsInFlight -= message.snapshotRows
    this.writer
      .execute('outbox.ack', { runs: message.runs })
      .then(() => {
        this.totals.rows += message.rows
        this.totals.records += message.records
        this.onAcked(message.rows, message.records)
      })
      .catch((err: unknown) => this.log.error({ err }, 'deleting acknowledged outbox rows failed'))
    this.pump()
  }
}

/** Collects the sequence numbers of the rows a message takes, per lane, as one run each. */
class RunCollector {
  readonly runs: OutboxRun[] = []
  rows = 0

  add(lane: LaneNumber, seq: number): void {
    this.rows += 1
    const run = this.runs.find((r) => r.lane === lane)
    if (!run) this.runs.push({ lane, from: seq, to: seq })
    else {
      // Snapshot rows are read newest first: the run grows downwards.
      run.from = Math.min(run.from, seq)
      run.to = Math.max(run.to, seq)
    }
  }
}
