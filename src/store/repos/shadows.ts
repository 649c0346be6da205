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
}

/** Device shadows: one row per (device, service) with its reported and desired sections. */
export class ShadowsRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      forDevice: db.prepare('SELECT * FROM shadows WHERE device_id = ? ORDER BY service_id'),
      one: db.prepare('SELECT * FROM shadows WHERE device_id = ? AND service_id = ?'),
      upsertReported:
        db.prepare(`INSERT INTO shadows (device_id, service_id, service_type, reported_json, version, event_time, modified_at)
        VALUES (@device_id, @service_id, @service_type, @reported_json, @version, @event_time, @modified_at)
        ON CONFLICT(device_id, service_id) DO UPDATE SET reported_json = excluded.reported_json,
        version = excluded.version, event_time = excluded.event_time, modified_at = excluded.modified_at`),
    }
  }

  forDevice(deviceId: string): ShadowRow[] {
    return this.stmts.forDevice.all(deviceId) as ShadowRow[]
  }

  get(deviceId: string, serviceId: string): ShadowRow | undefined {
    return this.stmts.one.get(deviceId, serviceId) as ShadowRow | undefined
  }

  upsertReported(row: Omit<ShadowRow, 'desired_json'>): void {
    this.stmts.upsertReported.run(row)
  }
}
