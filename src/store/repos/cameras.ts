import type { Database } from 'better-sqlite3'

export interface SnapshotRow {
  seq: number
  snapshot_id: string
  device_id: string
  taken_at: number
  received_at: number
  size: number
  sha256: string
  content_type: string
  source: 'upload_snapshot' | 'take_snapshot'
  file: string
}

export type NewSnapshotRow = Omit<SnapshotRow, 'seq'>

export interface FirmwareRow {
  package_id: string
  name: string
  size: number
  sha256: string
  file: string
  created_at: number
}

/** Camera snapshots' index and usage (migration 008), and the firmware packages served to cameras. */
export class CamerasRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO camera_snapshots
        (snapshot_id, device_id, taken_at, received_at, size, sha256, content_type, source, file)
        VALUES (@snapshot_id, @device_id, @taken_at, @received_at, @size, @sha256, @content_type, @source, @file)`),
      get: db.prepare('SELECT * FROM camera_snapshots WHERE snapshot_id = ?'),
      usage: db.prepare('SELECT bytes, count FROM camera_snapshot_usage WHERE id = 1'),
      oldest: db.prepare('SELECT * FROM camera_snapshots WHERE seq <> ? ORDER BY seq LIMIT ?'),
      delete: db.prepare('DELETE FROM camera_snapshots WHERE seq = ?'),
      page: db.prepare(`SELECT * FROM camera_snapshots WHERE device_id = @deviceId
        AND taken_at >= @from AND taken_at < @to ORDER BY taken_at DESC, seq DESC LIMIT @limit OFFSET @offset`),
      count: db
        .prepare(
          'SELECT count(*) FROM camera_snapshots WHERE device_id = @deviceId AND taken_at >= @from AND taken_at < @to',
        )
        .pluck(),
      allFiles: db.prepare('SELECT file FROM camera_snapshots').pluck(),
      insertFirmware:
        db.prepare(`INSERT INTO camera_firmware (package_id, name, size, sha256, file, created_at)
        VALUES (@package_id, @name, @size, @sha256, @file, @created_at)`),
      firmware: db.prepare('SELECT * FROM camera_firmware WHERE package_id = ?'),
      firmwareList: db.prepare('SELECT * FROM camera_firmware ORDER BY created_at DESC, package_id'),
      deleteFirmware: db.prepare('DELETE FROM camera_firmware WHERE package_id = ?'),
    }
  }

  insertSnapshot(row: NewSnapshotRow): SnapshotRow {
    const info = this.stmts.insert.run(row)
    return { ...row, seq: Number(info.lastInsertRowid) }
  }

  snapshot(snapshotId: string): SnapshotRow | undefined {
    return this.stmts.get.get(snapshotId) as SnapshotRow | undefined
  }

  usage(): { bytes: number; count: number } {
    return this.stmts.usage.get() as { bytes: number; count: number }
  }

  /**
   * Removes the oldest snapshots (insertion order), never `keepSeq`, until the total is at most `quotaBytes`;
   * returns the removed rows (their files are deleted once the transaction committed).
   */
  evictOver(quotaBytes: number, keepSeq: number): SnapshotRow[] {
    const evicted: SnapshotRow[] = []
    let { bytes } = this.usage()
    while (bytes > quotaBytes) {
      const batch = this.stmts.oldest.all(keepSeq, 64) as SnapshotRow[]
      if (batch.length === 0) break
      for (const row of batch) {
        if (bytes <= quotaBytes) break
        this.stmts.delete.run(row.seq)
        bytes -= row.size
        evicted.push(row)
      }
    }
    return evicted
  }

  /** A camera's snapshots taken in [from, to), newest first. */
  page(q: { deviceId: string; from: number; to: number; limit: number; offset: number }): SnapshotRow[] {
    return this.stmts.page.all(q) as SnapshotRow[]
  }

  countInRange(q: { deviceId: string; from: number; to: number }): number {
    return this.stmts.count.get(q) as number
  }

  /** Every indexed file (the start-up sweep removes files the index does not know). */
  allFiles(): string[] {
    return this.stmts.allFiles.all() as string[]
  }

  insertFirmware(row: FirmwareRow): void {
    this.stmts.insertFirmware.run(row)
  }

  firmware(packageId: string): FirmwareRow | undefined {
    return this.stmts.firmware.get(packageId) as FirmwareRow | undefined
  }

  firmwareList(): FirmwareRow[] {
    return this.stmts.firmwareList.all() as FirmwareRow[]
  }

  deleteFirmware(packageId: string): boolean {
    return this.stmts.deleteFirmware.run(packageId).changes > 0
  }
}
