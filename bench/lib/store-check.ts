// Reads the gateway's SQLite database read-only (while the gateway still runs): the telemetry row count, and
// an estimate of how many ingest transactions wrote it.
import BetterSqlite3 from 'better-sqlite3'

export interface StoreCheck {
  telemetryRows: number
  /**
   * Ingest transactions, estimated: every outbox row an ingest transaction appends carries the same
   * created_at (its Date.now()), so distinct values count transactions (two in one millisecond count once).
   */
  transactions: number
}

export function checkStore(file: string): StoreCheck {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true })
  try {
    const count = (sql: string) => db.prepare(sql).pluck().get() as number
    return {
      telemetryRows: count('SELECT count(*) FROM telemetry'),
      transactions: count("SELECT count(DISTINCT created_at) FROM outbox WHERE kind = 'telemetry'"),
    }
  } finally {
    db.close()
  }
}
