// Named write operations that run in the writer thread inside its group-commit transaction (ARCHITECTURE.md
// rule 2): the main thread never waits on the SQLite write lock or an fsync, and a REST write is answered
// only after the transaction holding it committed. Each operation runs in its own savepoint: one that throws
// is rolled back alone and its error goes back to the caller.
import { addSnapshot, cameraAnswer } from '../cameras/camera-ops.ts'
import { createBatchTask } from '../commands/batch-ops.ts'
import {
  cancelCommand,
  cancelPendingOfDevice,
  createAndSendNext,
  createCommand,
  expireDue,
  markDelivered,
  responseTimedOut,
  sendImmediate,
  sendNextQueued,
  settleAnswer,
} from '../commands/ledger-ops.ts'
import type { AttemptOutcome } from '../notify/callback-dispatcher.ts'
import { pruneHistory } from '../ops/retention-ops.ts'
import { SAFETY_OPS } from '../safety/safety-ops.ts'
import { serialCommandTimedOut } from '../serial/ledger-op.ts'
import { setDesired } from '../shadows/desired-ops.ts'
import { acceptCloudRequest, ackOutbox, enforceQuota, replyToCloud } from '../sync/sync-ops.ts'
import type { ReportedShadows } from '../telemetry/reported-shadows.ts'
import type { Store } from './index.ts'

export interface OpContext {
  store: Store
  /** The writer's cache of reported shadows (desired sections are checked against reports there). */
  reported: ReportedShadows
  /** The transaction's clock (epoch ms). */
  now: number
}

/** A callback delivery attempt's outcome (notify/callback-dispatcher.ts). */
function recordCallbackAttempt(ctx: OpContext, a: { id: number; outcome: AttemptOutcome }): void {
  const { callbacks, subscriptions } = ctx.store
  const { outcome } = a
  if (!outcome.delivered && outcome.nextAttemptAt !== null) {
    callbacks.failed(a.id, outcome.error, outcome.nextAttemptAt)
    return
  }
  // §6 subscriptions count what was delivered and what was given up.
  const subscriptionId = callbacks.subscriptionOf(a.id)
  if (subscriptionId !== null) {
    if (outcome.delivered) subscriptions.countDelivered(subscriptionId)
    else subscriptions.countFailed(subscriptionId)
  }
  callbacks.remove(a.id)
}

export const WRITE_OPS = {
  'command.create': createCommand,
  'command.createAndSendNext': createAndSendNext,
  'command.sendNextQueued': sendNextQueued,
  'command.sendImmediate': sendImmediate,
  'command.delivered': markDelivered,
  'command.answer': settleAnswer,
  'command.timedOut': responseTimedOut,
  'command.expireDue': expireDue,
  'command.cancel': cancelCommand,
  'command.cancelPendingOfDevice': cancelPendingOfDevice,
  'batch.create': createBatchTask,
  'shadow.setDesired': setDesired,
  'callback.record': recordCallbackAttempt,
  'outbox.ack': ackOutbox,
  'outbox.enforceQuota': enforceQuota,
  'sync.reply': replyToCloud,
  'sync.acceptCloudRequest': acceptCloudRequest,
  'camera.snapshot': addSnapshot,
  'camera.answer': cameraAnswer,
  'serial.commandTimedOut': serialCommandTimedOut,
  // Safety-device calls and messages (issue 7).
  ...SAFETY_OPS,
  // Issue 10: one small step of history retention (src/ops/retention.ts drives the steps).
  'retention.prune': pruneHistory,
} as const

export type OpName = keyof typeof WRITE_OPS
export type OpArgs<N extends OpName> = Parameters<(typeof WRITE_OPS)[N]>[1]
export type OpResult<N extends OpName> = ReturnType<(typeof WRITE_OPS)[N]>

export interface OpCall {
  name: OpName
  args: unknown
}

/** An operation's outcome as it crosses the thread boundary (values must be structured-cloneable). */
export type OpOutcome =
  | { ok: true; value: unknown }
  | { ok: false; platform?: { code: string; detail: string | undefined }; message: string }

/** Runs a batch of operations in one transaction, each in its own savepoint. */
export function runOps(store: Store, reported: ReportedShadows, calls: OpCall[]): OpOutcome[] {
  const ctx: OpContext = { store, reported, now: Date.now() }
  return store.transaction(() =>
    calls.map((call): OpOutcome => {
      try {
        const op = WRITE_OPS[call.name] as (ctx: OpContext, args: unknown) => unknown
        return { ok: true, value: store.transaction(() => op(ctx, call.args)) }
      } catch (err) {
        // The savepoint is rolled back; cached shadow state may have moved with it.
        reported.clear()
        const e = err as Error & { code?: unknown; detail?: string }
        if (e.name === 'PlatformError') {
          return { ok: false, platform: { code: String(e.code), detail: e.detail }, message: e.message }
        }
        return { ok: false, message: e.message }
      }
    }),
  )
}
