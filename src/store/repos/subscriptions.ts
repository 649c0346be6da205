import type { Database } from 'better-sqlite3'

export interface SubscriptionRow {
  subscription_id: string
  app_id: string
  notify_type: string
  callback_url: string
  channel: string
  created_at: number
  delivered_count: number
  failed_count: number
}

/** Subscriptions to push notifications (spec §6), one per (application, notifyType). */
export class SubscriptionsRepo {
  private readonly stmts

  constructor(private readonly db: Database) {
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO subscriptions (subscription_id, app_id, notify_type, callback_url, created_at)
        VALUES (?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM subscriptions WHERE subscription_id = ?'),
      forType: db.prepare('SELECT * FROM subscriptions WHERE app_id = ? AND notify_type = ?'),
      delete: db.prepare('DELETE FROM subscriptions WHERE subscription_id = ?'),
      delivered: db.prepare(
        'UPDATE subscriptions SET delivered_count = delivered_count + 1 WHERE subscription_id = ?',
      ),
      failed: db.prepare(
        'UPDATE subscriptions SET failed_count = failed_count + 1 WHERE subscription_id = ?',
      ),
    }
  }

  insert(
    row: Pick<SubscriptionRow, 'subscription_id' | 'app_id' | 'notify_type' | 'callback_url' | 'created_at'>,
  ): void {
    this.stmts.insert.run(row.subscription_id, row.app_id, row.notify_type, row.callback_url, row.created_at)
  }

  get(subscriptionId: string): SubscriptionRow | undefined {
    return this.stmts.get.get(subscriptionId) as SubscriptionRow | undefined
  }

  /** The application's subscription to a notifyType, if any. */
  forType(appId: string, notifyType: string): SubscriptionRow | undefined {
    return this.stmts.forType.get(appId, notifyType) as SubscriptionRow | undefined
  }

  delete(subscriptionId: string): void {
    this.stmts.delete.run(subscriptionId)
  }

  countDelivered(subscriptionId: string): void {
    this.stmts.delivered.run(subscriptionId)
  }

  countFailed(subscriptionId: string): void {
    this.stmts.failed.run(subscriptionId)
  }

  /** An application's subscriptions matching every given filter, oldest first. */
  find(q: {
    appId: string
    notifyType?: string | undefined
    callbackUrl?: string | undefined
    channel?: string | undefined
  }): SubscriptionRow[] {
    const where = ['app_id = ?']
    const params: unknown[] = [q.appId]
    for (const [column, value] of [
      ['notify_type', q.notifyType],
      ['callback_url', q.callbackUrl],
      ['channel', q.channel],
    ] as const) {
      if (value === undefined) continue
      where.push(`${column} = ?`)
      params.push(value)
    }
    return this.db
      .prepare(
        `SELECT * FROM subscriptions WHERE ${where.join(' AND ')} ORDER BY created_at, subscription_id`,
      )
      .all(...params) as SubscriptionRow[]
  }
}
