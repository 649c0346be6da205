// The command ledger's state changes. They run in the writer thread, inside its group-commit transaction
// (store/write-ops.ts), so a change is durable before anyone is told about it; each returns the rows it changed
// for the main thread to act on (publish, timers, events).
import { PlatformError } from '../errors.ts'
import { notify } from '../notify/notifications.ts'
import {
  type CommandRow,
  type CommandStatus,
  FINAL_STATUSES,
  type NewCommandRow,
} from '../store/repos/commands.ts'
import { Lane } from '../store/repos/outbox.ts'
import type { OpContext } from '../store/write-ops.ts'
import { toPlatformTime } from '../time.ts'

/** How a command ended up, as §2.8 `result` and §7.12 CommandResultForDevice. */
export interface CommandResult {
  resultCode: CommandStatus
  resultDetail: Record<string, unknown> | null
}

/** What a device answered (a platform deviceRsp, A.6, or a OneJSON invoke_reply, B.3). */
export interface DeviceAnswer {
  deviceId: string
  mid: number
  success: boolean
  detail: Record<string, unknown> | null
}

const FINAL = new Set<CommandStatus>(FINAL_STATUSES)

const cloudRefOf = (row: CommandRow): unknown =>
  (JSON.parse(row.extra_json ?? '{}') as { cloudRef?: unknown }).cloudRef

/**
 * Applies a status change: the row, the §7.12 notification owed to its callbackUrl, an outbox row for the
 * cloud when the command ended, and the desired-state bookkeeping of desired commands.
 */
export function transition(
  ctx: OpContext,
  row: CommandRow,
  status: CommandStatus,
  changes: Partial<CommandRow> = {},
  detail: Record<string, unknown> | null = null,
): CommandRow {
  const { store, now } = ctx
  const final = FINAL.has(status)
  const result: CommandResult | undefined = final ? { resultCode: status, resultDetail: detail } : undefined
  const updated = store.commands.update(row.command_id, {
    ...changes,
    status,
    ...(result ? { result_json: JSON.stringify(result), response_deadline: null } : {}),
  })
  if (updated.callback_url) {
    const body = {
      deviceId: updated.device_id,
      commandId: updated.command_id,
      result: { resultCode: status, resultDetail: final ? detail : null },
    }
    store.callbacks.enqueue(updated.callback_url, JSON.stringify(body), updated.command_id, now)
  }
  if (final) {
    store.outbox.append(
      Lane.commandResult,
      'command.result',
      updated.device_id,
      JSON.stringify({
        commandId: updated.command_id,
        origin: updated.origin,
        serviceId: updated.service_id,
        status,
        result,
        // A command the cloud asked for is answered to that request (sync/records.ts).
        ...(updated.origin === 'cloud' ? { cloudRef: cloudRefOf(updated) } : {}),
      }),
      now,
    )
  }
  if (updated.origin === 'desired' && final && status !== 'CANCELED') {
    const version =
      (JSON.parse(updated.extra_json ?? '{}') as { desiredVersion?: number }).desiredVersion ?? 0
    const desiredStatus = status === 'SUCCESSFUL' ? 'DELIVERED' : 'FAILED'
    store.shadows.setDesiredStatus(updated.device_id, updated.service_id, version, desiredStatus)
    ctx.reported.desiredStatus(updated.device_id, updated.service_id, version, desiredStatus)
    // §7.14: the desired values reached the device, or did not.
    notify(
      store,
      updated.app_id,
      {
        notifyType: 'deviceDesiredPropertiesModifyStatusChanged',
        deviceId: updated.device_id,
        serviceId: updated.service_id,
        properties: JSON.parse(updated.paras_json) as Record<string, unknown>,
        status: desiredStatus,
      },
      now,
    )
  }
  if (updated.origin === 'direct') confirmDelivery(ctx, updated, status)
  return updated
}

/** §7.10 messageConfirm for a §8.7 dispatch in ACK mode: sent, delivered, executed. */
function confirmDelivery(ctx: OpContext, row: CommandRow, status: CommandStatus): void {
  const confirmation = CONFIRMATIONS[status]
  if (!confirmation) return
  const header = (JSON.parse(row.extra_json ?? '{}') as { header?: { mode?: string } }).header
  if (header?.mode !== 'ACK') return
  notify(
    ctx.store,
    row.app_id,
    {
      notifyType: 'messageConfirm',
      header: {
        requestId: row.request_id ?? row.command_id,
        from: `/devices/${row.device_id}/services/${row.service_id}`,
        to: row.app_id,
        status: confirmation,
        timestamp: toPlatformTime(ctx.now),
      },
      body: {},
    },
    ctx.now,
  )
}

const CONFIRMATIONS: Partial<Record<CommandStatus, string>> = {
  SENT: 'sent',
  DELIVERED: 'delivered',
  SUCCESSFUL: 'executed',
  FAILED: 'executed',
}

/** §8.1: a new command, PENDING. At most `pendingLimit` PENDING per device (100223). */
export function createCommand(ctx: OpContext, a: { row: NewCommandRow; pendingLimit: number }): CommandRow {
  const { store } = ctx
  if (a.row.delivery === 'queued' && store.commands.pendingCount(a.row.device_id) >= a.pendingLimit) {
    throw new PlatformError('100223', `${a.pendingLimit} commands are already PENDING for this device`)
  }
  if (a.row.request_id !== null && store.commands.byRequest(a.row.app_id, a.row.origin, a.row.request_id)) {
    throw new PlatformError('100022', `requestId ${a.row.request_id} was already used`)
  }
  return store.commands.insert(a.row)
}

/**
 * Creates a cached command and, in the same transaction, sends the device's next one (this one when the queue
 * was empty): one commit instead of two on the way to a connected device.
 */
export function createAndSendNext(
  ctx: OpContext,
  a: { row: NewCommandRow; pendingLimit: number; responseTimeoutMs: number },
): { created: CommandRow; sent: CommandRow | undefined; changed: CommandRow[] } {
  const created = createCommand(ctx, a)
  const next = sendNextQueued(ctx, { deviceId: created.device_id, responseTimeoutMs: a.responseTimeoutMs })
  return { created, ...next }
}

/** Marks a command SENT (first send or a retransmission): mid, issue time, deadline. */
function markSent(ctx: OpContext, row: CommandRow, responseTimeoutMs: number): CommandRow {
  const mid = row.mid ?? ctx.store.commands.allocateMid(row.device_id)
  return transition(ctx, row, 'SENT', {
    mid,
    platform_issued_time: row.platform_issued_time ?? ctx.now,
    issued_times: row.issued_times + 1,
    response_deadline: ctx.now + responseTimeoutMs,
  })
}

/**
 * The device's next cached command (§8 "cached": one at a time, in creation order), if none is awaiting an
 * answer: expired ones on the way are marked EXPIRED.
 */
export function sendNextQueued(
  ctx: OpContext,
  a: { deviceId: string; responseTimeoutMs: number },
): { sent: CommandRow | undefined; changed: CommandRow[] } {
  const changed: CommandRow[] = []
  if (ctx.store.commands.queuedInFlight(a.deviceId)) return { sent: undefined, changed }
  for (;;) {
    const next = ctx.store.commands.nextQueued(a.deviceId)
    if (!next) return { sent: undefined, changed }
    if (next.expires_at !== null && next.expires_at <= ctx.now) {
      changed.push(transition(ctx, next, 'EXPIRED', {}, { reason: 'expireTime passed before delivery' }))
      continue
    }
    const sent = markSent(ctx, next, a.responseTimeoutMs)
    changed.push(sent)
    return { sent, changed }
  }
}

/** Sends an immediate command (never cached): SENT when the device is online, else it ends at once. */
export function sendImmediate(
  ctx: OpContext,
  a: { commandId: string; online: boolean; responseTimeoutMs: number },
): CommandRow {
  const row = ctx.store.commands.get(a.commandId)
  if (row?.status !== 'PENDING') throw new Error(`command ${a.commandId} is not PENDING`)
  // §8.1 expireTime 0: a device that is not reachable never receives it and the command ends in TIMEOUT.
  if (!a.online)
    return transition(ctx, row, 'TIMEOUT', {}, { reason: 'device offline; the command is not cached' })
  return markSent(ctx, row, a.responseTimeoutMs)
}

/** The device acknowledged the cloudReq publish (QoS 1 PUBACK): DELIVERED (A.7). */
export function markDelivered(ctx: OpContext, a: { deviceId: string; mid: number }): CommandRow | undefined {
  const row = ctx.store.commands.byMid(a.deviceId, a.mid)
  if (row?.status !== 'SENT') return undefined
  return transition(ctx, row, 'DELIVERED', { delivered_time: ctx.now })
}

/** The device answered: SUCCESSFUL or FAILED with its body kept as the result (A.6, B.3). */
export function settleAnswer(ctx: OpContext, answer: DeviceAnswer): CommandRow | undefined {
  let row = ctx.store.commands.byMid(answer.deviceId, answer.mid)
  if (!row) return undefined
  // An answer proves delivery, and a device may answer before its PUBACK arrives (mqtt.js acknowledges after its
  // message handler ran): the command still goes through DELIVERED (§8 lifecycle, §7.12 notifications).
  if (row.status === 'SENT') row = transition(ctx, row, 'DELIVERED', { delivered_time: ctx.now })
  const settled = transition(
    ctx,
    row,
    answer.success ? 'SUCCESSFUL' : 'FAILED',
    { execute_time: ctx.now, delivered_time: row.delivered_time ?? ctx.now },
    answer.detail,
  )
  // §7.11: the device's answer, to the application's commandRsp subscription.
  notify(
    ctx.store,
    settled.app_id,
    {
      notifyType: 'commandRsp',
      header: {
        requestId: settled.request_id ?? settled.command_id,
        from: `/devices/${settled.device_id}/services/${settled.service_id}`,
        to: settled.app_id,
        deviceId: settled.device_id,
        serviceType: settled.service_id,
        method: settled.method,
      },
      body: answer.detail ?? {},
      // Not a documented header field (§7.11 gateway note): carried alongside.
      resultCode: settled.status,
    },
    ctx.now,
  )
  return settled
}

/**
 * No answer by the deadline: sent again while retransmissions remain (maxRetransmit, same mid), else TIMEOUT.
 * Returns undefined when the command was answered meanwhile.
 */
export function responseTimedOut(
  ctx: OpContext,
  a: { commandId: string; responseTimeoutMs: number },
): { row: CommandRow; resend: boolean } | undefined {
  const row = ctx.store.commands.get(a.commandId)
  if (!row || (row.status !== 'SENT' && row.status !== 'DELIVERED')) return undefined
  if (row.response_deadline !== null && row.response_deadline > ctx.now) return undefined
  if (row.issued_times <= row.max_retransmit)
    return { row: markSent(ctx, row, a.responseTimeoutMs), resend: true }
  const detail = { reason: `no response within ${a.responseTimeoutMs} ms`, issuedTimes: row.issued_times }
  return { row: transition(ctx, row, 'TIMEOUT', {}, detail), resend: false }
}

/** PENDING commands whose expireTime passed: EXPIRED (§8.1). */
export function expireDue(ctx: OpContext): CommandRow[] {
  return ctx.store.commands
    .expiredPending(ctx.now)
    .map((row) => transition(ctx, row, 'EXPIRED', {}, { reason: 'expireTime passed before delivery' }))
}

/** §8.3: only a PENDING command can be CANCELED (100434 unknown, 100435 too late). */
export function cancelCommand(ctx: OpContext, a: { appId: string; commandId: string }): CommandRow {
  const row = ctx.store.commands.get(a.commandId)
  if (!row || row.app_id !== a.appId || row.origin !== 'ledger') throw new PlatformError('100434')
  if (row.status !== 'PENDING') throw new PlatformError('100435', `the command is ${row.status}`)
  return transition(ctx, row, 'CANCELED', {}, { reason: 'canceled by the application' })
}

/** §8.5: cancels every PENDING §8.1 command of a device and records the task. */
export function cancelPendingOfDevice(
  ctx: OpContext,
  a: { appId: string; deviceId: string; taskId: string },
): CommandRow[] {
  const rows = ctx.store.commands
    .pendingLedger(a.deviceId)
    .filter((r) => r.app_id === a.appId)
    .map((r) =>
      transition(ctx, r, 'CANCELED', {}, { reason: 'canceled by a command-cancel task', taskId: a.taskId }),
    )
  ctx.store.tasks.insertCancelTask({
    task_id: a.taskId,
    app_id: a.appId,
    device_id: a.deviceId,
    status: 'SUCCESS',
    command_ids: JSON.stringify(rows.map((r) => r.command_id)),
    created_at: ctx.now,
  })
  return rows
}
