import { randomUUID } from 'node:crypto'
import type { CommandDelivery, CommandOrigin, NewCommandRow } from '../store/repos/commands.ts'

/** §8.1: a command not delivered within 48 h is no longer sent. */
export const DEFAULT_EXPIRE_SECONDS = 172_800

export interface CommandSpec {
  appId: string
  deviceId: string
  origin: CommandOrigin
  serviceId: string
  method: string
  paras: Record<string, unknown>
  callbackUrl?: string | undefined
  /** §8.1 expireTime in seconds: 0 = immediate (never cached); undefined = the 48 h default. */
  expireTime?: number | undefined
  maxRetransmit?: number | undefined
  /** Immediate regardless of expireTime (§8.7 direct dispatch, remote calls). */
  immediate?: boolean
  /** Queued until delivered, however long (desired state: the device gets it whenever it connects). */
  neverExpires?: boolean
  requestId?: string | undefined
  extra?: Record<string, unknown> | undefined
  batchTaskId?: string | undefined
}

/** The ledger row of a new command (commandId: 32 hex digits, as the spec's examples show). */
export function newCommandRow(spec: CommandSpec, now: number): NewCommandRow {
  const immediate = spec.immediate === true || spec.expireTime === 0
  const delivery: CommandDelivery = immediate ? 'immediate' : 'queued'
  return {
    command_id: randomUUID().replaceAll('-', ''),
    app_id: spec.appId,
    device_id: spec.deviceId,
    origin: spec.origin,
    delivery,
    service_id: spec.serviceId,
    method: spec.method,
    paras_json: JSON.stringify(spec.paras),
    callback_url: spec.callbackUrl ?? null,
    expire_time: spec.expireTime ?? null,
    expires_at:
      immediate || spec.neverExpires ? null : now + (spec.expireTime ?? DEFAULT_EXPIRE_SECONDS) * 1000,
    max_retransmit: spec.maxRetransmit ?? 0,
    request_id: spec.requestId ?? null,
    extra_json: spec.extra ? JSON.stringify(spec.extra) : null,
    batch_task_id: spec.batchTaskId ?? null,
    creation_time: now,
  }
}
