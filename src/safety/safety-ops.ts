// Write operations of the call log and device messages, run in the writer thread's group commit
// (store/write-ops.ts). Each writes its outbox row in the highest lane (Lane.safety, ARCHITECTURE.md rule 3) and
// queues its push notification in the same transaction.
//
// Notifications: no §7 notifyType is about calls, so a safety device's messages and its calls' outcomes are
// announced as `deviceDataChanged` (§7.4) of a pseudo-service — `SafetyMessage` (data: the message) and
// `SafetyCall` (data: the call) — which a subscriber of device data already receives.
import { notify } from '../notify/notifications.ts'
import { Lane } from '../store/repos/outbox.ts'
import type { OpContext } from '../store/write-ops.ts'
import { toPlatformTime } from '../time.ts'
import type { DeviceMessage } from './incoming.ts'
import { type CallRow, type CallState, OPEN_CALL_STATES, SafetyRepo } from './safety-repo.ts'
import { type CallView, callView, type EventView, eventView } from './views.ts'

export interface NewCall {
  callId: string
  appId: string | null
  origin: CallRow['origin']
  deviceId: string | null
  chatJid: string
  stanzaId: string
  directive: string
  caller: Record<string, unknown>
  stanza: string
}

/** Which state may follow which: a receipt after an answer, or a second answer, changes nothing. */
const NEXT: Record<CallState, readonly CallState[]> = {
  sent: ['delivered', 'answered', 'declined', 'failed'],
  delivered: ['answered', 'declined', 'failed'],
  answered: [],
  declined: [],
  failed: [],
}

/** §7.4 of a pseudo-service, for the device's application if it subscribed. */
function notifyDevice(
  ctx: OpContext,
  deviceId: string | null,
  serviceId: 'SafetyMessage' | 'SafetyCall',
  requestId: string,
  data: object,
): void {
  if (deviceId === null) return
  const device = ctx.store.devices.get(deviceId)
  if (!device) return
  notify(
    ctx.store,
    device.app_id,
    {
      notifyType: 'deviceDataChanged',
      requestId,
      deviceId,
      gatewayId: device.gateway_id,
      service: { serviceId, serviceType: serviceId, data, eventTime: toPlatformTime(ctx.now) },
    },
    ctx.now,
  )
}

function callChanged(ctx: OpContext, row: CallRow): CallView {
  const view = callView(row)
  ctx.store.outbox.append(Lane.safety, 'safetyCall', row.device_id, JSON.stringify(view), ctx.now)
  if (row.state !== 'sent')
    notifyDevice(ctx, row.device_id, 'SafetyCall', `${row.call_id}-${row.state}`, view)
  return view
}

/** A call about to be sent (state sent), or one that could not be (failed, with the reason). */
function recordCall(
  ctx: OpContext,
  a: { call: NewCall; state: 'sent' | 'failed'; detail?: string | undefined },
): CallView {
  const repo = SafetyRepo.of(ctx.store.db)
  const { call } = a
  repo.insertCall({
    call_id: call.callId,
    app_id: call.appId,
    origin: call.origin,
    device_id: call.deviceId,
    chat_jid: call.chatJid,
    stanza_id: call.stanzaId,
    directive: call.directive,
    caller_json: JSON.stringify(call.caller),
    stanza: call.stanza,
    state: a.state,
    detail: a.detail ?? null,
    created_at: ctx.now,
    delivered_at: null,
    ended_at: a.state === 'failed' ? ctx.now : null,
  })
  return callChanged(ctx, repo.call(call.callId)!)
}

function transition(ctx: OpContext, row: CallRow, state: CallState, detail?: string | null): CallView | null {
  if (!NEXT[row.state].includes(state)) return null
  const repo = SafetyRepo.of(ctx.store.db)
  repo.setCallState(row.call_id, {
    state,
    detail: detail ?? null,
    ...(state === 'delivered' ? { deliveredAt: ctx.now } : { endedAt: ctx.now }),
  })
  return callChanged(ctx, repo.call(row.call_id)!)
}

/**
 * A call's state changes, found by its id or by the stanza id a receipt or error names; null when there is no
 * such call or the change does not apply (already ended).
 */
function changeCall(
  ctx: OpContext,
  a: { callId?: string; jid?: string; stanzaId?: string; state: CallState; detail?: string | null },
): CallView | null {
  const repo = SafetyRepo.of(ctx.store.db)
  const row =
    a.callId !== undefined
      ? repo.call(a.callId)
      : a.jid !== undefined && a.stanzaId !== undefined
        ? repo.callByStanza(a.jid, a.stanzaId)
        : undefined
  return row ? transition(ctx, row, a.state, a.detail) : null
}

/** A device's message: recorded, settling the call it replies to, announced and put in the outbox. */
function recordMessage(
  ctx: OpContext,
  a: { message: DeviceMessage },
): { event: EventView; call: CallView | null } {
  const repo = SafetyRepo.of(ctx.store.db)
  const m = a.message
  const device = repo.deviceByJid(m.chatJid)
  let call: CallView | null = null
  let callId: string | null = null
  if (m.reply) {
    const named = m.replyTo === null ? undefined : repo.callByStanza(m.chatJid, m.replyTo)
    const target = named ?? repo.latestOpenCall(m.chatJid)
    if (target && OPEN_CALL_STATES.includes(target.state)) {
      callId = target.call_id
      call = transition(ctx, target, m.reply, m.reply === 'declined' ? (m.directive ?? 'declined') : null)
    } else if (target) {
      callId = target.call_id
    }
  }
  const row = repo.insertEvent({
    device_id: device?.device_id ?? null,
    chat_jid: m.chatJid,
    kind: m.kind,
    directive: m.directive,
    subject: m.subject,
    body: m.body,
    attrs_json: m.attrs === null ? null : JSON.stringify(m.attrs),
    stanza_id: m.stanzaId,
    call_id: callId,
    received_at: ctx.now,
  })
  const event = eventView(row)
  ctx.store.outbox.append(Lane.safety, 'safetyEvent', row.device_id, JSON.stringify(event), ctx.now)
  notifyDevice(ctx, row.device_id, 'SafetyMessage', `safety-event-${row.event_id}`, event)
  return { event, call }
}

/** Calls still open when their time is up end as failed ("no answer"). */
function expireCalls(ctx: OpContext, a: { before: number; detail: string }): CallView[] {
  const repo = SafetyRepo.of(ctx.store.db)
  const ended: CallView[] = []
  for (const row of repo.openCallsBefore(a.before)) {
    const view = transition(ctx, row, 'failed', a.detail)
    if (view) ended.push(view)
  }
  return ended
}

export const SAFETY_OPS = {
  'safety.recordCall': recordCall,
  'safety.changeCall': changeCall,
  'safety.recordMessage': recordMessage,
  'safety.expireCalls': expireCalls,
} as const
