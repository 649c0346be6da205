import { MessageChannel, type MessagePort, type Transferable, Worker } from 'node:worker_threads'
import type { DeviceRegistry } from '../devices/registry.ts'
import { type ErrorCode, PlatformError } from '../errors.ts'
import type { EventBus, GatewayEvents } from '../events.ts'
import type { Logger } from '../logger.ts'
import { WORKER_RESOURCE_LIMITS } from '../ops/memory-tuning.ts'
import type { HeapFigures } from '../ops/thread-heap.ts'
import { type Done, GroupCommitter } from '../store/group-commit.ts'
import type { OpArgs, OpCall, OpName, OpOutcome, OpResult } from '../store/write-ops.ts'
import type { DrainChannelData } from '../sync/drain-channel.ts'
import type { FromWriter, IngestWorkerData, PackedBatch, ToWriter } from './ingest-worker.ts'
import type { IngestOutcome } from './ingest-writer.ts'

export type { IngestOutcome }

/** A message a device published on its data topic, as received. */
export interface IngestItem {
  deviceId: string
  payload: Buffer
  receivedAt: number
}

/** What the writer thread commits: device messages and named write operations, in one group commit. */
type WriteItem = IngestItem | { op: OpCall }
type WriteOutcome = IngestOutcome | OpOutcome

type WriterResult = Extract<FromWriter, { type: 'result' }>

/**
 * Device data ingest. Messages go undecoded to the writer thread, which decodes and group-commits them (see
 * ingest-writer.ts for what one batch writes); `submit`'s callback runs after the batch holding the message
 * committed, with the message's outcome, and the broker sends PUBACK from it. While one batch commits, the
 * next one fills.
 */
export class IngestService {
  private readonly committer: GroupCommitter<WriteItem, WriteOutcome>
  private worker: Worker | undefined
  private ready: Promise<void> | undefined
  private nextId = 1
  private readonly waiting = new Map<
    number,
    { resolve: (r: WriterResult) => void; reject: (e: Error) => void }
  >()
  private closing = false
  /** Called after each committed batch (notifications it queued can go: the callback dispatcher's wake). */
  onBatchCommitted: () => void = () => {}
  /** Called once per committed batch with its size and its oldest device message's receive time (metrics). */
  onBatchStats: (items: number, oldestReceivedAt: number | undefined) => void = () => {}
  private writerUp = false
  private writerHeap: HeapFigures | null = null
  /**
   * Called with the devices whose device or shadow rows a writer batch wrote (null: any device, or unknown
   * because the batch's fate is), before the batch's callbacks run: whoever learns of a commit (a PUBACK, a
   * REST answer) then reads the new state from a view cache (devices/view-cache.ts).
   */
  onDevicesWritten: (deviceIds: string[] | null) => void = () => {}
  private readonly offDeleted: () => void
  private readonly offChanged: () => void

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
      failureOf: (outcome) =>
        outcome && 'kind' in outcome && outcome.kind === 'failed' ? outcome.error : undefined,
    })
    this.offDeleted = bus.on('device.deleted', ({ deviceId }) => this.post({ type: 'forget', deviceId }))
    // §4.4 may give the device another product model: the writer's cached productId is reloaded.
    this.offChanged = bus.on('device.changed', ({ deviceId }) => this.post({ type: 'forget', deviceId }))
  }

  /** Starts the writer thread; resolves once it has opened the database. */
  start(): Promise<void> {
    const worker = new Worker(new URL('./ingest-worker.boot.mjs', import.meta.url), {
      workerData: this.workerData,
      resourceLimits: WORKER_RESOURCE_LIMITS,
    })
    this.worker = worker
    this.ready = new Promise((resolve, reject) => {
      worker.once('error', reject)
      worker.on('message', (msg: FromWriter) => {
        if (msg.type === 'ready') {
          this.writerUp = true
          worker.off('error', reject)
          resolve()
        } else if (msg.type === 'heap') {
          this.writerHeap = msg.heap
        } else {
          const waiter = this.waiting.get(msg.id)
          this.waiting.delete(msg.id)
          waiter?.resolve(msg)
        }
      })
    })
    worker.on('error', (err) => this.log.error({ err }, 'ingest writer failed'))
    worker.on('exit', (code) => {
      // Whatever was in flight is not acknowledged: the devices send it again.
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`ingest writer exited (${code})`))
      this.waiting.clear()
      this.worker = undefined
      this.writerUp = false
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

  submit(item: IngestItem, done: Done<IngestOutcome>): void {
    // A device deleted while its message was on the way is not stored (it no longer exists).
    if (this.registry.exists(item.deviceId)) this.committer.push(item, done as Done<WriteOutcome>)
    else done(null, { kind: 'invalid', error: 'device was deleted' })
  }

  /**
   * Runs a named write operation (store/write-ops.ts) in the writer thread's next group commit; resolves with
   * its result once committed, rejects with its PlatformError (or Error) when it threw, or when the commit
   * failed.
   */
  execute<N extends OpName>(name: N, args: OpArgs<N>): Promise<OpResult<N>> {
    return new Promise((resolve, reject) => {
      this.committer.push({ op: { name, args } }, (err, outcome) => {
        if (err) return reject(err)
        const o = outcome as OpOutcome
        if (o.ok) return resolve(o.value as OpResult<N>)
        if (o.platform) return reject(new PlatformError(o.platform.code as ErrorCode, o.platform.detail))
        reject(new Error(o.message))
      })
    })
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
    this.offChanged()
    await this.worker?.terminate()
  }

  /** The writer thread's heap as it last reported it (GET /sitegate/v1/process); null while it is not running. */
  get heap(): HeapFigures | null {
    return this.writerUp ? this.writerHeap : null
  }

  /** The writer thread has opened the database and not exited (readiness). */
  get writerRunning(): boolean {
    return this.writerUp
  }

  get pending(): number {
    return this.committer.pending
  }

  stats(): { batches: number; items: number } {
    return this.committer.stats()
  }

  private async commit(items: WriteItem[]): Promise<WriteOutcome[]> {
    await this.ready
    const id = this.nextId++
    const withReports = this.bus.hasListeners('device.reported')
    const messages: IngestItem[] = []
    const ops: OpCall[] = []
    for (const item of items) {
      if ('op' in item) ops.push(item.op)
      else messages.push(item)
    }
    let result: WriterResult
    try {
      result = await new Promise<WriterResult>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject })
        const batch = pack(messages, withReports, ops)
        if (!this.post({ type: 'batch', id, ...batch }, [batch.bytes])) {
          this.waiting.delete(id)
          reject(new Error('ingest writer is not running'))
        }
      })
    } catch (err) {
      // The writer died with the batch: it may have committed all the same.
      this.onDevicesWritten(null)
      throw err
    }
    this.onDevicesWritten(result.written)
    if (result.reports) this.emitReported(result.reports)
    this.onBatchCommitted()
    this.onBatchStats(items.length, messages[0]?.receivedAt)
    // Back in item order: message outcomes and op outcomes were returned per kind, each in order.
    let m = 0
    let o = 0
    return items.map((item) => ('op' in item ? result.opOutcomes[o++]! : result.outcomes[m++]!))
  }

  /**
   * A channel to the upstream message builder, hosted in the writer thread (sync/drain-channel.ts); once the
   * writer is up. The channel closes if the writer thread exits (it is restarted; open another one then).
   */
  async openDrainChannel(data: DrainChannelData): Promise<MessagePort> {
    await this.ready
    const { port1, port2 } = new MessageChannel()
    if (!this.post({ type: 'drain', port: port2, data }, [port2])) {
      port1.close()
      throw new Error('ingest writer is not running')
    }
    return port1
  }

  private post(msg: ToWriter, transfer: Transferable[] = []): boolean {
    if (!this.worker) return false
    this.worker.postMessage(msg, transfer)
    return true
  }

  private emitReported(json: string): void {
    // The batch is committed whatever a listener does: a failing listener must not withhold the PUBACKs.
    try {
      for (const report of JSON.parse(json) as GatewayEvents['device.reported'][]) {
        this.bus.emit('device.reported', report)
      }
    } catch (err) {
      this.log.error({ err }, 'device.reported listener failed')
    }
  }
}

/** Packs payloads back to back into one buffer that is transferred, not copied, to the writer. */
function pack(items: IngestItem[], withReports: boolean, ops: OpCall[]): PackedBatch {
  let size = 0
  for (const item of items) size += item.payload.length
  const bytes = new ArrayBuffer(size)
  const view = new Uint8Array(bytes)
  const ends = new Uint32Array(items.length)
  const receivedAt = new Float64Array(items.length)
  const deviceIds = new Array<string>(items.length)
  let offset = 0
  items.forEach((item, i) => {
    view.set(item.payload, offset)
    offset += item.payload.length
    ends[i] = offset
    receivedAt[i] = item.receivedAt
    deviceIds[i] = item.deviceId
  })
  return { deviceIds, receivedAt, ends, bytes, withReports, ops }
}
