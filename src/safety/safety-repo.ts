// The call log and safety-device messages (migration 009), and safety devices by chat JID. Writes happen in the
// writer thread (safety-ops.ts); reads on the main connection.
import type { Database } from 'better-sqlite3'
import type { DeviceRow } from '../store/repos/devices.ts'

export const SAFETY_DEVICE_TYPE = 'SafetyDevice'

export type CallState = 'sent' | 'delivered' | 'answered' | 'declined' | 'failed'
export const CALL_STATES: readonly CallState[] = ['sent', 'delivered', 'answered', 'declined', 'failed']
export const OPEN_CALL_STATES: readonly CallState[] = ['sent', 'delivered']

export type EventKind = 'reply' | 'sos' | 'status' | 'message'
export const EVENT_KINDS: readonly EventKind[] = ['reply', 'sos', 'status', 'message']

export interface CallRow {
  call_id: string
  app_id: string | null
  origin: 'openapi' | 'gateway'
  device_id: string | null
  chat_jid: string
  stanza_id: string
  directive: string
  caller_json: string
  stanza: string
  state: CallState
  detail: string | null
  created_at: number
  delivered_at: number | null
  ended_at: number | null
}

export interface EventRow {
  event_id: number
  device_id: string | null
  chat_jid: string
  kind: EventKind
  directive: string | null
  subject: string | null
  body: string | null
  attrs_json: string | null
  stanza_id: string | null
  call_id: string | null
  received_at: number
}

export interface ListQuery {
  deviceId?: string | undefined
  state?: string | undefined
  kind?: string | undefined
  after?: number | undefined
  before?: number | undefined
  limit: number
  offset: number
}

const repos = new WeakMap<Database, SafetyRepo>()

export class SafetyRepo {
  /** One repository per connection (the writer thread has its own), its statements prepared once. */
  static of(db: Database): SafetyRepo {
    let repo = repos.get(db)
    if (!repo) {
      repo = new SafetyRepo(db)
      repos.set(db, repo)
    }
    return repo
  }

  private readonly stmts

  private constructor(private readonly db: Database) {
    this.stmts = {
      insertCall:
        db.prepare(`INSERT INTO safety_calls (call_id, app_id, origin, device_id, chat_jid, stanza_id,
        directive, caller_json, stanza, state, detail, created_at, delivered_at, ended_at) VALUES (@call_id, @app_id,
        @origin, @device_id, @chat_jid, @stanza_id, @directive, @caller_json, @stanza, @state, @detail, @created_at,
        @delivered_at, @ended_at)`),
      call: db.prepare('SELECT * FROM safety_calls WHERE call_id = ?'),
      byStanza: db.prepare(
        'SELECT * FROM safety_calls WHERE chat_jid = ? AND stanza_id = ? ORDER BY created_at DESC LIMIT 1',
      ),
      latestOpen: db.prepare(
        `SELECT * FROM safety_calls WHERE chat_jid = ? AND state IN ('sent', 'delivered')
         ORDER BY created_at DESC LIMIT 1`,
      ),
      setState: db.prepare(
        `UPDATE safety_calls SET state = @state, detail = coalesce(@detail, detail),
         delivered_at = coalesce(@delivered_at, delivered_at), ended_at = coalesce(@ended_at, ended_at)
         WHERE call_id = @call_id`,
      ),
      openBefore: db.prepare(
        `SELECT * FROM safety_calls WHERE state IN ('sent', 'delivered') AND created_at < ? ORDER BY created_at`,
      ),
      insertEvent: db.prepare(`INSERT INTO safety_events (device_id, chat_jid, kind, directive, subject, body,
        attrs_json, stanza_id, call_id, received_at) VALUES (@device_id, @chat_jid, @kind, @directive, @subject,
        @body, @attrs_json, @stanza_id, @call_id, @received_at)`),
      event: db.prepare('SELECT * FROM safety_events WHERE event_id = ?'),
      deviceByJid: db.prepare(
        `SELECT * FROM devices WHERE device_type = '${SAFETY_DEVICE_TYPE}'
         AND json_extract(info_json, '$.chatJid') = ?`,
      ),
    }
  }

  insertCall(row: CallRow): void {
    this.stmts.insertCall.run(row)
  }

  call(callId: string): CallRow | undefined {
    return this.stmts.call.get(callId) as CallRow | undefined
  }

  /** The latest call with this stanza id to this JID (receipts and errors name the stanza id). */
  callByStanza(jid: string, stanzaId: string): CallRow | undefined {
    return this.stmts.byStanza.get(jid, stanzaId) as CallRow | undefined
  }

  /** The latest call to this JID still waiting for an answer. */
  latestOpenCall(jid: string): CallRow | undefined {
    return this.stmts.latestOpen.get(jid) as CallRow | undefined
  }

  setCallState(
    callId: string,
    change: {
      state: CallState
      detail?: string | null
      deliveredAt?: number | null
      endedAt?: number | null
    },
  ): void {
    this.stmts.setState.run({
      call_id: callId,
      state: change.state,
      detail: change.detail ?? null,
      delivered_at: change.deliveredAt ?? null,
      ended_at: change.endedAt ?? null,
    })
  }

  openCallsBefore(at: number): CallRow[] {
    return this.stmts.openBefore.all(at) as CallRow[]
  }

  insertEvent(row: Omit<EventRow, 'event_id'>): EventRow {
    const id = Number(this.stmts.insertEvent.run(row).lastInsertRowid)
    return this.stmts.event.get(id) as EventRow
  }

  /** The registered safety device whose chat JID (normalized) this is. */
  deviceByJid(jid: string): DeviceRow | undefined {
    return this.stmts.deviceByJid.get(jid) as DeviceRow | undefined
  }

  /** The application a device belongs to. */
  deviceOwner(deviceId: string): string | undefined {
    return this.db.prepare('SELECT app_id FROM devices WHERE device_id = ?').pluck().get(deviceId) as
      | string
      | undefined
  }

  /** Safety devices of an application, oldest first. */
  devicesOf(appId: string): DeviceRow[] {
    return this.db
      .prepare(`SELECT * FROM devices WHERE app_id = ? AND device_type = ? ORDER BY created_at`)
      .all(appId, SAFETY_DEVICE_TYPE) as DeviceRow[]
  }

  listCalls(appId: string, q: ListQuery): { total: number; rows: CallRow[] } {
    // A call belongs to the application that placed it, or concerns one of its devices.
    const where = ['(c.app_id = ? OR d.app_id = ?)']
    const params: unknown[] = [appId, appId]
    for (const [clause, value] of [
      ['c.device_id = ?', q.deviceId],
      ['c.state = ?', q.state],
      ['c.created_at >= ?', q.after],
      ['c.created_at < ?', q.before],
    ] as const) {
      if (value === undefined) continue
      where.push(clause)
      params.push(value)
    }
    const from = `FROM safety_calls c LEFT JOIN devices d ON d.device_id = c.device_id WHERE ${where.join(' AND ')}`
    const total = this.db
      .prepare(`SELECT count(*) ${from}`)
      .pluck()
      .get(...params) as number
    const rows = this.db
      .prepare(`SELECT c.* ${from} ORDER BY c.created_at DESC, c.rowid DESC LIMIT ? OFFSET ?`)
      .all(...params, q.limit, q.offset) as CallRow[]
    return { total, rows }
  }

  listEvents(appId: string, q: ListQuery): { total: number; rows: EventRow[] } {
    // Messages of an application's devices; those from JIDs allowed by config belong to no application and
    // are listed for every one.
    const where = ['(e.device_id IS NULL OR d.app_id = ?)']
    const params: unknown[] = [appId]
    for (const [clause, value] of [
      ['e.device_id = ?', q.deviceId],
      ['e.kind = ?', q.kind],
      ['e.received_at >= ?', q.after],
      ['e.received_at < ?', q.before],
    ] as const) {
      if (value === undefined) continue
      where.push(clause)
      params.push(value)
    }
    const from = `FROM safety_events e LEFT JOIN devices d ON d.device_id = e.device_id WHERE ${where.join(' AND ')}`
    const total = this.db
      .prepare(`SELECT count(*) ${from}`)
      .pluck()
      .get(...params) as number
    const rows = this.db
      .prepare(`SELECT e.* ${from} ORDER BY e.event_id DESC LIMIT ? OFFSET ?`)
      .all(...params, q.limit, q.offset) as EventRow[]
    return { total, rows }
  }
}
