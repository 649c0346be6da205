import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { migrate } from './migrate.ts'

export type { Database }

export interface OpenOptions {
  /** FULL (default): a commit survives a power cut. NORMAL: survives a process crash only. */
  synchronous: 'FULL' | 'NORMAL'
  /**
   * Page cache of this connection, in MiB (default 2). better-sqlite3 builds SQLite with 16 MiB per connection,
   * and the gateway holds three (main thread, writer, drain): a cache fills up as the database grows past it, and
   * three full ones were a third of the soak's RSS budget (issue 10 item 4).
   */
  cacheMiB?: number
}

const DEFAULT_CACHE_MIB = 2

/** Opens (creating if needed) the gateway's SQLite database in WAL mode and brings its schema up to date. */
export function openDatabase(file: string, options: OpenOptions = { synchronous: 'FULL' }): Database {
  mkdirSync(dirname(file), { recursive: true })
  // The database holds device secrets (needed in clear for the MQTT HMAC): owner-only from the first byte.
  // SQLite gives the -wal and -shm files the database file's permissions.
  closeSync(openSync(file, 'a', 0o600))
  const db = new BetterSqlite3(file)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${options.synchronous}`)
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    db.pragma(`cache_size = -${Math.round((options.cacheMiB ?? DEFAULT_CACHE_MIB) * 1024)}`)
    // Checkpoint in the background of commits rather than letting the WAL grow without bound.
    db.pragma('wal_autocheckpoint = 4000')
    migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}
