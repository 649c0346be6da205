import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { FirmwareRow } from '../store/repos/cameras.ts'

/**
 * Firmware packages for upgrade_dev (C.8): uploaded through the admin API, kept as files under DATA_DIR/firmware
 * and described in SQLite, served to cameras by the gateway's own HTTP server so upgrades work with the uplink
 * down (C.8 gateway note).
 */
export class FirmwareStore {
  constructor(
    readonly dir: string,
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  start(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
  }

  /** Stores a package (durably: the file is fsynced before its row is committed). */
  async add(name: string, bytes: Buffer): Promise<FirmwareRow> {
    const packageId = randomUUID().replaceAll('-', '')
    const file = `${packageId}.bin`
    const handle = await open(join(this.dir, file), 'wx', 0o600)
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    const row: FirmwareRow = {
      package_id: packageId,
      name,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      file,
      created_at: Date.now(),
    }
    this.store.transaction(() => this.store.cameras.insertFirmware(row))
    this.log.info({ packageId, name, size: row.size }, 'firmware package stored')
    return row
  }

  get(packageId: string): FirmwareRow | undefined {
    return this.store.cameras.firmware(packageId)
  }

  list(): FirmwareRow[] {
    return this.store.cameras.firmwareList()
  }

  pathOf(row: FirmwareRow): string {
    return join(this.dir, row.file)
  }

  async remove(packageId: string): Promise<boolean> {
    const row = this.get(packageId)
    if (!row) return false
    this.store.transaction(() => this.store.cameras.deleteFirmware(packageId))
    await unlink(this.pathOf(row)).catch(() => {})
    return true
  }
}
