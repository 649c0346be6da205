import type { Database } from 'better-sqlite3'

export interface TelemetryRow {
  id: number
  device_id: string
  service_id: string
  event_time: number
  received_at: number
  data_json: string
}

/** Telemetry history: one row per reported service entry. */
export class TelemetryRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      insert: db.prepare(
        'INSERT INTO telemetry (device_id, service_id, event_time, received_at, data_json) VALUES (?, ?, ?, ?, ?)',
      ),
      forDevice: db.prepare(
        'SELECT * FROM telemetry WHERE device_id = ? ORDER BY event_time DESC, id DESC LIMIT ? OFFSET ?',
      ),
      countForDevice: db.prepare('SELECT count(*) FROM telemetry WHERE device_id = ?').pluck(),
      count: db.prepare('SELECT count(*) FROM telemetry').pluck(),
      deleteDevice: db.prepare('DELETE FROM telemetry WHERE device_id = ?'),
    }
  }

  insert(deviceId: string, serviceId: string, eventTime: number, receivedAt: number, dataJson: string): void {
    this.stmts.insert.run(deviceId, serviceId, eventTime, receivedAt, dataJson)
  }

  /** Newest first. */
  forDevice(deviceId: string, limit = 100, offset = 0): TelemetryRow[] {
    return this.stmts.forDevice.all(deviceId, limit, offset) as TelemetryRow[]
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
