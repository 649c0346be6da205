// Device views served from memory (issue 4 item 8: ≥ 10,000 shadow queries a second). The shadow query (spec
// §4.9) and the device queries (§5.1, §5.2) are pure functions of a device's row and its shadow rows; reading
// those rows from SQLite and serialising them was most of the cost of a request. Each device's rows are kept
// here with the JSON bodies made from them, and a device's entry is dropped whenever anything writes its rows:
//   - main-thread writes (registry: register, modify, nodeId, delete, status) call DevicesRepo/ShadowsRepo
//     onWrite synchronously;
//   - writer-thread writes (reports, desired state, command, camera, serial and sync ops) are reported with each
//     batch's result (IngestService.onDevicesWritten) before any of the batch's PUBACKs or REST answers go out.
// So whoever has learnt of a write (its PUBACK, its REST answer, its notification) reads it, and a read that
// races a commit sees either state, as it would from SQLite. What the views show holds no column that is
// written elsewhere (group_id, last_mid, activated, last_seen_at and shadow_version are not in them).

import { shadowViewOf } from '../shadows/service.ts'
import type { Store } from '../store/index.ts'
import type { DeviceRow } from '../store/repos/devices.ts'
import type { ShadowRow } from '../store/repos/shadows.ts'
import { deviceInfoOf, deviceRecordOf } from './view.ts'

/** Entries kept at most (a few KB each); beyond, the oldest loaded goes first and is read again when asked. */
export const MAX_CACHED_DEVICES = 10_000

interface Entry {
  row: DeviceRow
  /** Its shadow rows by service id. */
  shadows: ShadowRow[]
  /** The §4.9 body, the §5.1 record and the §5.1 record with imsi (`select=imsi`), made when first asked. */
  shadowJson?: string
  recordJson?: string
  recordImsiJson?: string
}

export class DeviceViewCache {
  private readonly entries = new Map<string, Entry>()
  /** Runs a function in one read transaction (one WAL snapshot, one lock round trip for all its reads). */
  private readonly inRead: <T>(read: () => T) => T

  constructor(
    private readonly store: Store,
    private readonly maxDevices = MAX_CACHED_DEVICES,
  ) {
    const txn = store.db.transaction((read: () => unknown) => read())
    this.inRead = <T>(read: () => T) => txn.deferred(read) as T
  }

  /** The §4.9 body of an application's device as JSON; undefined when there is no such device of that app. */
  shadowJson(appId: string, deviceId: string): string | undefined {
    const entry = this.entry(deviceId)
    if (!entry || entry.row.app_id !== appId) return undefined
    entry.shadowJson ??= JSON.stringify(shadowViewOf(entry.row, entry.shadows, deviceInfoOf(entry.row)))
    return entry.shadowJson
  }

  /** The §5.1 record of an application's device as JSON; undefined when there is no such device of that app. */
  recordJson(appId: string, deviceId: string, imsi: boolean): string | undefined {
    const entry = this.entry(deviceId)
    if (!entry || entry.row.app_id !== appId) return undefined
    return recordOf(entry, imsi)
  }

  /**
   * One §5.2 page: `search` (run in the same read transaction as the loads, so the page and its devices come
   * from one snapshot) names the page's devices; their records as JSON, in that order. Devices not cached are
   * read with one query for their rows and one for all their shadows.
   */
  page(search: () => { total: number; ids: string[] }, imsi: boolean): { total: number; records: string[] } {
    return this.inRead(() => {
      const { total, ids } = search()
      const missing = ids.filter((id) => !this.entries.has(id))
      if (missing.length > 0) this.load(missing)
      const records: string[] = []
      for (const id of ids) {
        const entry = this.entries.get(id)
        if (entry) records.push(recordOf(entry, imsi))
      }
      return { total, records }
    })
  }

  /** Drops a device's views (null: every device's). */
  invalidate(deviceId: string | null): void {
    if (deviceId === null) this.entries.clear()
    else this.entries.delete(deviceId)
  }

  /** Drops the views of the devices a writer batch wrote (null: every device's). */
  invalidateMany(deviceIds: readonly string[] | null): void {
    if (deviceIds === null) this.entries.clear()
    else for (const id of deviceIds) this.entries.delete(id)
  }

  get size(): number {
    return this.entries.size
  }

  private entry(deviceId: string): Entry | undefined {
    const hit = this.entries.get(deviceId)
    if (hit) return hit
    const loaded = this.inRead(() => {
      const row = this.store.devices.get(deviceId)
      return row ? { row, shadows: this.store.shadows.forDevice(deviceId) } : undefined
    })
    if (loaded) this.keep(loaded)
    return loaded
  }

  /** Reads several devices' rows and shadows (inside the caller's read transaction) and keeps them. */
  private load(deviceIds: string[]): void {
    const shadows = new Map<string, ShadowRow[]>()
    for (const s of this.store.shadows.forDevices(deviceIds)) {
      const list = shadows.get(s.device_id)
      if (list) list.push(s)
      else shadows.set(s.device_id, [s])
    }
    for (const row of this.store.devices.getMany(deviceIds)) {
      this.keep({ row, shadows: shadows.get(row.device_id) ?? [] })
    }
  }

  private keep(entry: Entry): void {
    // Oldest loaded first (a Map iterates in insertion order): cheaper than a true LRU on every hit, and the
    // bound only matters on sites with more devices than it.
    if (this.entries.size >= this.maxDevices) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(entry.row.device_id, entry)
  }
}

function recordOf(entry: Entry, imsi: boolean): string {
  if (imsi) {
    entry.recordImsiJson ??= JSON.stringify(deviceRecordOf(entry.row, entry.shadows, true))
    return entry.recordImsiJson
  }
  entry.recordJson ??= JSON.stringify(deviceRecordOf(entry.row, entry.shadows, false))
  return entry.recordJson
}
