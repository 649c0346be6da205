// §9 batch tasks (taskType DeviceCmd), run in the writer thread: the task and one cached command per target
// device in one transaction, so a task is never half created.
import { PlatformError } from '../errors.ts'
import type { BatchTaskRow } from '../store/repos/tasks.ts'
import type { OpContext } from '../store/write-ops.ts'
import { newCommandRow } from './new-command.ts'

/** §9.1: 10 or more unfinished tasks refuse a new one (105001). */
export const MAX_UNFINISHED_TASKS = 10

export interface NewBatchTask {
  task: Omit<BatchTaskRow, 'created_at'>
  deviceIds: string[]
  command: { serviceId: string; method: string; paras: Record<string, unknown> }
  callbackUrl?: string | undefined
  maxRetransmit?: number | undefined
}

export function createBatchTask(ctx: OpContext, a: NewBatchTask): { taskId: string; commands: number } {
  const { store, now } = ctx
  if (store.tasks.unfinishedBatchTasks(a.task.app_id) >= MAX_UNFINISHED_TASKS)
    throw new PlatformError('105001')
  if (store.tasks.batchNameTaken(a.task.app_id, a.task.task_name)) throw new PlatformError('105002')
  if (a.deviceIds.length === 0) throw new PlatformError('101001', 'no device matches the task parameters')
  store.tasks.insertBatchTask({ ...a.task, created_at: now })
  for (const deviceId of a.deviceIds) {
    store.commands.insert(
      newCommandRow(
        {
          appId: a.task.app_id,
          deviceId,
          origin: 'ledger',
          serviceId: a.command.serviceId,
          method: a.command.method,
          paras: a.command.paras,
          callbackUrl: a.callbackUrl,
          // A sub-task not delivered before the task times out is not sent any more.
          expireTime: a.task.timeout_min * 60,
          maxRetransmit: a.maxRetransmit,
          batchTaskId: a.task.task_id,
        },
        now,
      ),
    )
  }
  return { taskId: a.task.task_id, commands: a.deviceIds.length }
}
