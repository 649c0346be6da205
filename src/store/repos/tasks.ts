import type { Database } from 'better-sqlite3'

export interface CancelTaskRow {
  task_id: string
  app_id: string
  device_id: string
  status: string
  /** JSON array of commandIds. */
  command_ids: string
  created_at: number
}

export interface BatchTaskRow {
  task_id: string
  app_id: string
  task_name: string
  task_type: string
  timeout_min: number
  param_json: string
  tags_json: string | null
  created_at: number
}

/** §8.5 command-cancel tasks and §9 batch tasks. */
export class TasksRepo {
  private readonly stmts

  constructor(private readonly db: Database) {
    this.stmts = {
      insertCancel:
        db.prepare(`INSERT INTO command_cancel_tasks (task_id, app_id, device_id, status, command_ids,
        created_at) VALUES (@task_id, @app_id, @device_id, @status, @command_ids, @created_at)`),
      insertBatch:
        db.prepare(`INSERT INTO batch_tasks (task_id, app_id, task_name, task_type, timeout_min, param_json,
        tags_json, created_at) VALUES (@task_id, @app_id, @task_name, @task_type, @timeout_min, @param_json,
        @tags_json, @created_at)`),
      batch: db.prepare('SELECT * FROM batch_tasks WHERE task_id = ?'),
      batchByName: db.prepare('SELECT 1 FROM batch_tasks WHERE app_id = ? AND task_name = ?').pluck(),
      unfinishedBatches: db.prepare(`SELECT count(DISTINCT b.task_id) FROM batch_tasks b JOIN commands c
        ON c.batch_task_id = b.task_id WHERE b.app_id = ? AND c.status IN ('PENDING', 'SENT', 'DELIVERED')`),
    }
  }

  insertCancelTask(row: CancelTaskRow): void {
    this.stmts.insertCancel.run(row)
  }

  /** §8.6: an application's cancel tasks matching the filters, newest first. */
  cancelTasks(q: {
    appId: string
    taskId?: string | undefined
    deviceId?: string | undefined
    status?: string | undefined
    after?: number | undefined
    before?: number | undefined
  }): CancelTaskRow[] {
    const where = ['app_id = ?']
    const params: unknown[] = [q.appId]
    const add = (sql: string, v: unknown) => {
      if (v !== undefined) {
        where.push(sql)
        params.push(v)
      }
    }
    add('task_id = ?', q.taskId)
    add('device_id = ?', q.deviceId)
    add('status = ?', q.status)
    add('created_at > ?', q.after)
    add('created_at < ?', q.before)
    return this.db
      .prepare(
        `SELECT * FROM command_cancel_tasks WHERE ${where.join(' AND ')} ORDER BY created_at DESC, task_id`,
      )
      .all(...params) as CancelTaskRow[]
  }

  insertBatchTask(row: BatchTaskRow): void {
    this.stmts.insertBatch.run(row)
  }

  batchTask(taskId: string): BatchTaskRow | undefined {
    return this.stmts.batch.get(taskId) as BatchTaskRow | undefined
  }

  batchNameTaken(appId: string, name: string): boolean {
    return this.stmts.batchByName.get(appId, name) !== undefined
  }

  /** Batch tasks of the application with commands not finished yet (§9.1 limit: 105001). */
  unfinishedBatchTasks(appId: string): number {
    return this.stmts.unfinishedBatches.pluck().get(appId) as number
  }
}
