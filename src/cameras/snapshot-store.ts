import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { mkdir, open, readFile, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { LedgerWriter } from '../commands/service.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { NewSnapshotRow, SnapshotRow } from '../store/repos/cameras.ts'
import type { EvictedFile, SnapshotInput } from './camera-ops.ts'

export interface NewSnapshot {
  deviceId: string
  /** Epoch ms the picture was taken (the camera's request timestamp, or the receive time). */
  takenAt: number
  source: SnapshotRow['source']
  bytes: Buffer
  contentType: string
}

export interface SnapshotOptions {
  /** Total bytes the snapshot files may take; beyond it the oldest are deleted (cameras.snapshotQuotaBytes). */
  quotaBytes: number
}

const EXTENSION: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png' }

/** Writes a file and makes it durable: contents fsynced, then the directory entry (a new name) fsynced. */
async function writeDurably(dir: string, path: string, bytes: Buffer): Promise<void> {
  const file = await open(path, 'wx', 0o600)
  try {
    await file.writeFile(bytes)
    await file.sync()
  } finally {
    await file.close()
  }
  const directory = await open(dir, 'r')
  try {
    await directory.sync()
  } finally {
    await directory.close()
  }
}

/**
 * Camera snapshots: image files under DATA_DIR/snapshots/{deviceId}/, indexed in SQLite (migration 008). A
 * snapshot is acknowledged only once its file is on disk and its index and outbox rows are committed; a file
 * whose index row was never committed (a crash between the two) is removed by the start-up sweep.
 */
export class SnapshotStore {
  private readonly madeDirs = new Set<string>()

  constructor(
    readonly dir: string,
    private readonly store: Store,
    private readonly writer: LedgerWriter,
    private readonly log: Logger,
    private readonly options: SnapshotOptions,
  ) {}

  /** Creates the directory and removes files the index does not know (left by a crash before commit). */
  start(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    const indexed = new Set(this.store.cameras.allFiles())
    let removed = 0
    for (const deviceDir of readdirSync(this.dir, { withFileTypes: true })) {
      if (!deviceDir.isDirectory()) continue
      for (const name of readdirSync(join(this.dir, deviceDir.name))) {
        const rel = `${deviceDir.name}/${name}`
        if (indexed.has(rel)) continue
        rmSync(join(this.dir, rel), { force: true })
        removed += 1
      }
    }
    if (removed > 0) this.log.warn({ removed }, 'removed snapshot files that were never indexed')
  }

  /** Writes the image file; the returned input is committed by `camera.snapshot` or `camera.answer`. */
  async writeFile(s: NewSnapshot): Promise<SnapshotInput> {
    const snapshotId = randomUUID().replaceAll('-', '')
    const deviceDir = join(this.dir, s.deviceId)
    if (!this.madeDirs.has(deviceDir)) {
      await mkdir(deviceDir, { recursive: true, mode: 0o700 })
      this.madeDirs.add(deviceDir)
    }
    const file = `${s.deviceId}/${snapshotId}.${EXTENSION[s.contentType] ?? 'bin'}`
    await writeDurably(deviceDir, join(this.dir, file), s.bytes)
    const row: NewSnapshotRow = {
      snapshot_id: snapshotId,
      device_id: s.deviceId,
      taken_at: s.takenAt,
      received_at: Date.now(),
      size: s.bytes.length,
      sha256: createHash('sha256').update(s.bytes).digest('hex'),
      content_type: s.contentType,
      source: s.source,
      file,
    }
    return { row, quotaBytes: this.options.quotaBytes }
  }

  /** Stores a snapshot: file, then index + outbox rows in one commit. Resolves once durable. */
  async add(s: NewSnapshot): Promise<NewSnapshotRow> {
    const input = await this.writeFile(s)
    try {
      const { evicted } = await this.writer.execute('camera.snapshot', input)
      await this.evicted(evicted)
    } catch (err) {
      await this.discard(input)
      throw err
    }
    return input.row
  }

  /** A written file whose index row will not be committed. */
  async discard(input: SnapshotInput): Promise<void> {
    await unlink(join(this.dir, input.row.file)).catch(() => {})
  }

  /** Deletes the files of snapshots the quota evicted (their rows are gone already). */
  async evicted(files: EvictedFile[]): Promise<void> {
    if (files.length === 0) return
    this.log.debug({ evicted: files.length }, 'snapshot quota reached; oldest snapshots deleted')
    await Promise.all(
      files.map((f) =>
        unlink(join(this.dir, f.file)).catch((err: unknown) =>
          this.log.warn({ err, file: f.file }, 'deleting an evicted snapshot file failed'),
        ),
      ),
    )
  }

  /** The index row of a snapshot; undefined when unknown or evicted. */
  get(snapshotId: string): SnapshotRow | undefined {
    return this.store.cameras.snapshot(snapshotId)
  }

  /**
   * A snapshot's image (the sync engine reads bytes by snapshotId); undefined when it was evicted or is
   * unknown.
   */
  async read(snapshotId: string): Promise<{ bytes: Buffer; contentType: string } | undefined> {
    const row = this.get(snapshotId)
    if (!row) return undefined
    try {
      return { bytes: await readFile(join(this.dir, row.file)), contentType: row.content_type }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  /** A deleted camera's files (its index rows went with the device row: ON DELETE CASCADE). */
  async removeDevice(deviceId: string): Promise<void> {
    this.madeDirs.delete(join(this.dir, deviceId))
    await rm(join(this.dir, deviceId), { recursive: true, force: true })
  }
}
