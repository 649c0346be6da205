import type { Logger } from '../logger.ts'

type Done = (err: Error | null) => void

/**
 * Group commit (ARCHITECTURE.md rule 2): items pushed during one turn of the event loop are written in one
 * SQLite transaction, and each item's callback runs only after that transaction committed — so whatever the
 * callback acknowledges is durable, and one fsync serves many messages.
 *
 * If a batch fails, its items are retried one per transaction, so one poisoned item cannot take its
 * neighbours down with it; an item that still fails gets the error (and is not acknowledged).
 */
export class GroupCommitter<T> {
  private queue: T[] = []
  private callbacks: Done[] = []
  private scheduled = false
  private batches = 0
  private items = 0

  constructor(
    private readonly runInTransaction: (items: T[]) => void,
    private readonly options: {
      maxBatch: number
      log: Logger
      /** Called after a commit with the committed items (events are emitted here). */
      onCommitted?: (items: T[]) => void
    },
  ) {}

  push(item: T, done: Done): void {
    this.queue.push(item)
    this.callbacks.push(done)
    if (this.queue.length >= this.options.maxBatch) {
      this.flush()
    } else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Pending items not yet committed. */
  get pending(): number {
    return this.queue.length
  }

  stats(): { batches: number; items: number } {
    return { batches: this.batches, items: this.items }
  }

  /** Commits everything queued now (used at shutdown). */
  flush(): void {
    this.scheduled = false
    if (this.queue.length === 0) return
    const items = this.queue
    const callbacks = this.callbacks
    this.queue = []
    this.callbacks = []
    try {
      this.runInTransaction(items)
    } catch (err) {
      this.options.log.error({ err, batch: items.length }, 'group commit failed; retrying items one by one')
      this.retryOneByOne(items, callbacks)
      return
    }
    this.batches += 1
    this.items += items.length
    for (const cb of callbacks) cb(null)
    this.notify(items)
  }

  private retryOneByOne(items: T[], callbacks: Done[]): void {
    const committed: T[] = []
    items.forEach((item, i) => {
      try {
        this.runInTransaction([item])
        committed.push(item)
        callbacks[i]!(null)
      } catch (err) {
        callbacks[i]!(err as Error)
      }
    })
    if (committed.length > 0) {
      this.batches += committed.length
      this.items += committed.length
      this.notify(committed)
    }
  }

  private notify(items: T[]): void {
    try {
      this.options.onCommitted?.(items)
    } catch (err) {
      this.options.log.error({ err }, 'listener failed after commit')
    }
  }
}
