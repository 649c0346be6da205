import { Worker } from 'node:worker_threads'
import type { DeviceRegistry } from '../devices/registry.ts'
import type { EventBus, ReportedService } from '../events.ts'
import type { Logger } from '../logger.ts'
import { GroupCommitter } from '../store/group-commit.ts'
import type { FromWriter, IngestWorkerData, ToWriter } from './ingest-worker.ts'
import type { IngestItem } from './ingest-writer.ts'

export type { IngestItem }

/**
 * Device data ingest. Messages are group-committed by the writer thread (see ingest-writer.ts for what one
 * batch writes); `submit`'s callback runs after the batch holding the message committed, and the broker sends
 * PUBACK from it. While one batch commits, the next one fills.
 */
export class IngestService {
  private readonly committer: GroupCommitter<IngestItem>
  private worker: Worker | undefined
  private ready: Promise<void> | undefined
  private nextId = 1
  private readonly waiting = new Map<
    number,
    { resolve: (r: (string | null)[]) => void; reject: (e: Error) => void }
  >()
  private closing = false
  private readonly offDeleted: () => void

  constructor(
    private readonly workerData: IngestWorkerData,
    private readonly registry: DeviceRegistry,
    private readonly bus: EventBus,
    private readonly log: Logger,
    maxBatch: number,
  ) {
    this.committer = new GroupCommitter((items) => this.commit(items), {
      maxBatch,
      log,
      onCommitted: (items) => this.emitReported(items),
    })
    this.offDeleted = bus.on('device.deleted', ({ deviceId }) => this.post({ type: 'forget', deviceId }))
  }

  /** Starts the writer thread; resolves once it has opened the database. */
  start(): Promise<void> {
    const worker = new Worker(new URL('./ingest-worker.boot.mjs', import.meta.url), {
      workerData: this.workerData,
    })
    this.worker = worker
    this.ready = new Promise((resolve, reject) => {
      worker.once('error', reject)
      worker.on('message', (msg: FromWriter) => {
        if (msg.type === 'ready') {
          worker.off('error', reject)
          resolve()
        } else {
          const waiter = this.waiting.get(msg.id)
          this.waiting.delete(msg.id)
          waiter?.resolve(msg.results)
        }
      })
    })
    worker.on('error', (err) => this.log.error({ err }, 'ingest writer failed'))
    worker.on('exit', (code) => {
      // Whatever was in flight is not acknowledged: the devices send it again.
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`ingest writer exited (${code})`))
      this.waiting.clear()
      this.worker = undefined
      if (!this.closing) {
        this.log.error({ code }, 'ingest writer exited; restarting it')
        // A writer that cannot even reopen the database leaves every commit failing (devices are not
        // acknowledged and resend); say so rather than crash the gateway with an unhandled rejection.
        this.start().catch((err: unknown) =>
          this.log.fatal({ err }, 'ingest writer cannot restart; data is not acknowledged'),
        )
      }
    })
    return this.ready
  }

  submit(item: IngestItem, done: (err: Error | null) => void): void {
    // A device deleted while its message was on the way is not stored (it no longer exists).
    if (this.registry.exists(item.deviceId)) this.committer.push(item, done)
    else done(null)
  }

  /** Commits whatever is queued or in flight (at shutdown, before clients are disconnected). */
  drain(): Promise<void> {
    return this.committer.drain()
  }

  /** Drains, then stops the writer thread. */
  async close(): Promise<void> {
    await this.drain()
    this.closing = true
    this.offDeleted()
    await this.worker?.terminate()
  }

  get pending(): number {
    return this.committer.pending
  }

  stats(): { batches: number; items: number } {
    return this.committer.stats()
  }

  private async commit(items: IngestItem[]): Promise<(string | null)[]> {
    await this.ready
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      if (!this.post({ type: 'batch', id, items })) {
        this.waiting.delete(id)
        reject(new Error('ingest writer is not running'))
      }
    })
  }

  private post(msg: ToWriter): boolean {
    if (!this.worker) return false
    this.worker.postMessage(msg)
    return true
  }

  private emitReported(items: IngestItem[]): void {
    for (const item of items) {
      const services: ReportedService[] = item.data.map((d) => ({
        serviceId: d.serviceId,
        data: d.serviceData,
        eventTime: d.eventTime,
      }))
      this.bus.emit('device.reported', { deviceId: item.deviceId, services })
    }
  }
}
