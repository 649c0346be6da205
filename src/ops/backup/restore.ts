// `sitegate restore FILE` (issue 10 item 6, README "Backup and restore"): unpacks a backup into a data directory
// that no gateway is using. Everything is checked before the directory is touched: each file against the
// manifest's size and SHA-256, the database's migrations against this build (a backup from a newer sitegate is
// refused), SQLite's integrity_check, and that the broker store opens. Then the unpacked directory takes the
// target's place in one rename; a non-empty target (only with --force) is kept beside it.
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import BetterSqlite3 from 'better-sqlite3'
import { dataPaths } from '../../config/paths.ts'
import { knownMigrations } from '../../store/migrate.ts'
import { brokerStoreLocked, countKeys } from './broker-copy.ts'
import {
  BackupError,
  type BackupManifest,
  checkManifest,
  MANIFEST_NAME,
  schemaOf,
  sitegateVersion,
} from './manifest.ts'
import { type EntryDigest, type EntrySink, readTar, type TarEntry, TarError } from './tar.ts'

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024

export interface RestoreSummary {
  file: string
  dataDir: string
  /** Where the target's earlier contents were moved (with --force); undefined when it was empty or absent. */
  previous: string | undefined
  createdAt: string
  sitegateVersion: string
  schemaVersion: number
  counts: Record<string, number>
  files: number
}

export async function restoreBackup(
  fileArg: string,
  dataDirArg: string,
  options: { force?: boolean } = {},
): Promise<RestoreSummary> {
  const file = resolve(fileArg)
  const dataDir = resolve(dataDirArg)
  if (!existsSync(file)) throw new BackupError(`${file} does not exist`)
  const nonEmpty = existsSync(dataDir) && readdirSync(dataDir).length > 0
  if (nonEmpty) {
    const broker = dataPaths(dataDir).broker
    // A running gateway holds the broker store's lock (LevelDB LOCK) from its start to its stop.
    if (existsSync(broker) && (await brokerStoreLocked(broker)))
      throw new BackupError(
        `${dataDir} is in use by a running gateway (its broker store is locked); stop it first`,
      )
    if (!options.force)
      throw new BackupError(
        `${dataDir} is not empty; restore into a new or empty directory, or add --force to replace it ` +
          `(its contents are kept in ${dataDir}.before-restore-…)`,
      )
  }
  const staging = `${dataDir}.restoring`
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(staging, { recursive: true, mode: 0o700 })
  try {
    const manifest = await unpack(file, staging)
    checkDatabase(join(staging, 'sitegate.db'), manifest)
    if (existsSync(join(staging, 'broker'))) {
      await countKeys(join(staging, 'broker')).catch((err: unknown) => {
        throw new BackupError(`the backup's broker store does not open: ${(err as Error).message}`)
      })
    }
    let previous: string | undefined
    if (nonEmpty) {
      previous = `${dataDir}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`
      renameSync(dataDir, previous)
    } else if (existsSync(dataDir)) rmSync(dataDir, { recursive: true })
    renameSync(staging, dataDir)
    syncDir(dirname(dataDir))
    return {
      file,
      dataDir,
      previous,
      createdAt: manifest.createdAt,
      sitegateVersion: manifest.sitegateVersion,
      schemaVersion: manifest.schema.version,
      counts: manifest.counts,
      files: manifest.files.length,
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true })
    throw err
  }
}

/** Unpacks the archive into `dir` and checks every file against the manifest; returns the manifest. */
async function unpack(file: string, dir: string): Promise<BackupManifest> {
  const gunzip = createGunzip()
  const reading = pipeline(createReadStream(file), gunzip)
  let manifestText: Buffer[] | undefined
  let afterManifest = false
  let digests: EntryDigest[]
  try {
    digests = await readTar(gunzip, (entry): EntrySink | undefined => {
      if (manifestText !== undefined) afterManifest = true
      const path = safePath(entry)
      if (entry.type === 'directory') {
        mkdirSync(join(dir, path), { recursive: true, mode: 0o700 })
        return undefined
      }
      if (path === MANIFEST_NAME) {
        if (entry.size > MAX_MANIFEST_BYTES)
          throw new BackupError('damaged backup: its manifest is too large')
        const parts: Buffer[] = []
        manifestText = parts
        return { write: (chunk) => void parts.push(Buffer.from(chunk)), end: () => {} }
      }
      return fileSink(join(dir, path))
    })
    await reading
  } catch (err) {
    reading.catch(() => {})
    if (err instanceof BackupError) throw err
    const e = err as Error & { code?: string }
    if (err instanceof TarError || e.code?.startsWith('Z_'))
      throw new BackupError(`${file} is not a readable sitegate backup: ${e.message}`)
    throw err
  }
  if (manifestText === undefined)
    throw new BackupError(`${file} is not a sitegate backup (no ${MANIFEST_NAME})`)
  if (afterManifest) throw new BackupError('damaged backup: entries follow its manifest')
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.concat(manifestText).toString('utf8'))
  } catch {
    throw new BackupError('damaged backup: its manifest is not JSON')
  }
  const manifest = checkManifest(parsed)
  const found = new Map(digests.filter((d) => d.path !== MANIFEST_NAME).map((d) => [d.path, d]))
  for (const expected of manifest.files) {
    const got = found.get(expected.path)
    if (!got) throw new BackupError(`damaged backup: ${expected.path} is missing`)
    if (got.size !== expected.size || got.sha256 !== expected.sha256)
      throw new BackupError(`damaged backup: ${expected.path} does not match its SHA-256 in the manifest`)
    found.delete(expected.path)
  }
  if (found.size > 0) throw new BackupError(`damaged backup: ${[...found.keys()][0]} is not in its manifest`)
  if (!manifest.files.some((f) => f.path === 'sitegate.db'))
    throw new BackupError('the backup holds no database')
  return manifest
}

/** The database: migrations this build knows (none newer), and SQLite's integrity_check. */
function checkDatabase(path: string, manifest: BackupManifest): void {
  const db = new BetterSqlite3(path, { fileMustExist: true })
  try {
    const known = new Set(knownMigrations().map((m) => m.version))
    const schema = schemaOf(db)
    for (const m of schema.migrations) {
      if (!known.has(m.version))
        throw new BackupError(
          `the backup's database holds migration ${String(m.version).padStart(3, '0')}_${m.name}, which this ` +
            `sitegate (${sitegateVersion()}) does not know: the backup was taken by a newer sitegate ` +
            `(${manifest.sitegateVersion}); restore it with that version`,
        )
    }
    const integrity = db.pragma('integrity_check', { simple: true })
    if (integrity !== 'ok')
      throw new BackupError(`the backup's database fails integrity_check: ${String(integrity)}`)
  } finally {
    db.close()
  }
}

/** A relative path with no '..', absolute or empty parts: nothing can land outside the target directory. */
function safePath(entry: TarEntry): string {
  const path = entry.path
  const parts = path.split('/')
  if (path.startsWith('/') || path.includes('\\') || parts.some((p) => p === '..' || p === '' || p === '.'))
    throw new BackupError(`damaged or hostile backup: unsafe path "${path}"`)
  return path
}

function fileSink(path: string): EntrySink {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const fd = openSync(path, 'wx', 0o600)
  return {
    write: (chunk) => {
      let done = 0
      while (done < chunk.length) done += writeSync(fd, chunk, done)
    },
    end: () => {
      fsyncSync(fd)
      closeSync(fd)
    },
  }
}

function syncDir(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
