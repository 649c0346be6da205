// The sync engine's writes, run by the writer thread in its group commit (store/write-ops.ts): deleting what
// the cloud acknowledged, enforcing the outbox quotas, and recording requests from the cloud with their
// answers. Each answer owed to the cloud is an outbox row, so it survives a restart like everything else.
import { createCommand } from '../commands/ledger-ops.ts'
import { newCommandRow } from '../commands/new-command.ts'
import { setDesired } from '../shadows/desired-ops.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import { Lane, type LaneNumber } from '../store/repos/outbox.ts'
import type { OpContext } from '../store/write-ops.ts'
import type { CloudReply, CloudRequest } from './profile.ts'

/** A lane's rows from `from` to `to` (sequence numbers, inclusive), as one message carried them. */
export interface OutboxRun {
  lane: LaneNumber
  from: number
  to: number
}

/** PUBACKed: the rows the message carried are gone for good (issue 5: deleted only after the PUBACK). */
export function ackOutbox(ctx: OpContext, a: { runs: OutboxRun[] }): number {
  let deleted = 0
  for (const run of a.runs) deleted += ctx.store.outbox.deleteRange(run.lane, run.from, run.to)
  return deleted
}

/** Quotas per lane, in bytes and age; `undefined` = no limit of the lane's own. */
export interface QuotaLimits {
  maxBytes: number
  maxAgeSeconds: number
  lanes: Partial<Record<'telemetry' | 'snapshot', { maxBytes?: number; maxAgeSeconds?: number }>>
  /** Most rows dropped in one call, so that the writer is never held up for long. */
  maxRows: number
}

export interface DropReport {
  /** Rows dropped per lane in this call. */
  dropped: Partial<Record<LaneNumber, number>>
  /** Still over a quota after `maxRows`: call again. */
  more: boolean
}

// Issue 5: on overflow the oldest telemetry goes first, then snapshots; safety events, command results and
// (compacted, one row per device) shadow updates are never dropped.
const DROPPABLE = [
  { lane: Lane.telemetry, name: 'telemetry' },
  { lane: Lane.snapshot, name: 'snapshot' },
] as const

/** Drops the oldest droppable rows until every quota holds, counting each drop per lane. */
export function enforceQuota(ctx: OpContext, limits: QuotaLimits): DropReport {
  const { outbox } = ctx.store
  const totals = outbox.totals()
  let allBytes = Object.values(totals).reduce((sum, t) => sum + t.bytes, 0)
  const report: DropReport = { dropped: {}, more: false }
  let budget = limits.maxRows
  for (const { lane, name } of DROPPABLE) {
    const own = limits.lanes[name] ?? {}
    const maxAgeMs = (own.maxAgeSeconds ?? limits.maxAgeSeconds) * 1000
    let laneBytes = totals[lane].bytes
    let droppedRows = 0
    let droppedBytes = 0
    while (budget > 0) {
      const batch = outbox.oldestOf(lane, Math.min(budget, 500))
      if (batch.length === 0) break
      let stop = false
      for (const row of batch) {
        const overAll = allBytes > limits.maxBytes
        const overLane = own.maxBytes !== undefined && laneBytes > own.maxBytes
        const tooOld = row.created_at < ctx.now - maxAgeMs
        if (!overAll && !overLane && !tooOld) {
          stop = true
          break
        }
        outbox.delete(row.seq)
        allBytes -= row.bytes
        laneBytes -= row.bytes
        droppedRows += 1
        droppedBytes += row.bytes
        budget -= 1
      }
      if (stop) break
    }
    if (droppedRows > 0) {
      outbox.countDrop(lane, droppedRows, droppedBytes, ctx.now)
      report.dropped[lane] = droppedRows
    }
  }
  report.more = budget === 0
  return report
}

/** Queues the answer to a cloud request (lane 1, with the command results). */
export function replyToCloud(ctx: OpContext, a: { deviceId: string | null; reply: CloudReply }): void {
  ctx.store.outbox.append(Lane.commandResult, 'cloud.reply', a.deviceId, JSON.stringify(a.reply), ctx.now)
}

export interface AcceptArgs {
  request: CloudRequest
  /** The request's identity for redelivery detection: profile, identifier and id. */
  refKey: string
  /** The owner application of the device; undefined when the device is unknown. */
  appId: string | undefined
  /** Why the request cannot be carried out (platform error body), found before the write. */
  problem: { error_code: string; error_desc: string } | undefined
  pendingLimit: number
  desiredMaxRetransmit: number
  /** A request with the same reference within this window is a redelivery, not a new request. */
  redeliveryWindowMs: number
}

export interface AcceptOutcome {
  duplicate: boolean
  /** Commands queued for local devices (the command service delivers them). */
  queued: CommandRow[]
}

/**
 * Records a request from the cloud: a command for a local device enters the command ledger (its result is
 * answered when it ends, ledger-ops.ts), a desired change lands in the local shadow (answered at once: the
 * desired state is recorded; its delivery shows in the shadow updates that follow). A request the gateway
 * cannot carry out is answered with the reason. A redelivered request changes nothing.
 */
export function acceptCloudRequest(ctx: OpContext, a: AcceptArgs): AcceptOutcome {
  const { store, now } = ctx
  const req = a.request
  const seen = store.db.prepare('SELECT received_at FROM sync_inbox WHERE ref = ?').pluck().get(a.refKey) as
    | number
    | undefined
  if (seen !== undefined && seen > now - a.redeliveryWindowMs) return { duplicate: true, queued: [] }
  const fail = (body: Record<string, unknown>): AcceptOutcome => {
    remember(null)
    replyToCloud(ctx, { deviceId: req.deviceId, reply: { ref: req.ref, success: false, body } })
    return { duplicate: false, queued: [] }
  }
  const remember = (commandId: string | null) =>
    store.db
      .prepare('INSERT OR REPLACE INTO sync_inbox (ref, command_id, received_at) VALUES (?, ?, ?)')
      .run(a.refKey, commandId, now)
  if (a.problem || a.appId === undefined)
    return fail({
      deviceId: req.deviceId,
      ...(a.problem ?? { error_code: '100403', error_desc: 'unknown device' }),
    })
  try {
    if (req.kind === 'command') {
      const row = newCommandRow(
        {
          appId: a.appId,
          deviceId: req.deviceId,
          origin: 'cloud',
          serviceId: req.serviceId,
          method: req.method,
          paras: req.paras,
          extra: { cloudRef: req.ref },
        },
        now,
      )
      const created = createCommand(ctx, { row, pendingLimit: a.pendingLimit })
      remember(created.command_id)
      return { duplicate: false, queued: [created] }
    }
    const queued = setDesired(ctx, {
      appId: a.appId,
      deviceId: req.deviceId,
      services: [{ serviceId: req.serviceId, desired: req.desired }],
      maxRetransmit: a.desiredMaxRetransmit,
    })
    remember(null)
    const version = store.shadows.get(req.deviceId, req.serviceId)?.desired_version ?? null
    replyToCloud(ctx, {
      deviceId: req.deviceId,
      reply: {
        ref: req.ref,
        success: true,
        body: { deviceId: req.deviceId, serviceId: req.serviceId, desiredVersion: version },
      },
    })
    return { duplicate: false, queued }
  } catch (err) {
    const e = err as Error & { name: string; toBody?: () => { error_code: string; error_desc: string } }
    if (e.name !== 'PlatformError' || !e.toBody) throw err
    return fail({ deviceId: req.deviceId, ...e.toBody() })
  }
}
