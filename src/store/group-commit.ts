import type { Logger } from '../logger.ts'

type Done = (err: Error | null) => void

/** Commits a batch; resolves with, per item, null when committed or the reason it was not. */
export type CommitBatch<T> = (items: T[]) => Promise<(string | null)[]>

/**
 * Group commit (ARCHITECTURE.md rule 2), pipelined: items pushed while a batch is being committed wait for the
 * next batch, and each item's callback runs only after the transaction holding it committed — so whatever the
 * callback acknowledges is durable, and one fsync serves many messages. One batch is in flight at a time, so
 * batches commit in the order their items arrived.
 */
export class GroupCommitter<T> {
  private queue: T[] = []
  private callbacks: Done[] = []
  private scheduled = false
  private inFlight: Promise<void> | undefined
  private batches = 0
  private items = 0

  constructor(
    private readonly commit: CommitBatch<T>,
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
    if (this.inFlight || this.scheduled) return
    this.scheduled = true
    // Let the rest of this event-loop turn's messages join the batch.
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }

  /** Items not yet committed (queued or in the batch being committed). */
  get pending(): number {
    return this.queue.length
  }

  stats(): { batches: number; items: number } {
    return { batches: this.batches, items: this.items }
  }

  /** Commits everything queued; resolves when nothing is queued or in flight (used at shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight || this.queue.length > 0) {
      this.flush()
      await this.inFlight
    }
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return
    const items = this.queue.splice(0, this.options.maxBatch)
    const callbacks = this.callbacks.splice(0, items.length)
    this.inFlight = this.commit(items).then(
      (results) => this.settle(items, callbacks, results),
      (err: unknown) => {
        this.options.log.error({ err, batch: items.length }, 'group commit failed; nothing acknowledged')
        for (const cb of callbacks) cb(err as Error)
      },
    )
    void this.inFlight.finally(() => {
      this.inFlight = undefined
      this.flush()
    })
  }

  private settle(items: T[], callbacks: Done[], results: (string | null)[]): void {
    const committed: T[] = []
    items.forEach((item, i) => {
      const failure = results[i]
      if (failure === null || failure === undefined) {
        committed.push(item)
        callbacks[i]!(null)
      } else {
        this.options.log.error({ error: failure }, 'item not committed; not acknowledged')
        callbacks[i]!(new Error(failure))
      }
    })
    this.batches += 1
    this.items += committed.length
    try {
      if (committed.length > 0) this.options.onCommitted?.(committed)
    } catch (err) {
      this.options.log.error({ err }, 'listener failed after commit')
    }
  }
}
