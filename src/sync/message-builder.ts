// Outbox rows → upstream messages, off the main thread (drain-channel.ts, in the writer thread): reading, turning
// rows into records, joining and deflating them is most of a drain's work and would otherwise hold the event loop
// that serves devices and the LAN API.
import { deflateSync } from 'node:zlib'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import { LANES, type LaneNumber, type OutboxReadRow } from '../store/repos/outbox.ts'
import { LivePath } from './live-path.ts'
import type { UpstreamProfile } from './profile.ts'
import { contentOf, type RowContent, type SnapshotReader } from './records.ts'
import type { OutboxRun } from './sync-ops.ts'

/** Rows read from a lane at a time. */
const READ_AHEAD = 1000
/** Snapshot rows are read a few at a time: their images are large. */
const SNAPSHOT_READ_AHEAD = 8
const SNAPSHOT_LANE: LaneNumber = 4
const TELEMETRY_LANE: LaneNumber = 3
/** Share of a message kept for live telemetry while a backlog drains (live-path.ts). */
const LIVE_SHARE = 0.25

export interface BuildOptions {
  compress: boolean
  maxMessageBytes: number
}

/** A message ready to publish. `topic` is empty when the rows had nothing left to send (ack them as is). */
export interface BuiltMessage {
  runs: OutboxRun[]
  rows: number
  /** Records carried (0 for an answer to a cloud request). */
  records: number
  /** Bytes of record JSON before compression. */
  rawBytes: number
  topic: string
  payload: Uint8Array | string
  snapshotRows: number
}

interface Buffered {
  row: OutboxReadRow
  content?: RowContent
}

export class MessageBuilder {
  private readonly cursors: number[] = []
  private readonly buffers: Buffered[][] = []
  private readonly exhausted: boolean[] = []
  private readonly live: LivePath

  constructor(
    private readonly store: Store,
    private readonly profile: UpstreamProfile,
    private readonly options: BuildOptions,
    private readonly log: Logger,
    private readonly snapshots?: SnapshotReader,
  ) {
    this.live = new LivePath(store)
    this.reset()
  }

  /** From the start of every lane again (a new connection: what was not acknowledged goes again). */
  reset(): void {
    for (const lane of LANES) {
      this.cursors[lane] = lane === SNAPSHOT_LANE ? Number.MAX_SAFE_INTEGER : 0
      this.buffers[lane] = []
      this.exhausted[lane] = false
    }
    this.live.reset()
  }

  /** New rows may have been written: look at every lane again. */
  wake(): void {
    this.exhausted.fill(false)
    this.live.wake()
  }

  /**
   * The next message: rows in lane priority order (safety events, command results, shadow updates,
   * telemetry; snapshots only when every higher lane is empty), per lane in sequence order, records up to
   * `maxMessageBytes` of JSON. An answer to a cloud request is a message of its own. `snapshotRowsInFlight`:
   * snapshot rows sent and not yet acknowledged (snapshots go newest first; a new pass starts from the top
   * only when none is in flight).
   */
  build(snapshotRowsInFlight: number): BuiltMessage | undefined {
    const frame = this.profile.batchFrame()
    const parts: string[] = []
    const runs = new RunCollector()
    let size = frame.prefix.length + frame.suffix.length
    let snapshotRows = 0
    const batch = () => this.batch(frame, parts, runs, size, snapshotRows)
    /** Adds a row's records when they fit; false when the message is full (the row stays for the next one). */
    const fits = (records: string[]): boolean => {
      let add = 0
      for (const r of records) add += r.length + 1
      if (parts.length > 0 && size + add > this.options.maxMessageBytes) return false
      for (const r of records) parts.push(r)
      size += add
      return true
    }
    for (const lane of LANES) {
      if (
        lane === SNAPSHOT_LANE &&
        (parts.length > 0 || LANES.some((l) => l < lane && this.peek(l, snapshotRowsInFlight)))
      )
        break
      if (lane === TELEMETRY_LANE) {
        // Live rows first, up to their share of the message; then the backlog.
        const liveBudget = size + this.options.maxMessageBytes * LIVE_SHARE
        for (let row = this.live.peek(); row && size < liveBudget; row = this.live.peek()) {
          const content = this.contentOf({ row })
          if (content.type === 'records' && !fits(content.records)) return batch()
          this.live.take(row)
          runs.single(lane, row.seq)
        }
      }
      for (
        let entry = this.peek(lane, snapshotRowsInFlight);
        entry;
        entry = this.peek(lane, snapshotRowsInFlight)
      ) {
        if (lane === TELEMETRY_LANE && this.live.passedByBacklog(entry.row)) {
          // Already sent by the live path: not part of this message's runs (its own message deletes it).
          this.buffers[lane]?.shift()
          runs.breakRun(lane)
          continue
        }
        const content = this.contentOf(entry)
        if (content.type === 'reply') {
          if (runs.rows > 0) return batch()
          this.buffers[lane]?.shift()
          runs.add(lane, entry.row.seq)
          const message = this.profile.reply(content.reply)
          const raw =
            typeof message.payload === 'string' ? message.payload.length : message.payload.byteLength
          return {
            ...runs.take(),
            records: 0,
            rawBytes: raw,
            topic: message.topic,
            payload: message.payload,
            snapshotRows: 0,
          }
        }
        if (content.type === 'records' && !fits(content.records)) return batch()
        this.buffers[lane]?.shift()
        runs.add(lane, entry.row.seq)
        if (lane === TELEMETRY_LANE) this.live.tookByBacklog(entry.row)
        if (lane === SNAPSHOT_LANE && content.type === 'records') snapshotRows += 1
        if (size >= this.options.maxMessageBytes) return batch()
      }
    }
    return runs.rows > 0 ? batch() : undefined
  }

  /** The next buffered row of a lane, reading ahead from the store when the buffer is empty. */
  private peek(lane: LaneNumber, snapshotRowsInFlight: number): Buffered | undefined {
    const buffer = this.buffers[lane] as Buffered[]
    if (buffer.length === 0 && !this.exhausted[lane]) {
      const cursor = this.cursors[lane] as number
      const rows =
        lane === SNAPSHOT_LANE
          ? this.store.outbox.readBefore(lane, cursor, SNAPSHOT_READ_AHEAD)
          : this.store.outbox.readAfter(lane, cursor, READ_AHEAD)
      if (rows.length === 0) {
        this.exhausted[lane] = true
        if (lane === SNAPSHOT_LANE && snapshotRowsInFlight === 0) this.cursors[lane] = Number.MAX_SAFE_INTEGER
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

  private batch(
    frame: { prefix: string; suffix: string },
    parts: string[],
    runs: RunCollector,
    size: number,
    snapshotRows: number,
  ): BuiltMessage {
    const taken = runs.take()
    if (parts.length === 0) return { ...taken, records: 0, rawBytes: 0, topic: '', payload: '', snapshotRows }
    const text = `${frame.prefix}${parts.join(',')}${frame.suffix}`
    const compress = this.options.compress && this.profile.canCompress
    return {
      ...taken,
      records: parts.length,
      rawBytes: size,
      topic: this.profile.batchTopic(compress),
      payload: compress ? deflateSync(text) : text,
      snapshotRows,
    }
  }
}

/**
 * Collects the sequence numbers of the rows a message takes as runs: a run is every row of its lane between
 * its ends (rows of a lane are read in order), so a row skipped in between ends the run.
 */
class RunCollector {
  private readonly runs: OutboxRun[] = []
  private readonly open = new Map<LaneNumber, OutboxRun>()
  rows = 0

  add(lane: LaneNumber, seq: number): void {
    this.rows += 1
    const run = this.open.get(lane)
    if (!run) {
      const fresh = { lane, from: seq, to: seq }
      this.runs.push(fresh)
      this.open.set(lane, fresh)
    } else {
      // Snapshot rows are read newest first: their run grows downwards.
      run.from = Math.min(run.from, seq)
      run.to = Math.max(run.to, seq)
    }
  }

  /** A row taken out of order (a live row): a run of its own. */
  single(lane: LaneNumber, seq: number): void {
    this.rows += 1
    this.runs.push({ lane, from: seq, to: seq })
  }

  breakRun(lane: LaneNumber): void {
    this.open.delete(lane)
  }

  take(): { runs: OutboxRun[]; rows: number } {
    return { runs: this.runs, rows: this.rows }
  }
}
