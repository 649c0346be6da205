// Live telemetry beside the backlog (issue 5: after a reconnect, live data is interleaved with the backlog, so
// live traffic is not starved) without breaking the order of any device's records.
//
// At link-up the rows already waiting are the backlog; rows written later are live. A device's live row may
// overtake the backlog only once every backlog row of that device has been taken into a message (messages go
// out in the order they are built, so the cloud still sees the device's records in order). A live row of a
// device still catching up is left to the backlog path, which reads every row in order — and so are that
// device's later live rows, until the backlog path has passed the one left to it. Rows the live path took are skipped by the backlog path when it gets to them.
import type { Store } from '../store/index.ts'
import { Lane, type OutboxReadRow } from '../store/repos/outbox.ts'

const READ_AHEAD = 500

export class LivePath {
  /** Rows with a higher sequence number were written after link-up. */
  private cursor = 0
  private buffer: OutboxReadRow[] = []
  private exhausted = false
  /**
   * Devices with backlog rows not yet taken, and the sequence number of their last one; found when the first
   * live row shows up (a scan of the backlog: not worth doing for a drain with no live traffic).
   */
  private backlogLast: Map<string | null, number> | undefined
  private liveFrom = 0
  /**
   * Devices with a live row left to the backlog path, and the last such row: their live rows wait for the
   * backlog path until it has passed that row.
   */
  private readonly deferred = new Map<string | null, number>()
  /** Live rows taken by this path and not yet passed by the backlog path. */
  private readonly taken = new Set<number>()
  /** The highest sequence number the backlog path has taken or skipped. */
  private backlogAt = 0

  constructor(private readonly store: Store) {}

  /** Link-up: what is waiting now is the backlog. */
  reset(): void {
    this.cursor = this.store.outbox.maxSeqOfLane(Lane.telemetry)
    this.liveFrom = this.cursor
    this.backlogLast = undefined
    this.buffer = []
    this.exhausted = false
    this.deferred.clear()
    this.taken.clear()
    this.backlogAt = 0
  }

  wake(): void {
    this.exhausted = false
  }

  /** Whether the backlog path must skip this row (the live path sent it); forgets it either way. */
  passedByBacklog(row: OutboxReadRow): boolean {
    if (row.seq > this.backlogAt) this.backlogAt = row.seq
    return this.taken.delete(row.seq)
  }

  /** The backlog path took a row into a message. */
  tookByBacklog(row: OutboxReadRow): void {
    if (this.backlogLast?.get(row.device_id) === row.seq) this.backlogLast.delete(row.device_id)
  }

  /** The next live row that may go now, or undefined. */
  peek(): OutboxReadRow | undefined {
    for (;;) {
      if (this.buffer.length === 0) {
        // Nothing is live while the backlog path is beyond the live cursor: it carries everything in order.
        if (this.exhausted || this.backlogAt >= this.cursor) return undefined
        const rows = this.store.outbox.readAfter(Lane.telemetry, this.cursor, READ_AHEAD)
        if (rows.length === 0) {
          this.exhausted = true
          return undefined
        }
        this.cursor = (rows[rows.length - 1] as OutboxReadRow).seq
        this.buffer = rows
      }
      const row = this.buffer[0] as OutboxReadRow
      // Rows the backlog path has taken so far are not in the map: only what is still ahead of it counts.
      this.backlogLast ??= this.pendingBacklog()
      if (row.seq <= this.backlogAt) {
        this.buffer.shift()
        continue
      }
      if (this.backlogLast.has(row.device_id) || (this.deferred.get(row.device_id) ?? 0) > this.backlogAt) {
        this.deferred.set(row.device_id, row.seq)
        this.buffer.shift()
        continue
      }
      return row
    }
  }

  /** Per device, the last backlog row the backlog path has not reached yet. */
  private pendingBacklog(): Map<string | null, number> {
    const last = this.store.outbox.lastPerDevice(Lane.telemetry, this.liveFrom)
    for (const [device, seq] of last) if (seq <= this.backlogAt) last.delete(device)
    return last
  }

  take(row: OutboxReadRow): void {
    this.buffer.shift()
    this.taken.add(row.seq)
  }
}
