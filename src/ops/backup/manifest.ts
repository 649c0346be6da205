// The backup manifest: the last entry of a backup archive, naming every other entry with its size and SHA-256,
// the database's schema (its migrations) and what the backup holds.
import { readFileSync } from 'node:fs'
import type { Database } from 'better-sqlite3'
import type { EntryDigest } from './tar.ts'

export const MANIFEST_NAME = 'sitegate-backup.json'
export const FORMAT = 'sitegate-backup'
export const FORMAT_VERSION = 1

export interface BackupManifest {
  format: typeof FORMAT
  version: typeof FORMAT_VERSION
  createdAt: string
  sitegateVersion: string
  /** The migrations recorded in the backed-up database. */
  schema: { version: number; migrations: { version: number; name: string }[] }
  /** Whether a gateway held the data directory while the backup was taken. */
  online: boolean
  counts: Record<string, number>
  files: EntryDigest[]
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'BackupError'
  }
}

export function sitegateVersion(): string {
  const pkg = new URL('../../../package.json', import.meta.url)
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
}

export function schemaOf(db: Database): BackupManifest['schema'] {
  const migrations = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as {
    version: number
    name: string
  }[]
  return { version: migrations.at(-1)?.version ?? 0, migrations }
}

/** What a restore must bring back, counted in the backed-up database (shown by backup and restore). */
export function countsOf(db: Database): Record<string, number> {
  const tables: Record<string, string> = {
    applications: 'applications',
    devices: 'devices',
    shadows: 'shadows',
    commands: 'commands',
    outbox: 'outbox',
    telemetryChunks: 'telemetry_chunk',
    desiredHistory: 'shadow_desired_history',
    snapshots: 'camera_snapshots',
  }
  const counts: Record<string, number> = {}
  for (const [name, table] of Object.entries(tables)) {
    // A database of an older schema may lack a table: it is simply not counted.
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)
    if (exists) counts[name] = db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number
  }
  return counts
}

/** Checks a parsed manifest's shape; throws BackupError naming what is wrong. */
export function checkManifest(value: unknown): BackupManifest {
  const m = value as Partial<BackupManifest> | null
  if (typeof m !== 'object' || m === null || m.format !== FORMAT)
    throw new BackupError('not a sitegate backup (its manifest is missing or of another format)')
  if (m.version !== FORMAT_VERSION)
    throw new BackupError(
      `backup format version ${String(m.version)} is not one this sitegate reads (${FORMAT_VERSION}); ` +
        'restore it with the sitegate that wrote it',
    )
  if (!Array.isArray(m.files) || !m.schema || !Array.isArray(m.schema.migrations))
    throw new BackupError('damaged backup: its manifest lacks the file list or the schema')
  return m as BackupManifest
}
