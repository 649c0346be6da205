// The ingest writer thread: owns a second SQLite connection (WAL allows one writer beside the main
// connection's readers and short writes) so that decoding and commits — fsync included — never block the
// event loop that serves MQTT and HTTP.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { type HeapFigures, reportHeap } from '../ops/thread-heap.ts'
import { openDatabase } from '../store/db.ts'
import { createStore } from '../store/index.ts'
import type { OpCall, OpOutcome } from '../store/write-ops.ts'
import type { DrainChannelData, FromDrain } from '../sync/drain-channel.ts'
import { type IngestMessage, type IngestOutcome, IngestWriter } from './ingest-writer.ts'

export interface IngestWorkerData {
  databaseFile: string
  synchronous: 'FULL' | 'NORMAL'
}

/**
 * A batch as posted to the writer: the payloads back to back in one transferred buffer (no per-message
 * structured clone), message i being bytes [ends[i-1], ends[i]).
 */
export interface PackedBatch {
  deviceIds: string[]
  receivedAt: Float64Array
  ends: Uint32Array
  bytes: ArrayBuffer
  withReports: boolean
  /** Named write operations (store/write-ops.ts), run after the messages. */
  ops: OpCall[]
}

export type ToWriter =
  | ({ type: 'batch'; id: number } & PackedBatch)
  | { type: 'forget'; deviceId: string }
  /** Host the upstream message builder on `port` (sync/drain-channel.ts). */
  | { type: 'drain'; port: MessagePort; data: DrainChannelData }
export type FromWriter =
  | { type: 'ready' }
  | { type: 'heap'; heap: HeapFigures }
  | {
      type: 'result'
      id: number
      outcomes: IngestOutcome[]
      reports?: string
      opOutcomes: OpOutcome[]
      /** Devices whose device or shadow rows the batch wrote (null: any), for the main thread's view cache. */
      written: string[] | null
    }

export function unpack(batch: PackedBatch): IngestMessage[] {
  const bytes = Buffer.from(batch.bytes)
  let start = 0
  return batch.deviceIds.map((deviceId, i) => {
    const end = batch.ends[i]!
    const message = { deviceId, text: bytes.toString('utf8', start, end), receivedAt: batch.receivedAt[i]! }
    start = end
    return message
  })
}

const port = parentPort
if (port) {
  const data = workerData as IngestWorkerData
  // The writer touches the history and outbox indexes on every batch: 4 MiB of page cache keeps their upper levels
  // and the pages being appended to in memory (32 MiB measured no faster in bench/ingest).
  const store = createStore(openDatabase(data.databaseFile, { synchronous: data.synchronous, cacheMiB: 4 }))
  const writer = new IngestWriter(store)
  // Every device and shadow row write goes through these repositories: the batch's set is reported with its
  // result, so the main thread drops exactly those devices' cached views (devices/view-cache.ts).
  let written = new Set<string>()
  let writtenAny = false
  store.devices.onWrite = (deviceId) => {
    if (deviceId === null) writtenAny = true
    else written.add(deviceId)
  }
  store.shadows.onWrite = (deviceId) => written.add(deviceId)
  port.on('message', (msg: ToWriter) => {
    if (msg.type === 'forget') {
      writer.forget(msg.deviceId)
      return
    }
    if (msg.type === 'drain') {
      // Loaded when the upstream is configured: a gateway without one does not carry the builder.
      const { port: drainPort, data: drainData } = msg
      import('../sync/drain-channel.ts').then(
        ({ serveDrain }) => serveDrain(drainPort, drainData),
        (err: unknown) => {
          drainPort.postMessage({ type: 'fatal', error: (err as Error).message } satisfies FromDrain)
          drainPort.close()
        },
      )
      return
    }
    let result: { outcomes: IngestOutcome[]; reports?: string }
    try {
      result = writer.write(unpack(msg), msg.withReports)
    } catch (err) {
      const failed: IngestOutcome = { kind: 'failed', error: (err as Error).message }
      result = { outcomes: msg.deviceIds.map(() => failed) }
    }
    let opOutcomes: OpOutcome[]
    try {
      opOutcomes = writer.runOps(msg.ops)
    } catch (err) {
      // The transaction itself failed (e.g. disk full at commit): nothing of it was written.
      opOutcomes = msg.ops.map(() => ({ ok: false, message: (err as Error).message }))
    }
    // Rolled-back writes are reported too: a device dropped from the cache for nothing is only read again.
    const touched = writtenAny ? null : [...written]
    written = new Set()
    writtenAny = false
    port.postMessage({
      type: 'result',
      id: msg.id,
      ...result,
      opOutcomes,
      written: touched,
    } satisfies FromWriter)
  })
  port.on('close', () => store.db.close())
  port.postMessage({ type: 'ready' } satisfies FromWriter)
  reportHeap((heap) => port.postMessage({ type: 'heap', heap } satisfies FromWriter))
}
