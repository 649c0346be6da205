import type { Database } from 'better-sqlite3'
import { parsePlatformTime } from '../../time.ts'

/** One history record (REST 5.3 DeviceDataHistoryDTO): a ServiceData entry a device reported. */
export interface TelemetryRecord {
  serviceId: string
  data: Record<string, unknown>
  /** Epoch ms. */
  eventTime: number
  receivedAt: number
}

export interface TelemetryChunk {
  deviceId: string
  firstEvent: number
  lastEvent: number
  receivedAt: number
  /** ServiceData entries in `body`. */
  records: number
  /** JSON array of deviceReq messages (see migration 002). */
  body: string
}

interface ChunkRow {
  id: number
  records: number
  received_at: number
  body: string
}

interface StoredMessage {
  data: { serviceId: string; serviceData: Record<string, unknown>; eventTime: string }[]
}

/** Telemetry history, stored as per-device chunks (migration 002); read back as records. */
export class TelemetryRepo {
  private readonly stmts

  constructor(private readonly db: Database) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO telemetry_chunk (device_id, first_event, last_event, received_at, records, body)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      newestFirst: db.prepare(
        'SELECT id, records, received_at, body FROM telemetry_chunk WHERE device_id = ? ORDER BY id DESC',
      ),
      chunk: db.prepare('SELECT * FROM telemetry_chunk WHERE id = ?'),
      countForDevice: db
        .prepare('SELECT coalesce(sum(records), 0) FROM telemetry_chunk WHERE device_id = ?')
        .pluck(),
      count: db.prepare('SELECT coalesce(sum(records), 0) FROM telemetry_chunk').pluck(),
      deleteDevice: db.prepare('DELETE FROM telemetry_chunk WHERE device_id = ?'),
    }
  }

  /** Appends a chunk; returns its id. */
  insert(chunk: TelemetryChunk): number {
    const c = chunk
    const info = this.stmts.insert.run(c.deviceId, c.firstEvent, c.lastEvent, c.receivedAt, c.records, c.body)
    return Number(info.lastInsertRowid)
  }

  /** The chunk's JSON body and metadata, e.g. for the sync engine; undefined once deleted. */
  chunk(id: number): (TelemetryChunk & { id: number }) | undefined {
    const row = this.stmts.chunk.get(id) as
      | (ChunkRow & { device_id: string; first_event: number; last_event: number })
      | undefined
    if (!row) return undefined
    return {
      id: row.id,
      deviceId: row.device_id,
      firstEvent: row.first_event,
      lastEvent: row.last_event,
      receivedAt: row.received_at,
      records: row.records,
      body: row.body,
    }
  }

  /** A device's records, newest stored first. Whole chunks before `offset` are skipped unread. */
  forDevice(deviceId: string, limit = 100, offset = 0): TelemetryRecord[] {
    const out: TelemetryRecord[] = []
    let skip = offset
    for (const row of this.stmts.newestFirst.iterate(deviceId) as IterableIterator<ChunkRow>) {
      if (out.length >= limit) break
      if (skip >= row.records) {
        skip -= row.records
        continue
      }
      const records = recordsOf(row).reverse()
      for (const record of records.slice(skip, skip + limit - out.length)) out.push(record)
      skip = 0
    }
    return out
  }

  /**
   * REST §5.3: the records of some devices whose eventTime is inside the window (exclusive ends), newest stored
   * first, one page of them and the total. Chunks wholly inside the window are counted from their `records`
   * column and read only when they hold part of the page; only chunks straddling an end are parsed to count.
   */
  history(q: {
    deviceIds: string[]
    after?: number | undefined
    before?: number | undefined
    limit: number
    offset: number
  }): { total: number; records: (TelemetryRecord & { deviceId: string })[] } {
    if (q.deviceIds.length === 0) return { total: 0, records: [] }
    const after = q.after ?? Number.NEGATIVE_INFINITY
    const before = q.before ?? Number.POSITIVE_INFINITY
    const inWindow = (r: TelemetryRecord) => r.eventTime > after && r.eventTime < before
    const metas = this.db
      .prepare(
        `SELECT id, device_id, first_event, last_event, records FROM telemetry_chunk
         WHERE device_id IN (${q.deviceIds.map(() => '?').join(', ')}) AND last_event > ? AND first_event < ?
         ORDER BY id DESC`,
      )
      .all(...q.deviceIds, Math.max(after, -8.64e15), Math.min(before, 8.64e15)) as {
      id: number
      device_id: string
      first_event: number
      last_event: number
      records: number
    }[]
    const bodyOf = this.db.prepare('SELECT id, records, received_at, body FROM telemetry_chunk WHERE id = ?')
    const matching = new Map<number, TelemetryRecord[]>()
    const counts = metas.map((m) => {
      if (m.first_event > after && m.last_event < before) return m.records
      const records = recordsOf(bodyOf.get(m.id) as ChunkRow).filter(inWindow)
      matching.set(m.id, records)
      return records.length
    })
    const total = counts.reduce((a, b) => a + b, 0)
    const records: (TelemetryRecord & { deviceId: string })[] = []
    let skip = q.offset
    for (const [i, m] of metas.entries()) {
      if (records.length >= q.limit) break
      if (skip >= counts[i]!) {
        skip -= counts[i]!
        continue
      }
      const inChunk = (matching.get(m.id) ?? recordsOf(bodyOf.get(m.id) as ChunkRow)).reverse()
      for (const r of inChunk.slice(skip, skip + q.limit - records.length))
        records.push({ ...r, deviceId: m.device_id })
      skip = 0
    }
    return { total, records }
  }

  countForDevice(deviceId: string): number {
    return this.stmts.countForDevice.get(deviceId) as number
  }

  count(): number {
    return this.stmts.count.get() as number
  }

  deleteDevice(deviceId: string): void {
    this.stmts.deleteDevice.run(deviceId)
  }
}

/** A chunk's records in stored order. */
function recordsOf(row: ChunkRow): TelemetryRecord[] {
  const records: TelemetryRecord[] = []
  for (const message of JSON.parse(row.body) as StoredMessage[]) {
    for (const entry of message.data) {
      records.push({
        serviceId: entry.serviceId,
        data: entry.serviceData,
        eventTime: parsePlatformTime(entry.eventTime) ?? row.received_at,
        receivedAt: row.received_at,
      })
    }
  }
  return records
}
