// `sitegate backup FILE` (issue 10 item 6, README "Backup and restore"): an online backup of a data directory,
// taken while the gateway runs or not, as one gzip-compressed tar with a checksummed manifest.
//
// - The database is copied with SQLite's backup API (better-sqlite3 `db.backup()`) over a connection of its own:
//   with WAL the gateway keeps writing meanwhile, and the copy is one consistent point in time.
// - Snapshot and firmware files are those the copied index names (a file deleted by the snapshot quota after
//   the copy was taken has its index row removed from the copy, as the gateway would have).
// - The broker's session store is copied as LevelDB files and checked to open (broker-copy.ts).
// - Everything else in the data directory (first-app.json, tls/, products/) is copied as is; logs/ is not.
import {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { dataPaths } from '../../config/paths.ts'
import { knownMigrations } from '../../store/migrate.ts'
import { brokerStoreLocked, copyBrokerStore } from './broker-copy.ts'
import {
  BackupError,
  type BackupManifest,
  countsOf,
  FORMAT,
  FORMAT_VERSION,
  MANIFEST_NAME,
  schemaOf,
  sitegateVersion,
} from './manifest.ts'
import { type EntryDigest, TarWriter } from './tar.ts'

/** LevelDB's lock and its human-readable info logs (made again when the store opens) are not data. */
const BROKER_SKIP = new Set(['LOCK', 'LOG', 'LOG.old'])
/** Top-level names of the data directory that are backed up their own way, or not at all. */
const SPECIAL = new Set([
  'sitegate.db',
  'sitegate.db-wal',
  'sitegate.db-shm',
  'broker',
  'snapshots',
  'firmware',
  'logs',
])

export interface BackupSummary {
  file: string
  bytes: number
  online: boolean
  createdAt: string
  schemaVersion: number
  counts: Record<string, number>
  files: number
  /** Snapshot or firmware files the index named but that were deleted while the backup ran. */
  vanished: string[]
  /** Files whose content did not match the SHA-256 the index holds (already damaged on disk). */
  mismatched: string[]
}

export async function createBackup(dataDirArg: string, fileArg: string): Promise<BackupSummary> {
  const dataDir = resolve(dataDirArg)
  const file = resolve(fileArg)
  const paths = dataPaths(dataDir)
  if (!existsSync(paths.database))
    throw new BackupError(`no sitegate database in ${dataDir} (${paths.database})`)
  if (existsSync(file)) throw new BackupError(`${file} exists already; give a new file name`)
  const partial = `${file}.partial`
  const work = `${file}.work`
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true, mode: 0o700 })
  try {
    return await writeBackup(dataDir, file, partial, work)
  } catch (err) {
    rmSync(partial, { force: true })
    throw err
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

async function writeBackup(
  dataDir: string,
  file: string,
  partial: string,
  work: string,
): Promise<BackupSummary> {
  const paths = dataPaths(dataDir)
  const online = existsSync(paths.broker) && (await brokerStoreLocked(paths.broker))
  const copyFile = join(work, 'sitegate.db')
  await copyDatabase(paths.database, copyFile)
  const copy = new BetterSqlite3(copyFile)
  const files: EntryDigest[] = []
  const vanished: string[] = []
  const mismatched: string[] = []
  const out = createWriteStream(partial, { mode: 0o600 })
  const gzip = createGzip()
  const written = pipeline(gzip, out)
  const tar = new TarWriter(gzip)
  try {
    // One self-contained file (no -wal beside it) in the archive.
    copy.pragma('journal_mode = DELETE')
    const check = copy.pragma('quick_check', { simple: true })
    if (check !== 'ok')
      throw new BackupError(`the database copy fails SQLite's quick_check: ${String(check)}`)
    // Files named by the copied index, so index and files agree.
    for (const kind of ['snapshots', 'firmware'] as const) {
      for (const row of indexedFiles(copy, kind)) {
        const digest = await addIfThere(tar, `${kind}/${row.file}`, join(dataDir, kind, row.file))
        if (digest === undefined) {
          vanished.push(`${kind}/${row.file}`)
          copy.prepare(DELETE_ROW[kind]).run(row.id)
          continue
        }
        if (digest.sha256 !== row.sha256) mismatched.push(digest.path)
        files.push(digest)
      }
    }
    const schema = schemaOf(copy)
    const counts = countsOf(copy)
    copy.close()
    files.push(await tar.addFile('sitegate.db', copyFile))
    if (existsSync(paths.broker)) {
      const brokerCopy = join(work, 'broker')
      await copyBrokerStore(paths.broker, brokerCopy)
      for (const rel of walk(brokerCopy, (name) => !BROKER_SKIP.has(name)))
        files.push(await tar.addFile(`broker/${rel}`, join(brokerCopy, rel)))
    }
    const keep = (rel: string) => !(SPECIAL.has(rel) || isOurs(join(dataDir, rel), file))
    for (const rel of walk(dataDir, keep)) {
      const digest = await addIfThere(tar, rel, join(dataDir, rel))
      if (digest) files.push(digest)
    }
    const createdAt = new Date().toISOString()
    const manifest: BackupManifest = {
      format: FORMAT,
      version: FORMAT_VERSION,
      createdAt,
      sitegateVersion: sitegateVersion(),
      schema,
      online,
      counts,
      files,
    }
    await tar.addBuffer(MANIFEST_NAME, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`))
    await tar.finish()
    await written
    syncFile(partial)
    renameSync(partial, file)
    syncFile(dirname(file))
    return {
      file,
      bytes: lstatSync(file).size,
      online,
      createdAt,
      schemaVersion: schema.version,
      counts,
      files: files.length,
      vanished,
      mismatched,
    }
  } catch (err) {
    if (copy.open) copy.close()
    gzip.destroy()
    await written.catch(() => {})
    throw err
  }
}

/**
 * SQLite's online backup: pages are copied in steps, and a step after which another connection wrote starts the
 * copy over. After the first step the rest is asked for in one step, so a gateway writing all the time cannot
 * keep the copy from finishing (WAL lets it write meanwhile; the copy is of the moment that step began).
 */
async function copyDatabase(source: string, target: string): Promise<void> {
  const db = new BetterSqlite3(source, { fileMustExist: true })
  try {
    db.pragma('busy_timeout = 10000')
    checkSchemaKnown(db)
    await db.backup(target, { progress: ({ totalPages }) => Math.max(totalPages, 100) })
  } finally {
    db.close()
  }
}

/** A database written by a newer sitegate is backed up by that sitegate, which knows its schema. */
function checkSchemaKnown(db: Database): void {
  const known = new Set(knownMigrations().map((m) => m.version))
  for (const m of schemaOf(db).migrations) {
    if (!known.has(m.version))
      throw new BackupError(
        `the database holds migration ${String(m.version).padStart(3, '0')}_${m.name}, which this sitegate ` +
          'does not know (a newer version wrote it); take the backup with that version',
      )
  }
}

const INDEX_QUERY = {
  snapshots: 'SELECT snapshot_id AS id, file, sha256 FROM camera_snapshots ORDER BY seq',
  firmware: 'SELECT package_id AS id, file, sha256 FROM camera_firmware ORDER BY package_id',
}
const DELETE_ROW = {
  snapshots: 'DELETE FROM camera_snapshots WHERE snapshot_id = ?',
  firmware: 'DELETE FROM camera_firmware WHERE package_id = ?',
}

function indexedFiles(
  db: Database,
  kind: 'snapshots' | 'firmware',
): { id: string; file: string; sha256: string }[] {
  const table = kind === 'snapshots' ? 'camera_snapshots' : 'camera_firmware'
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) return []
  const rows = db.prepare(INDEX_QUERY[kind]).all() as { id: string; file: string; sha256: string }[]
  for (const row of rows) {
    if (row.file.split('/').some((part) => part === '..' || part === '') || row.file.startsWith('/'))
      throw new BackupError(`the ${table} index holds an unsafe file name: ${row.file}`)
  }
  return rows
}

/** Adds a file; undefined when it is gone (deleted between listing and reading). */
async function addIfThere(tar: TarWriter, path: string, source: string): Promise<EntryDigest | undefined> {
  try {
    return await tar.addFile(path, source)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Regular files under `root`, relative, with '/' separators; `keep` filters entries by their relative path. */
function walk(root: string, keep: (rel: string) => boolean = () => true): string[] {
  const out: string[] = []
  const visit = (rel: string) => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (!keep(child)) continue
      if (entry.isDirectory()) visit(child)
      else if (entry.isFile()) out.push(child)
    }
  }
  visit('')
  return out.sort()
}

/** The backup's own files when FILE was put inside the data directory. */
function isOurs(path: string, file: string): boolean {
  return path === file || path.startsWith(`${file}.`)
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
