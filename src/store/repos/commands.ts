import type { Database } from 'better-sqlite3'

/** Command statuses (spec §2.8). */
export type CommandStatus =
  | 'PENDING'
  | 'SENT'
  | 'DELIVERED'
  | 'SUCCESSFUL'
  | 'FAILED'
  | 'TIMEOUT'
  | 'EXPIRED'
  | 'CANCELED'

export const FINAL_STATUSES: readonly CommandStatus[] = [
  'SUCCESSFUL',
  'FAILED',
  'TIMEOUT',
  'EXPIRED',
  'CANCELED',
]

// cloud: asked for by the cloud platform through the upstream link (sync/cloud-requests.ts).
export type CommandOrigin = 'ledger' | 'direct' | 'desired' | 'rpc' | 'invoke' | 'cloud'
export type CommandDelivery = 'queued' | 'immediate'

export interface CommandRow {
  seq: number
  command_id: string
  app_id: string
  device_id: string
  origin: CommandOrigin
  delivery: CommandDelivery
  service_id: string
  method: string
  paras_json: string
  callback_url: string | null
  expire_time: number | null
  expires_at: number | null
  max_retransmit: number
  status: CommandStatus
  result_json: string | null
  mid: number | null
  request_id: string | null
  extra_json: string | null
  batch_task_id: string | null
  creation_time: number
  platform_issued_time: number | null
  delivered_time: number | null
  execute_time: number | null
  issued_times: number
  response_deadline: number | null
}

export type NewCommandRow = Pick<
  CommandRow,
  | 'command_id'
  | 'app_id'
  | 'device_id'
  | 'origin'
  | 'delivery'
  | 'service_id'
  | 'method'
  | 'paras_json'
  | 'callback_url'
  | 'expire_time'
  | 'expires_at'
  | 'max_retransmit'
  | 'request_id'
  | 'extra_json'
  | 'batch_task_id'
  | 'creation_time'
>

export interface CommandQuery {
  appId: string
  deviceId?: string | undefined
  origins: CommandOrigin[]
  /** Creation time window, epoch ms, exclusive (§8.2 "after" / "before"). */
  after?: number | undefined
  before?: number | undefined
  limit: number
  offset: number
}

/** The command ledger. Writes happen in the writer thread (commands/ledger-ops.ts); reads anywhere. */
export class CommandsRepo {
  private readonly stmts

  constructor(private readonly db: Database) {
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO commands (command_id, app_id, device_id, origin, delivery, service_id, method,
          paras_json, callback_url, expire_time, expires_at, max_retransmit, status, request_id, extra_json,
          batch_task_id, creation_time)
        VALUES (@command_id, @app_id, @device_id, @origin, @delivery, @service_id, @method, @paras_json,
          @callback_url, @expire_time, @expires_at, @max_retransmit, 'PENDING', @request_id, @extra_json,
          @batch_task_id, @creation_time)`),
      byId: db.prepare('SELECT * FROM commands WHERE command_id = ?'),
      byRequest: db.prepare('SELECT * FROM commands WHERE app_id = ? AND origin = ? AND request_id = ?'),
      byMid: db.prepare(
        "SELECT * FROM commands WHERE device_id = ? AND mid = ? AND status IN ('SENT', 'DELIVERED') ORDER BY seq DESC LIMIT 1",
      ),
      latestByMid: db.prepare(
        'SELECT * FROM commands WHERE device_id = ? AND mid = ? AND origin = ? ORDER BY seq DESC LIMIT 1',
      ),
      pendingCount: db
        .prepare("SELECT count(*) FROM commands WHERE device_id = ? AND status = 'PENDING'")
        .pluck(),
      nextQueued: db.prepare(
        "SELECT * FROM commands WHERE device_id = ? AND status = 'PENDING' AND delivery = 'queued' ORDER BY seq LIMIT 1",
      ),
      queuedInFlight: db.prepare(
        "SELECT * FROM commands WHERE device_id = ? AND delivery = 'queued' AND status IN ('SENT', 'DELIVERED') LIMIT 1",
      ),
      inFlight: db.prepare("SELECT * FROM commands WHERE status IN ('SENT', 'DELIVERED') ORDER BY seq"),
      inFlightOf: db.prepare(
        "SELECT * FROM commands WHERE device_id = ? AND status IN ('SENT', 'DELIVERED') ORDER BY seq",
      ),
      midInUse: db
        .prepare("SELECT 1 FROM commands WHERE device_id = ? AND mid = ? AND status IN ('SENT', 'DELIVERED')")
        .pluck(),
      expiredPending: db.prepare(
        "SELECT * FROM commands WHERE status = 'PENDING' AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY seq",
      ),
      nextExpiry: db
        .prepare("SELECT min(expires_at) FROM commands WHERE status = 'PENDING' AND expires_at IS NOT NULL")
        .pluck(),
      pendingOfDevice: db.prepare(
        "SELECT * FROM commands WHERE device_id = ? AND status = 'PENDING' AND origin IN ('ledger') ORDER BY seq",
      ),
      pendingDesired: db.prepare(
        "SELECT * FROM commands WHERE device_id = ? AND origin = 'desired' AND service_id = ? AND status = 'PENDING'",
      ),
      ofBatch: db.prepare('SELECT * FROM commands WHERE batch_task_id = ? ORDER BY seq'),
      lastMid: db.prepare('SELECT last_mid FROM devices WHERE device_id = ?').pluck(),
      setLastMid: db.prepare('UPDATE devices SET last_mid = ? WHERE device_id = ?'),
    }
  }

  insert(row: NewCommandRow): CommandRow {
    this.stmts.insert.run(row)
    return this.get(row.command_id)!
  }

  get(commandId: string): CommandRow | undefined {
    return this.stmts.byId.get(commandId) as CommandRow | undefined
  }

  byRequest(appId: string, origin: CommandOrigin, requestId: string): CommandRow | undefined {
    return this.stmts.byRequest.get(appId, origin, requestId) as CommandRow | undefined
  }

  /** The command awaiting the device's answer to `mid`. */
  byMid(deviceId: string, mid: number): CommandRow | undefined {
    return this.stmts.byMid.get(deviceId, mid) as CommandRow | undefined
  }

  /** The latest command of an origin sent with this mid (mids wrap, so older ones may share it). */
  latestByMid(deviceId: string, mid: number, origin: CommandOrigin): CommandRow | undefined {
    return this.stmts.latestByMid.get(deviceId, mid, origin) as CommandRow | undefined
  }

  pendingCount(deviceId: string): number {
    return this.stmts.pendingCount.get(deviceId) as number
  }

  nextQueued(deviceId: string): CommandRow | undefined {
    return this.stmts.nextQueued.get(deviceId) as CommandRow | undefined
  }

  queuedInFlight(deviceId: string): CommandRow | undefined {
    return this.stmts.queuedInFlight.get(deviceId) as CommandRow | undefined
  }

  /** Every command sent and not answered yet (restart recovery). */
  inFlight(): CommandRow[] {
    return this.stmts.inFlight.all() as CommandRow[]
  }

  inFlightOf(deviceId: string): CommandRow[] {
    return this.stmts.inFlightOf.all(deviceId) as CommandRow[]
  }

  expiredPending(now: number): CommandRow[] {
    return this.stmts.expiredPending.all(now) as CommandRow[]
  }

  nextExpiry(): number | null {
    return this.stmts.nextExpiry.get() as number | null
  }

  /** A device's PENDING §8.1 commands (what a §8.5 cancel task cancels). */
  pendingLedger(deviceId: string): CommandRow[] {
    return this.stmts.pendingOfDevice.all(deviceId) as CommandRow[]
  }

  pendingDesired(deviceId: string, serviceId: string): CommandRow[] {
    return this.stmts.pendingDesired.all(deviceId, serviceId) as CommandRow[]
  }

  ofBatch(taskId: string): CommandRow[] {
    return this.stmts.ofBatch.all(taskId) as CommandRow[]
  }

  /**
   * The next mid for a device (A.5 gateway note): 1–65535, wrapping, skipping mids still awaiting an answer.
   * Call inside the transaction that sends the command.
   */
  allocateMid(deviceId: string): number {
    let mid = (this.stmts.lastMid.get(deviceId) as number | undefined) ?? 0
    for (let tries = 0; tries < 65535; tries++) {
      mid = (mid % 65535) + 1
      if (!this.stmts.midInUse.get(deviceId, mid)) {
        this.stmts.setLastMid.run(mid, deviceId)
        return mid
      }
    }
    throw new Error(`device ${deviceId} has 65535 commands awaiting answers`)
  }

  /** Sets columns of one command; returns the updated row. */
  update(commandId: string, changes: Partial<Omit<CommandRow, 'seq' | 'command_id'>>): CommandRow {
    const keys = Object.keys(changes)
    if (keys.length > 0) {
      const sets = keys.map((k) => `${k} = @${k}`).join(', ')
      this.db.prepare(`UPDATE commands SET ${sets} WHERE command_id = @command_id`).run({
        ...changes,
        command_id: commandId,
      })
    }
    return this.get(commandId)!
  }

  /** §8.2: an application's commands, newest first, with the total. */
  query(q: CommandQuery): { total: number; rows: CommandRow[] } {
    const where = ['app_id = @appId', `origin IN (${q.origins.map((o) => `'${o}'`).join(', ')})`]
    if (q.deviceId !== undefined) where.push('device_id = @deviceId')
    if (q.after !== undefined) where.push('creation_time > @after')
    if (q.before !== undefined) where.push('creation_time < @before')
    const clause = where.join(' AND ')
    // Only the parameters the clause uses (better-sqlite3 rejects undefined values).
    const params = Object.fromEntries(
      Object.entries({ appId: q.appId, deviceId: q.deviceId, after: q.after, before: q.before }).filter(
        ([, v]) => v !== undefined,
      ),
    )
    const total = this.db
      .prepare(`SELECT count(*) FROM commands WHERE ${clause}`)
      .pluck()
      .get(params) as number
    const rows = this.db
      .prepare(
        `SELECT * FROM commands WHERE ${clause} ORDER BY creation_time DESC, seq DESC LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, limit: q.limit, offset: q.offset }) as CommandRow[]
    return { total, rows }
  }
}
