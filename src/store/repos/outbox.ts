import { randomUUID } from 'node:crypto'
import type { Database } from 'better-sqlite3'

// Lanes in priority order (issue: safety events > command results > shadow updates > telemetry > snapshots).
export const Lane = { safety: 0, commandResult: 1, shadow: 2, telemetry: 3, snapshot: 4 } as const
export type LaneNumber = (typeof Lane)[keyof typeof Lane]
export const LANES: readonly LaneNumber[] = [0, 1, 2, 3, 4]
export const LANE_NAMES: Record<LaneNumber, string> = {
  0: 'safety',
  1: 'commandResult',
  2: 'shadow',
  3: 'telemetry',
  4: 'snapshot',
}

export interface OutboxRow {
  seq: number
  lane: LaneNumber
  kind: string
  device_id: string | null
  idem_key: string
  created_at: number
  payload: string
  bytes: number
  /** What the row points at: a telemetry row's history chunk id; null otherwise. */
  ref: number | null
}

/** A row as the sync engine reads it: a telemetry row comes with the history chunk it points at. */
export interface OutboxReadRow extends Omit<OutboxRow, 'bytes' | 'ref'> {
  /** The chunk's JSON array of deviceReq messages; null for other kinds, or when the chunk is gone. */
  chunk: string | null
}

export interface LaneTotals {
  records: number
  bytes: number
}

export interface LaneDrops extends LaneTotals {
  lastAt: number | null
}

/** One shadow service state as the shadow outbox row carries it (telemetry/reported-shadows.ts). */
interface ShadowServiceState {
  serviceId: string
}

/**
 * The transactional outbox. Callers append inside the same transaction as the change the row describes;
 * only the sync engine reads and deletes rows. Per-lane totals are kept by triggers (migration 007).
 */
export class OutboxRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      append: db.prepare(
        `INSERT INTO outbox (lane, kind, device_id, idem_key, created_at, payload, bytes, ref)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      head: db.prepare('SELECT * FROM outbox WHERE lane = ? ORDER BY seq LIMIT ?'),
      // Raw rows (arrays), made into objects below: the drain reads every row, and better-sqlite3's own row
      // objects cost about a microsecond more each.
      readAfter: db
        .prepare(
          `SELECT o.seq, o.lane, o.kind, o.device_id, o.idem_key, o.created_at, o.payload, c.body AS chunk
           FROM outbox o LEFT JOIN telemetry_chunk c ON c.id = o.ref
           WHERE o.lane = ? AND o.seq > ? ORDER BY o.seq LIMIT ?`,
        )
        .raw(true),
      readBefore: db
        .prepare(
          `SELECT o.seq, o.lane, o.kind, o.device_id, o.idem_key, o.created_at, o.payload, NULL AS chunk
           FROM outbox o WHERE o.lane = ? AND o.seq < ? ORDER BY o.seq DESC LIMIT ?`,
        )
        .raw(true),
      delete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
      deleteRange: db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ? AND lane = ?'),
      pendingShadow: db.prepare(
        'SELECT seq, payload FROM outbox WHERE lane = 2 AND device_id = ? ORDER BY seq DESC LIMIT 1',
      ),
      countByLane: db.prepare('SELECT lane, count(*) AS n FROM outbox GROUP BY lane'),
      count: db.prepare('SELECT count(*) FROM outbox').pluck(),
      totals: db.prepare('SELECT lane, records, bytes FROM outbox_lane_totals'),
      oldest: db.prepare('SELECT created_at FROM outbox WHERE lane = ? ORDER BY seq LIMIT 1').pluck(),
      drops: db.prepare('SELECT lane, records, bytes, last_at FROM outbox_drops'),
      countDrop: db.prepare(
        'UPDATE outbox_drops SET records = records + ?, bytes = bytes + ?, last_at = ? WHERE lane = ?',
      ),
      oldestOfLane: db.prepare(
        'SELECT seq, bytes, created_at FROM outbox WHERE lane = ? ORDER BY seq LIMIT ?',
      ),
      maxSeqOfLane: db.prepare('SELECT coalesce(max(seq), 0) FROM outbox WHERE lane = ?').pluck(),
      lastPerDevice: db.prepare(
        'SELECT device_id, max(seq) AS last FROM outbox WHERE lane = ? AND seq <= ? GROUP BY device_id',
      ),
    }
  }

  /**
   * Appends a row with a fresh idempotency key and returns the key. `extra.ref`: the history chunk a telemetry
   * row points at; `extra.bytes`: what the row stands for beyond its payload (that chunk, a snapshot's image),
   * counted against the lane's quota.
   */
  append(
    lane: LaneNumber,
    kind: string,
    deviceId: string | null,
    payload: string,
    at: number,
    extra: { ref?: number; bytes?: number } = {},
  ): string {
    const key = randomUUID()
    this.stmts.append.run(
      lane,
      kind,
      deviceId,
      key,
      at,
      payload,
      payload.length + (extra.bytes ?? 0),
      extra.ref ?? null,
    )
    return key
  }

  /**
   * Appends a device's reported-shadow update, collapsing it with the device's update still waiting to go
   * (compaction, issue 5): the pending row is replaced by one holding every service it held, each at its
   * latest state. A row already on the wire may be the one replaced; its acknowledgement then deletes
   * nothing and the new row carries the same state again, so nothing is lost.
   */
  appendShadow(deviceId: string, services: readonly ShadowServiceState[], at: number): string {
    const pending = this.stmts.pendingShadow.get(deviceId) as { seq: number; payload: string } | undefined
    let merged = services
    if (pending) {
      const earlier = (JSON.parse(pending.payload) as { services: ShadowServiceState[] }).services
      const fresh = new Set(services.map((s) => s.serviceId))
      merged = [...earlier.filter((s) => !fresh.has(s.serviceId)), ...services]
      this.stmts.delete.run(pending.seq)
    }
    return this.append(
      Lane.shadow,
      'shadow.reported',
      deviceId,
      JSON.stringify({ deviceId, services: merged }),
      at,
    )
  }

  head(lane: LaneNumber, limit: number): OutboxRow[] {
    return this.stmts.head.all(lane, limit) as OutboxRow[]
  }

  /** Rows of a lane after `afterSeq`, in order, each telemetry row with its chunk. */
  readAfter(lane: LaneNumber, afterSeq: number, limit: number): OutboxReadRow[] {
    return (this.stmts.readAfter.all(lane, afterSeq, limit) as RawReadRow[]).map(readRow)
  }

  /** Rows of a lane before `beforeSeq`, newest first (snapshot images go newest first, issue 6). */
  readBefore(lane: LaneNumber, beforeSeq: number, limit: number): OutboxReadRow[] {
    return (this.stmts.readBefore.all(lane, beforeSeq, limit) as RawReadRow[]).map(readRow)
  }

  delete(seq: number): void {
    this.stmts.delete.run(seq)
  }

  /**
   * Deletes the rows of a lane from `from` to `to` (sequence numbers, inclusive) — what one message carried,
   * which is every row of that lane in the range (sequence numbers only grow); returns how many were left.
   */
  deleteRange(lane: LaneNumber, from: number, to: number): number {
    return this.stmts.deleteRange.run(from, to, lane).changes
  }

  /** The oldest rows of a lane (for quota enforcement). */
  oldestOf(lane: LaneNumber, limit: number): { seq: number; bytes: number; created_at: number }[] {
    return this.stmts.oldestOfLane.all(lane, limit) as { seq: number; bytes: number; created_at: number }[]
  }

  countDrop(lane: LaneNumber, records: number, bytes: number, at: number): void {
    this.stmts.countDrop.run(records, bytes, at, lane)
  }

  countByLane(): Record<number, number> {
    const out: Record<number, number> = {}
    for (const r of this.stmts.countByLane.all() as { lane: number; n: number }[]) out[r.lane] = r.n
    return out
  }

  count(): number {
    return this.stmts.count.get() as number
  }

  /** Records and bytes waiting per lane (trigger-kept totals: no scan). */
  totals(): Record<LaneNumber, LaneTotals> {
    const out = emptyPerLane<LaneTotals>(() => ({ records: 0, bytes: 0 }))
    for (const r of this.stmts.totals.all() as ({ lane: LaneNumber } & LaneTotals)[]) {
      out[r.lane] = { records: r.records, bytes: r.bytes }
    }
    return out
  }

  /** When the oldest waiting row of the lane was written (epoch ms), or null when the lane is empty. */
  oldestAt(lane: LaneNumber): number | null {
    return (this.stmts.oldest.get(lane) as number | undefined) ?? null
  }

  drops(): Record<LaneNumber, LaneDrops> {
    const out = emptyPerLane<LaneDrops>(() => ({ records: 0, bytes: 0, lastAt: null }))
    for (const r of this.stmts.drops.all() as {
      lane: LaneNumber
      records: number
      bytes: number
      last_at: number | null
    }[]) {
      out[r.lane] = { records: r.records, bytes: r.bytes, lastAt: r.last_at }
    }
    return out
  }

  /** The highest sequence number waiting in a lane (0 when it is empty). */
  maxSeqOfLane(lane: LaneNumber): number {
    return this.stmts.maxSeqOfLane.get(lane) as number
  }

  /** Per device, the last row of a lane up to `upTo` (where each device's backlog ends). */
  lastPerDevice(lane: LaneNumber, upTo: number): Map<string | null, number> {
    const rows = this.stmts.lastPerDevice.all(lane, upTo) as { device_id: string | null; last: number }[]
    return new Map(rows.map((r) => [r.device_id, r.last]))
  }
}

type RawReadRow = [number, LaneNumber, string, string | null, string, number, string, string | null]

const readRow = (r: RawReadRow): OutboxReadRow => ({
  seq: r[0],
  lane: r[1],
  kind: r[2],
  device_id: r[3],
  idem_key: r[4],
  created_at: r[5],
  payload: r[6],
  chunk: r[7],
})

function emptyPerLane<T>(make: () => T): Record<LaneNumber, T> {
  return { 0: make(), 1: make(), 2: make(), 3: make(), 4: make() }
}
