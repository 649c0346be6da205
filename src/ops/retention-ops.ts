// The retention write operation (issue 10 item 7, README "Retention"): one small pruning step of a history,
// run by the writer thread inside its group commit (store/write-ops.ts), so pruning never takes the write
// lock away from ingest for longer than one step.
import type { OpContext } from '../store/write-ops.ts'

export type HistoryName = 'telemetry' | 'desiredHistory'

export interface PruneArgs {
  history: HistoryName
  /** Rows older than this are pruned (received_at for telemetry, at for desired history); 0: no age limit. */
  maxAgeMs: number
  /** Rows are pruned, oldest first, while the history holds more than this; 0: no size limit. */
  maxBytes: number
  /** The step looks at rows after this id (the previous step's `nextAfterId`; 0 to start a round). */
  afterId: number
  /** Most rows one step looks at. */
  stepRows: number
  /** Most bytes one step deletes: freeing a large chunk reads its overflow pages, so bytes bound the step's time. */
  stepBytes: number
}

export interface PruneResult {
  deleted: number
  deletedBytes: number
  /** Telemetry chunks over a limit kept because an outbox row still points at them (not sent upstream yet). */
  keptForUpstream: number
  /** Where the next step continues. */
  nextAfterId: number
  /** Nothing more is over a limit (or every row over one is kept for upstream). */
  done: boolean
  /** The history's rows and bytes after the step. */
  records: number
  bytes: number
}

interface Candidate {
  id: number
  at: number
  bytes: number
  referenced: number
}

// Rows in id order, which is insertion order, so oldest first. A telemetry chunk's `referenced` says whether a
// telemetry outbox row (migration 007 `ref`) points at it: that row's records have not gone upstream yet, and
// deleting the chunk would lose them. Once the row is acknowledged or dropped by the outbox quota, the chunk
// may go. (outbox_ref, migration 011, makes the check a lookup.)
const CANDIDATES: Record<HistoryName, string> = {
  telemetry: `SELECT c.id, c.received_at AS at, octet_length(c.body) AS bytes,
                EXISTS (SELECT 1 FROM outbox o WHERE o.ref = c.id) AS referenced
              FROM telemetry_chunk c WHERE c.id > ? ORDER BY c.id LIMIT ?`,
  desiredHistory: `SELECT id, at, octet_length(desired) AS bytes, 0 AS referenced
                   FROM shadow_desired_history WHERE id > ? ORDER BY id LIMIT ?`,
}
const DELETE: Record<HistoryName, string> = {
  telemetry: 'DELETE FROM telemetry_chunk WHERE id = ?',
  desiredHistory: 'DELETE FROM shadow_desired_history WHERE id = ?',
}
const TOTALS = 'SELECT records, bytes FROM history_totals WHERE name = ?'

/** One pruning step: deletes rows over the age or size limit, oldest first, within the step's bounds. */
export function pruneHistory(ctx: OpContext, a: PruneArgs): PruneResult {
  const { db } = ctx.store
  const totals = db.prepare(TOTALS).get(a.history) as { records: number; bytes: number }
  const rows = db.prepare(CANDIDATES[a.history]).all(a.afterId, a.stepRows) as Candidate[]
  const remove = db.prepare(DELETE[a.history])
  const cutoff = a.maxAgeMs > 0 ? ctx.now - a.maxAgeMs : Number.NEGATIVE_INFINITY
  let bytes = totals.bytes
  let records = totals.records
  let deleted = 0
  let deletedBytes = 0
  let keptForUpstream = 0
  let nextAfterId = a.afterId
  let done = rows.length < a.stepRows
  for (const row of rows) {
    const overSize = a.maxBytes > 0 && bytes > a.maxBytes
    if (!overSize && row.at >= cutoff) {
      // Under the size limit, and this row (hence, in insertion order, the rest) is young enough.
      done = true
      break
    }
    if (deletedBytes >= a.stepBytes) {
      done = false
      break
    }
    nextAfterId = row.id
    if (row.referenced) {
      keptForUpstream += 1
      continue
    }
    remove.run(row.id)
    deleted += 1
    deletedBytes += row.bytes
    bytes -= row.bytes
    records -= 1
  }
  return { deleted, deletedBytes, keptForUpstream, nextAfterId, done, records, bytes }
}
