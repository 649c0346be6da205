import type { Database } from 'better-sqlite3'

export interface CallbackRow {
  id: number
  url: string
  body: string
  command_id: string | null
  /** Set for a push notification (§7): the subscription it is owed to. */
  subscription_id: string | null
  attempts: number
  next_attempt_at: number
  last_error: string | null
  created_at: number
}

/** HTTP notifications owed to callback URLs (spec §7.12); delivered by notify/callback-dispatcher.ts. */
export class CallbacksRepo {
  private readonly stmts

  constructor(db: Database) {
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO callback_deliveries (url, body, command_id, subscription_id, next_attempt_at,
        created_at) VALUES (?, ?, ?, ?, ?, ?)`),
      subscriptionOf: db.prepare('SELECT subscription_id FROM callback_deliveries WHERE id = ?').pluck(),
      due: db.prepare('SELECT * FROM callback_deliveries WHERE next_attempt_at <= ? ORDER BY id LIMIT ?'),
      nextDueAt: db.prepare('SELECT min(next_attempt_at) FROM callback_deliveries').pluck(),
      remove: db.prepare('DELETE FROM callback_deliveries WHERE id = ?'),
      failed: db.prepare(
        'UPDATE callback_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?',
      ),
      all: db.prepare('SELECT * FROM callback_deliveries ORDER BY id'),
    }
  }

  enqueue(
    url: string,
    body: string,
    commandId: string | null,
    now: number,
    subscriptionId: string | null = null,
  ): void {
    this.stmts.insert.run(url, body, commandId, subscriptionId, now, now)
  }

  /** The subscription a delivery is owed to (null for a command's own callbackUrl). */
  subscriptionOf(id: number): string | null {
    return (this.stmts.subscriptionOf.get(id) as string | null | undefined) ?? null
  }

  due(now: number, limit: number): CallbackRow[] {
    return this.stmts.due.all(now, limit) as CallbackRow[]
  }

  nextDueAt(): number | undefined {
    return (this.stmts.nextDueAt.get() as number | null) ?? undefined
  }

  /** Delivered, or given up: the row goes. */
  remove(id: number): void {
    this.stmts.remove.run(id)
  }

  failed(id: number, error: string, nextAttemptAt: number): void {
    this.stmts.failed.run(error, nextAttemptAt, id)
  }

  all(): CallbackRow[] {
    return this.stmts.all.all() as CallbackRow[]
  }
}
