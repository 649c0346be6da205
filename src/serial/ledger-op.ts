// A ledger operation of serial instruments, run in the writer thread like the others (store/write-ops.ts).
import { transition } from '../commands/ledger-ops.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import type { OpContext } from '../store/write-ops.ts'

/**
 * A Modbus write got no response (after the bus's retries): the command ends TIMEOUT at once (§2.8 status),
 * instead of waiting out `commands.responseTimeoutMs` for an answer the slave will never send.
 */
export function serialCommandTimedOut(
  ctx: OpContext,
  a: { deviceId: string; mid: number; detail: Record<string, unknown> },
): CommandRow | undefined {
  const row = ctx.store.commands.byMid(a.deviceId, a.mid)
  if (!row) return undefined
  return transition(ctx, row, 'TIMEOUT', {}, a.detail)
}
