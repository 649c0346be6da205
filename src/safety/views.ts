// How calls and device messages look outside SQLite: REST answers, outbox payloads, bus events, notifications.
import { toPlatformTime } from '../time.ts'
import type { CallRow, CallState, EventKind, EventRow } from './safety-repo.ts'

export interface CallView {
  callId: string
  appId: string | null
  origin: CallRow['origin']
  deviceId: string | null
  chatJid: string
  stanzaId: string
  directive: string
  /** directives_attrs: who called (userId, userName, userNo, tenantId) and whom (deviceId, isdpDeviceId). */
  caller: Record<string, unknown>
  state: CallState
  detail: string | null
  /** Platform time strings (spec §1.8). */
  createdAt: string
  deliveredAt: string | null
  endedAt: string | null
}

export interface EventView {
  eventId: number
  deviceId: string | null
  chatJid: string
  kind: EventKind
  directive: string | null
  subject: string | null
  body: string | null
  attrs: Record<string, unknown> | null
  stanzaId: string | null
  callId: string | null
  receivedAt: string
}

const time = (ms: number | null): string | null => (ms === null ? null : toPlatformTime(ms))

export function callView(row: CallRow): CallView {
  return {
    callId: row.call_id,
    appId: row.app_id,
    origin: row.origin,
    deviceId: row.device_id,
    chatJid: row.chat_jid,
    stanzaId: row.stanza_id,
    directive: row.directive,
    caller: JSON.parse(row.caller_json) as Record<string, unknown>,
    state: row.state,
    detail: row.detail,
    createdAt: toPlatformTime(row.created_at),
    deliveredAt: time(row.delivered_at),
    endedAt: time(row.ended_at),
  }
}

export function eventView(row: EventRow): EventView {
  return {
    eventId: row.event_id,
    deviceId: row.device_id,
    chatJid: row.chat_jid,
    kind: row.kind,
    directive: row.directive,
    subject: row.subject,
    body: row.body,
    attrs: row.attrs_json === null ? null : (JSON.parse(row.attrs_json) as Record<string, unknown>),
    stanzaId: row.stanza_id,
    callId: row.call_id,
    receivedAt: toPlatformTime(row.received_at),
  }
}
