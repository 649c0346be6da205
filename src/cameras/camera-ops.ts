// Camera writes that run in the writer thread inside its group commit (store/write-ops.ts): a snapshot's index
// row with its outbox row (ARCHITECTURE rule 3) and the quota's evictions, and a camera's answer to a command
// with the configuration it reported, each in one transaction.
import { type DeviceAnswer, settleAnswer } from '../commands/ledger-ops.ts'
import type { NewSnapshotRow } from '../store/repos/cameras.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import { Lane } from '../store/repos/outbox.ts'
import type { OpContext } from '../store/write-ops.ts'
import { toPlatformTime } from '../time.ts'

/** The shadow service holding a camera's configuration (C.6 fields); desired values on it become set_dev_config. */
export const CAMERA_CONFIG_SERVICE = 'CameraConfig'

export interface SnapshotInput {
  row: NewSnapshotRow
  /** Total bytes the snapshot files may take; the oldest go first beyond it. */
  quotaBytes: number
}

export interface EvictedFile {
  snapshotId: string
  file: string
}

/**
 * Indexes a snapshot whose file is already on disk, appends its metadata to the outbox's snapshot lane (the sync
 * engine fetches the bytes by snapshotId), and evicts the oldest snapshots beyond the quota. Returns the evicted
 * files for the main thread to delete once this has committed.
 */
export function addSnapshot(ctx: OpContext, a: SnapshotInput): { evicted: EvictedFile[] } {
  const row = ctx.store.cameras.insertSnapshot(a.row)
  ctx.store.outbox.append(
    Lane.snapshot,
    'snapshot',
    row.device_id,
    JSON.stringify({
      snapshotId: row.snapshot_id,
      deviceId: row.device_id,
      time: toPlatformTime(row.taken_at),
      size: row.size,
      sha256: row.sha256,
      contentType: row.content_type,
    }),
    ctx.now,
  )
  const evicted = ctx.store.cameras
    .evictOver(a.quotaBytes, row.seq)
    .map((r) => ({ snapshotId: r.snapshot_id, file: r.file }))
  return { evicted }
}

/** Merges reported configuration into the camera's CameraConfig shadow (version + 1) with its outbox row. */
function reportConfig(ctx: OpContext, deviceId: string, config: Record<string, unknown>): void {
  ctx.reported.merge(deviceId, CAMERA_CONFIG_SERVICE, config, ctx.now)
  const service = ctx.reported.persist(deviceId, CAMERA_CONFIG_SERVICE, ctx.now)
  ctx.store.devices.bumpShadowVersion(deviceId, 1, ctx.now)
  ctx.store.outbox.append(
    Lane.shadow,
    'shadow.reported',
    deviceId,
    JSON.stringify({ deviceId, services: [service] }),
    ctx.now,
  )
}

export interface CameraAnswerInput {
  answer: DeviceAnswer
  /** Configuration the camera reported (get_dev_config_rsp) or accepted (set_dev_config_rsp ret 0). */
  reported?: Record<string, unknown> | undefined
  /** The image a take_snapshot reply carried, already written to its file. */
  snapshot?: SnapshotInput | undefined
}

/** A camera's `_rsp` to a command: the command settled, its reported config and snapshot stored, together. */
export function cameraAnswer(
  ctx: OpContext,
  a: CameraAnswerInput,
): { row: CommandRow | undefined; evicted: EvictedFile[] } {
  const row = settleAnswer(ctx, a.answer)
  if (!row) return { row, evicted: [] }
  if (a.reported && Object.keys(a.reported).length > 0) reportConfig(ctx, a.answer.deviceId, a.reported)
  const evicted = a.snapshot ? addSnapshot(ctx, a.snapshot).evicted : []
  return { row, evicted }
}
