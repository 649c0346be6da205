import type { Logger } from '../logger.ts'

/** Called once the item's batch is settled: err when it was not committed, else the item's outcome. */
export type Done<O> = (err: Error | null, outcome?: O) => void

/** Commits a batch; resolves with one outcome per item. */
export type CommitBatch<T, O> = (items: T[]) => Promise<O[]>

/**
 * Group commit (ARCHITECTURE.md rule 2), pipelined: items pushed while a batch is being committed wait for the
 * next batch, and each item's callback runs only after the transaction holding it committed — so whatever the
 * callback acknowledges is durable, and one fsync serves many messages. One batch is in flight at a time, so
 * batches commit in the order their items arrived.
 */
export class GroupCommitter<T, O> {
  private queue: T[] = []
  private callbacks: Done<O>[] = []
  private scheduled = false
  private inFlight: Promise<void> | undefined
  private batches = 0
  private items = 0

  constructor(
    private readonly commit: CommitBatch<T, O>,
    private readonly options: {
      maxBatch: number
      log: Logger
      /** Why an item was not committed, per its outcome; undefined when it was. */
      failureOf: (outcome: O) => string | undefined
    },
  ) {}

  push(item: T, done: Done<O>): void {
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
      (outcomes) => this.settle(callbacks, outcomes),
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

  private settle(callbacks: Done<O>[], outcomes: O[]): void {
    let committed = 0
    callbacks.forEach((done, i) => {
      const outcome = outcomes[i] as O
      const failure = this.options.failureOf(outcome)
      if (failure === undefined) {
        committed += 1
        done(null, outcome)
      } else {
        this.options.log.error({ error: failure }, 'item not committed; not acknowledged')
        done(new Error(failure))
      }
    })
    this.batches += 1
    this.items += committed
  }
}
