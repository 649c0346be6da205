import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Database } from 'better-sqlite3'

export interface Migration {
  version: number
  name: string
  sql: string
}

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url)

/** The numbered migrations this build knows, in order (files `NNN_name.sql`). */
export function knownMigrations(dir: string = MIGRATIONS_DIR.pathname): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(join(dir, file), 'utf8'),
    }))
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MigrationError'
  }
}

/**
 * Applies the migrations the database lacks, each in its own transaction, and records them in
 * `schema_migrations`. A database that holds a migration this build does not know was written by a newer
 * sitegate: opening it could corrupt it, so it is refused.
 */
export function migrate(db: Database, migrations: Migration[] = knownMigrations()): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`)
  const applied = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as {
    version: number
    name: string
  }[]
  const known = new Map(migrations.map((m) => [m.version, m]))
  for (const row of applied) {
    if (!known.has(row.version)) {
      throw new MigrationError(
        `database holds migration ${String(row.version).padStart(3, '0')}_${row.name}, which this build of ` +
          'sitegate does not know (it was written by a newer version); refusing to open it. ' +
          'Run the newer sitegate, or restore a backup taken with this version.',
      )
    }
  }
  const done = new Set(applied.map((r) => r.version))
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  const newlyApplied: number[] = []
  for (const m of migrations) {
    if (done.has(m.version)) continue
    db.transaction(() => {
      db.exec(m.sql)
      record.run(m.version, m.name, Date.now())
    })()
    newlyApplied.push(m.version)
  }
  return newlyApplied
}
