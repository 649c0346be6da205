// History retention (issue 10 item 7, README "Retention"): telemetry history and desired-state history are kept
// by age and by size. Pruning runs in the background in small steps — each one write operation in the writer
// thread's group commit — so a device's publish waits at most one step behind it, never a whole round.
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../logger.ts'
import type { OpArgs, OpName, OpResult } from '../store/write-ops.ts'
import type { HistoryName, PruneResult } from './retention-ops.ts'

const DAY_MS = 86_400_000
/** Bytes one step may delete (see PruneArgs.stepBytes). */
const STEP_BYTES = 8 * 1024 * 1024

export interface RetentionWriter {
  execute<N extends OpName>(name: N, args: OpArgs<N>): Promise<OpResult<N>>
}

export interface HistoryCounters {
  deletedRecords: number
  deletedBytes: number
  /** Chunks over a limit kept in the last round because their outbox rows are still waiting to go upstream. */
  keptForUpstream: number
  records: number
  bytes: number
  lastRoundAt: number | null
}

const HISTORIES: HistoryName[] = ['telemetry', 'desiredHistory']

export class RetentionService {
  private timer: NodeJS.Timeout | undefined
  private round: Promise<void> | undefined
  private stopping = false
  readonly counters: Record<HistoryName, HistoryCounters> = {
    telemetry: emptyCounters(),
    desiredHistory: emptyCounters(),
  }

  constructor(
    private readonly config: GatewayConfig['retention'],
    private readonly writer: RetentionWriter,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.stopping = false
    this.schedule(0)
  }

  /** Stops the timer and waits for a step in flight (before the writer thread closes). */
  async stop(): Promise<void> {
    this.stopping = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.round
  }

  /** Runs one round now (and resolves when it is over); used by the timer and by tests. */
  runRound(): Promise<void> {
    this.round ??= this.prune().finally(() => {
      this.round = undefined
    })
    return this.round
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return
    this.timer = setTimeout(() => {
      void this.runRound().finally(() => this.schedule(this.config.checkIntervalMs))
    }, delayMs)
    this.timer.unref()
  }

  private async prune(): Promise<void> {
    for (const history of HISTORIES) {
      const limits = this.config[history]
      if (limits.maxAgeDays === 0 && limits.maxBytes === 0) continue
      try {
        await this.pruneHistory(history, Math.round(limits.maxAgeDays * DAY_MS), limits.maxBytes)
      } catch (err) {
        // A failed step (disk full, database busy) is retried in the next round; nothing was half-deleted.
        this.log.error({ err, history }, 'retention step failed; retrying next round')
      }
    }
  }

  private async pruneHistory(history: HistoryName, maxAgeMs: number, maxBytes: number): Promise<void> {
    const counters = this.counters[history]
    let afterId = 0
    let deleted = 0
    let deletedBytes = 0
    let kept = 0
    let last: PruneResult | undefined
    while (!this.stopping) {
      last = await this.writer.execute('retention.prune', {
        history,
        maxAgeMs,
        maxBytes,
        afterId,
        stepRows: this.config.stepRows,
        stepBytes: STEP_BYTES,
      })
      deleted += last.deleted
      deletedBytes += last.deletedBytes
      kept += last.keptForUpstream
      counters.deletedRecords += last.deleted
      counters.deletedBytes += last.deletedBytes
      counters.records = last.records
      counters.bytes = last.bytes
      afterId = last.nextAfterId
      if (last.done) break
      // Let the device messages that queued meanwhile commit before the next step.
      await new Promise((resolve) => setImmediate(resolve))
    }
    counters.keptForUpstream = kept
    counters.lastRoundAt = Date.now()
    if (deleted > 0) {
      this.log.info(
        { history, deleted, deletedBytes, records: last?.records, bytes: last?.bytes },
        `retention: pruned ${deleted} ${history} rows`,
      )
    }
    if (kept > 0 && maxBytes > 0 && (last?.bytes ?? 0) > maxBytes) {
      this.log.warn(
        { history, keptForUpstream: kept, bytes: last?.bytes, maxBytes },
        'retention: history over its size limit, but the rest is still waiting to go upstream ' +
          '(the outbox quota, upstream.quota, bounds it)',
      )
    }
  }
}

function emptyCounters(): HistoryCounters {
  return { deletedRecords: 0, deletedBytes: 0, keptForUpstream: 0, records: 0, bytes: 0, lastRoundAt: null }
}
