import type { Database, Statement } from 'better-sqlite3'

export type DeviceStatus = 'ONLINE' | 'OFFLINE' | 'INACTIVE' | 'ABNORMAL'

export interface DeviceRow {
  device_id: string
  app_id: string
  node_id: string
  secret: string
  psk: string
  gateway_id: string
  node_type: string
  name: string | null
  device_type: string | null
  model: string | null
  manufacturer_id: string | null
  manufacturer_name: string | null
  protocol_type: string | null
  product_id: string | null
  location: string | null
  info_json: string
  status: DeviceStatus
  status_detail: string
  mute: string
  activated: number
  shadow_version: number
  created_at: number
  modified_at: number
  last_seen_at: number | null
  /** The device group it belongs to (§10), if any. */
  group_id: string | null
}

export type NewDevice = Omit<
  DeviceRow,
  'status' | 'status_detail' | 'mute' | 'activated' | 'shadow_version' | 'last_seen_at' | 'group_id'
>

/** The device registry: identity, credentials, descriptive info and connection status. */
export class DevicesRepo {
  private readonly stmts
  /** §5.2 searches' prepared statements, by WHERE clause and order. */
  private readonly searches = new Map<string, { count: Statement; page: Statement }>()

  /**
   * Called after each write of a device row through this repository, with its deviceId (null: any row may
   * have changed). The main thread invalidates its cached device views with it (devices/view-cache.ts); the
   * writer thread collects the ids of a batch and reports them with its result (telemetry/ingest-worker.ts).
   */
  onWrite: (deviceId: string | null) => void = () => {}

  constructor(private readonly db: Database) {
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO devices (device_id, app_id, node_id, secret, psk, gateway_id, node_type, name,
        device_type, model, manufacturer_id, manufacturer_name, protocol_type, product_id, location, info_json,
        created_at, modified_at) VALUES (@device_id, @app_id, @node_id, @secret, @psk, @gateway_id, @node_type, @name,
        @device_type, @model, @manufacturer_id, @manufacturer_name, @protocol_type, @product_id, @location, @info_json,
        @created_at, @modified_at)`),
      byId: db.prepare('SELECT * FROM devices WHERE device_id = ?'),
      byNodeId: db.prepare('SELECT * FROM devices WHERE node_id = ?'),
      byIds: db.prepare('SELECT * FROM devices WHERE device_id IN (SELECT value FROM json_each(?))'),
      delete: db.prepare('DELETE FROM devices WHERE device_id = ?'),
      children: db.prepare('SELECT device_id FROM devices WHERE gateway_id = ? AND device_id <> ?').pluck(),
      underGateway: db.prepare(
        'SELECT * FROM devices WHERE app_id = ? AND gateway_id = ? ORDER BY created_at',
      ),
      detach: db.prepare('UPDATE devices SET gateway_id = device_id, modified_at = ? WHERE device_id = ?'),
      setOnline: db.prepare(
        "UPDATE devices SET status = 'ONLINE', status_detail = 'NONE', activated = 1, last_seen_at = ? WHERE device_id = ?",
      ),
      setOffline: db.prepare(
        "UPDATE devices SET status = 'OFFLINE', status_detail = 'NONE', last_seen_at = ? WHERE device_id = ?",
      ),
      resetOnline: db.prepare(
        "UPDATE devices SET status = 'OFFLINE', status_detail = 'COMMUNICATION_ERROR' WHERE status = 'ONLINE'",
      ),
      bumpShadow: db.prepare(
        'UPDATE devices SET shadow_version = shadow_version + ?, last_seen_at = ? WHERE device_id = ?',
      ),
      count: db.prepare('SELECT count(*) FROM devices').pluck(),
    }
  }

  insert(row: NewDevice): void {
    this.stmts.insert.run(row)
    this.onWrite(row.device_id)
  }

  get(deviceId: string): DeviceRow | undefined {
    return this.stmts.byId.get(deviceId) as DeviceRow | undefined
  }

  getByNodeId(nodeId: string): DeviceRow | undefined {
    return this.stmts.byNodeId.get(nodeId) as DeviceRow | undefined
  }

  delete(deviceId: string): boolean {
    const deleted = this.stmts.delete.run(deviceId).changes > 0
    this.onWrite(deviceId)
    return deleted
  }

  /** Rows of the given devices, in no particular order (those that do not exist are left out). */
  getMany(deviceIds: string[]): DeviceRow[] {
    return this.stmts.byIds.all(JSON.stringify(deviceIds)) as DeviceRow[]
  }

  /**
   * §5.2: the ids of one page of an application's devices matching every given filter, by creation time then
   * deviceId, and the total. Statements are prepared once per combination of filters and kept; with no filter
   * but the application, index devices_app_created_id (migration 012) serves both the order and the ids.
   */
  searchIds(q: {
    appId: string
    gatewayId?: string | undefined
    nodeType?: string | undefined
    deviceType?: string | undefined
    location?: string | undefined
    name?: string | undefined
    status?: string | undefined
    after?: number | undefined
    before?: number | undefined
    ascending: boolean
    limit: number
    offset: number
  }): { total: number; ids: string[] } {
    const where = ['app_id = ?']
    const params: unknown[] = [q.appId]
    for (const [clause, value] of [
      ['gateway_id = ?', q.gatewayId],
      ['node_type = ?', q.nodeType],
      ['device_type = ?', q.deviceType],
      ['location = ?', q.location],
      ['name = ?', q.name],
      ['status = ?', q.status],
      ['created_at > ?', q.after],
      ['created_at < ?', q.before],
    ] as const) {
      if (value === undefined) continue
      where.push(clause)
      params.push(value)
    }
    const clause = where.join(' AND ')
    const order = q.ascending ? 'ASC' : 'DESC'
    const key = `${clause} ${order}`
    let search = this.searches.get(key)
    if (!search) {
      // At most 2^8 filter combinations × 2 orders: the map stays small.
      search = {
        count: this.db.prepare(`SELECT count(*) FROM devices WHERE ${clause}`).pluck(),
        page: this.db
          .prepare(
            `SELECT device_id FROM devices WHERE ${clause} ORDER BY created_at ${order}, device_id ${order} LIMIT ? OFFSET ?`,
          )
          .pluck(),
      }
      this.searches.set(key, search)
    }
    const total = search.count.get(...params) as number
    const ids = search.page.all(...params, q.limit, q.offset) as string[]
    return { total, ids }
  }

  /** Sets device columns (§4.4); modified_at is stamped. */
  update(
    deviceId: string,
    changes: Partial<
      Pick<
        DeviceRow,
        | 'name'
        | 'device_type'
        | 'model'
        | 'manufacturer_id'
        | 'manufacturer_name'
        | 'protocol_type'
        | 'product_id'
        | 'location'
        | 'mute'
        | 'psk'
        | 'info_json'
        | 'node_id'
      >
    >,
    at: number,
  ): void {
    const keys = Object.keys(changes)
    const sets = [...keys.map((k) => `${k} = @${k}`), 'modified_at = @modified_at'].join(', ')
    this.db
      .prepare(`UPDATE devices SET ${sets} WHERE device_id = @device_id`)
      .run({ ...changes, modified_at: at, device_id: deviceId })
    this.onWrite(deviceId)
  }

  /** Makes a device directly connected (gatewayId = its own deviceId), as when its gateway is deleted (§4.5). */
  detach(deviceId: string, at: number): void {
    this.stmts.detach.run(at, deviceId)
    this.onWrite(deviceId)
  }

  /** An application's device ids matching every given field (§9.1 DeviceType / DeviceArea / Broadcast). */
  idsMatching(
    appId: string,
    match: Partial<Pick<DeviceRow, 'device_type' | 'manufacturer_id' | 'model' | 'location'>>,
  ): string[] {
    const fields = Object.entries(match).filter(([, v]) => v !== undefined)
    const where = ['app_id = ?', ...fields.map(([k]) => `${k} = ?`)].join(' AND ')
    return this.db
      .prepare(`SELECT device_id FROM devices WHERE ${where} ORDER BY created_at`)
      .pluck()
      .all(appId, ...fields.map(([, v]) => v)) as string[]
  }

  /** An application's devices whose gatewayId is `gatewayId` (the gateway itself included). */
  underGateway(appId: string, gatewayId: string): DeviceRow[] {
    return this.stmts.underGateway.all(appId, gatewayId) as DeviceRow[]
  }

  /** Devices attached through this one (gatewayId = deviceId), excluding itself. */
  children(deviceId: string): string[] {
    return this.stmts.children.all(deviceId, deviceId) as string[]
  }

  setOnline(deviceId: string, at: number): void {
    this.stmts.setOnline.run(at, deviceId)
    this.onWrite(deviceId)
  }

  setOffline(deviceId: string, at: number): void {
    this.stmts.setOffline.run(at, deviceId)
    this.onWrite(deviceId)
  }

  /** At start no device is connected yet: whatever was ONLINE when the process stopped is not any more. */
  resetOnline(): number {
    const changes = this.stmts.resetOnline.run().changes
    this.onWrite(null)
    return changes
  }

  bumpShadowVersion(deviceId: string, by: number, at: number): void {
    this.stmts.bumpShadow.run(by, at, deviceId)
    this.onWrite(deviceId)
  }

  count(): number {
    return this.stmts.count.get() as number
  }
}
