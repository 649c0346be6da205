import type { Database } from 'better-sqlite3'

export interface ShadowRow {
  device_id: string
  service_id: string
  service_type: string
  reported_json: string
  desired_json: string
  version: number
  event_time: number | null
  modified_at: number
  desired_version: number
  desired_status: DesiredStatus | null
}

/** Where a service's desired section stands (migration 003). */
export type DesiredStatus = 'PENDING' | 'DELIVERED' | 'FAILED' | 'SETTLED'

export interface DesiredHistoryRow {
  device_id: string
  service_id: string
  desired: string
  version: number
  at: number
}

/** Device shadows: one row per (device, service) with its reported and desired sections. */
export class ShadowsRepo {
  private readonly stmts

  /** Called after each write of a shadow row, with its deviceId (as DevicesRepo.onWrite). */
  onWrite: (deviceId: string) => void = () => {}

  constructor(private readonly db: Database) {
    this.stmts = {
      forDevice: db.prepare('SELECT * FROM shadows WHERE device_id = ? ORDER BY service_id'),
      forDevices: db.prepare(
        'SELECT * FROM shadows WHERE device_id IN (SELECT value FROM json_each(?)) ORDER BY device_id, service_id',
      ),
      one: db.prepare('SELECT * FROM shadows WHERE device_id = ? AND service_id = ?'),
      upsertReported:
        db.prepare(`INSERT INTO shadows (device_id, service_id, service_type, reported_json, version, event_time, modified_at)
        VALUES (@device_id, @service_id, @service_type, @reported_json, @version, @event_time, @modified_at)
        ON CONFLICT(device_id, service_id) DO UPDATE SET reported_json = excluded.reported_json,
        version = excluded.version, event_time = excluded.event_time, modified_at = excluded.modified_at`),
      setDesired:
        db.prepare(`INSERT INTO shadows (device_id, service_id, service_type, desired_json, desired_version,
          desired_status, modified_at)
        VALUES (@device_id, @service_id, @service_type, @desired_json, @desired_version, 'PENDING', @modified_at)
        ON CONFLICT(device_id, service_id) DO UPDATE SET desired_json = excluded.desired_json,
        desired_version = excluded.desired_version, desired_status = 'PENDING', modified_at = excluded.modified_at`),
      // SETTLED is final for its version: the desired command's late answer (or timeout) must not undo it.
      setDesiredStatus: db.prepare(
        `UPDATE shadows SET desired_status = ? WHERE device_id = ? AND service_id = ? AND desired_version = ?
          AND desired_status IS NOT 'SETTLED'`,
      ),
      addHistory: db.prepare(
        'INSERT INTO shadow_desired_history (device_id, service_id, desired, version, at) VALUES (?, ?, ?, ?, ?)',
      ),
    }
  }

  /** Sets a service's desired section (status PENDING); creates the shadow row when the service has none. */
  setDesired(row: {
    device_id: string
    service_id: string
    service_type: string
    desired_json: string
    desired_version: number
    modified_at: number
  }): void {
    this.stmts.setDesired.run(row)
    this.stmts.addHistory.run(
      row.device_id,
      row.service_id,
      row.desired_json,
      row.desired_version,
      row.modified_at,
    )
    this.onWrite(row.device_id)
  }

  /** Moves the desired section of `version` on (a newer desired version, or a SETTLED one, is left alone). */
  setDesiredStatus(deviceId: string, serviceId: string, version: number, status: DesiredStatus): void {
    this.stmts.setDesiredStatus.run(status, deviceId, serviceId, version)
    this.onWrite(deviceId)
  }

  /** §5.4: desired changes, newest first. */
  desiredHistory(q: {
    deviceIds: string[]
    serviceId?: string | undefined
    property?: string | undefined
    after?: number | undefined
    before?: number | undefined
    limit: number
    offset: number
  }): { total: number; rows: DesiredHistoryRow[] } {
    if (q.deviceIds.length === 0) return { total: 0, rows: [] }
    const where = [`device_id IN (${q.deviceIds.map(() => '?').join(', ')})`]
    const params: unknown[] = [...q.deviceIds]
    if (q.serviceId !== undefined) {
      where.push('service_id = ?')
      params.push(q.serviceId)
    }
    if (q.property !== undefined) {
      where.push("json_type(desired, '$.' || json_quote(?)) IS NOT NULL")
      params.push(q.property)
    }
    if (q.after !== undefined) {
      where.push('at > ?')
      params.push(q.after)
    }
    if (q.before !== undefined) {
      where.push('at < ?')
      params.push(q.before)
    }
    const clause = where.join(' AND ')
    const total = this.db
      .prepare(`SELECT count(*) FROM shadow_desired_history WHERE ${clause}`)
      .pluck()
      .get(...params)
    const rows = this.db
      .prepare(
        `SELECT * FROM shadow_desired_history WHERE ${clause} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(...params, q.limit, q.offset) as DesiredHistoryRow[]
    return { total: total as number, rows }
  }

  forDevice(deviceId: string): ShadowRow[] {
    return this.stmts.forDevice.all(deviceId) as ShadowRow[]
  }

  /** The shadow rows of several devices in one query, by device then service id. */
  forDevices(deviceIds: string[]): ShadowRow[] {
    return this.stmts.forDevices.all(JSON.stringify(deviceIds)) as ShadowRow[]
  }

  get(deviceId: string, serviceId: string): ShadowRow | undefined {
    return this.stmts.one.get(deviceId, serviceId) as ShadowRow | undefined
  }

  upsertReported(row: Omit<ShadowRow, 'desired_json' | 'desired_version' | 'desired_status'>): void {
    this.stmts.upsertReported.run(row)
    this.onWrite(row.device_id)
  }
}
