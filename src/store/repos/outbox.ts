import { randomUUID } from 'node:crypto'
import type { Database } from 'better-sqlite3'

// Lanes in priority order (issue: safety events > command results > shadow updates > telemetry > snapshots).
export const Lane = { safety: 0, commandResult: 1, shadow: 2, telemetry: 3, snapshot: 4 } as const
export type LaneNumber = (typeof Lane)[keyof typeof Lane]

export interface OutboxRow {
  seq: number
  lane: LaneNumber
  kind: string
  device_id: string | null
  idem_key: string
  created_at: number
  payload: string
}

/**
 * The transactional outbox. Callers append inside the same transaction as the change the row describes;
 * only the sync engine reads and deletes rows.
 */
export class OutboxRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      append: db.prepare(
        'INSERT INTO outbox (lane, kind, device_id, idem_key, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      head: db.prepare('SELECT * FROM outbox WHERE lane = ? ORDER BY seq LIMIT ?'),
      delete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
      countByLane: db.prepare('SELECT lane, count(*) AS n FROM outbox GROUP BY lane'),
      count: db.prepare('SELECT count(*) FROM outbox').pluck(),
    }
  }

  /** Appends a row with a fresh idempotency key and returns the key. */
  append(lane: LaneNumber, kind: string, deviceId: string | null, payload: string, at: number): string {
    const key = randomUUID()
    this.stmts.append.run(lane, kind, deviceId, key, at, payload)
    return key
  }

  head(lane: LaneNumber, limit: number): OutboxRow[] {
    return this.stmts.head.all(lane, limit) as OutboxRow[]
  }

  delete(seq: number): void {
    this.stmts.delete.run(seq)
  }

  countByLane(): Record<number, number> {
    const out: Record<number, number> = {}
    for (const r of this.stmts.countByLane.all() as { lane: number; n: number }[]) out[r.lane] = r.n
    return out
  }

  count(): number {
    return this.stmts.count.get() as number
  }
}
