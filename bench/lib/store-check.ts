// Reads the gateway's SQLite database read-only (while the gateway still runs): the history record count, and
// an estimate of how many ingest transactions wrote it.
import BetterSqlite3 from 'better-sqlite3'

export interface StoreCheck {
  /** History records (ServiceData entries) stored. */
  telemetryRecords: number
  /**
   * Ingest transactions, estimated: every history chunk an ingest transaction writes carries the same
   * received_at (its Date.now()), so distinct values count transactions (two in one millisecond count once).
   */
  transactions: number
}

export function checkStore(file: string): StoreCheck {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true })
  try {
    const count = (sql: string) => db.prepare(sql).pluck().get() as number
    return {
      telemetryRecords: count('SELECT coalesce(sum(records), 0) FROM telemetry_chunk'),
      transactions: count('SELECT count(DISTINCT received_at) FROM telemetry_chunk'),
    }
  } finally {
    db.close()
  }
}
