// The drain builder: its own read connection to the database (WAL: readers never block the writer), building
// upstream messages on request over a MessagePort. It runs in the ingest writer thread (telemetry/ingest-worker.ts
// hosts it when the sync engine opens a channel): a thread of its own cost a whole V8 isolate — some 20 MiB of the
// soak's RSS (issue 10 item 4) — and building stays off the main thread all the same. The main thread keeps the
// connection, the in-flight window and the PUBACKs; the writer deletes what was acknowledged.
import type { MessagePort } from 'node:worker_threads'
import { snapshotImageReader } from '../cameras/snapshot-bytes.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { createLogger } from '../logger.ts'
import { openDatabase } from '../store/db.ts'
import { createStore } from '../store/index.ts'
import { type BuiltMessage, MessageBuilder } from './message-builder.ts'
import { profileOf } from './profiles.ts'

export interface DrainChannelData {
  databaseFile: string
  /** Where camera snapshot files are (their images go up with their outbox rows). */
  snapshotsDir: string
  upstream: GatewayConfig['upstream']
  logLevel: string
}

export type ToDrain =
  | { type: 'reset' }
  | { type: 'wake' }
  /** Build up to `n` messages; `request` is echoed in the answer. */
  | { type: 'build'; request: number; n: number; snapshotRowsInFlight: number }

export type FromDrain =
  | { type: 'ready' }
  /** The builder could not start (its database would not open). */
  | { type: 'fatal'; error: string }
  | { type: 'built'; request: number; messages: BuiltMessage[] }
  | { type: 'failed'; request: number; error: string }

/** Serves the sync engine's requests on `port` until it closes (then closes the builder's connection). */
export function serveDrain(port: MessagePort, data: DrainChannelData): void {
  const log = createLogger(data.logLevel).child({ part: 'sync', thread: 'writer' })
  let builder: MessageBuilder
  let store: ReturnType<typeof createStore>
  try {
    // The drain reads the outbox in order, each page once: a small cache serves it.
    store = createStore(openDatabase(data.databaseFile, { synchronous: 'NORMAL', cacheMiB: 1 }))
    const images = snapshotImageReader(store, data.snapshotsDir)
    builder = new MessageBuilder(store, profileOf(data.upstream), data.upstream, log, images)
  } catch (err) {
    port.postMessage({ type: 'fatal', error: (err as Error).message } satisfies FromDrain)
    port.close()
    return
  }
  port.on('message', (msg: ToDrain) => {
    if (msg.type === 'reset') builder.reset()
    else if (msg.type === 'wake') builder.wake()
    else {
      try {
        const messages: BuiltMessage[] = []
        while (messages.length < msg.n) {
          const m = builder.build(msg.snapshotRowsInFlight)
          if (!m) break
          messages.push(m)
        }
        // Deflated payloads move to the main thread without a copy (a payload sharing a pooled buffer is
        // copied out first: transferring the pool would take it from under its other users).
        const transfer: ArrayBuffer[] = []
        for (const m of messages) {
          if (typeof m.payload === 'string') continue
          if (m.payload.byteOffset !== 0 || m.payload.byteLength !== m.payload.buffer.byteLength)
            m.payload = new Uint8Array(m.payload)
          transfer.push(m.payload.buffer as ArrayBuffer)
        }
        port.postMessage({ type: 'built', request: msg.request, messages } satisfies FromDrain, transfer)
      } catch (err) {
        log.error({ err }, 'building upstream messages failed')
        port.postMessage({
          type: 'failed',
          request: msg.request,
          error: (err as Error).message,
        } satisfies FromDrain)
      }
    }
  })
  port.on('close', () => store.db.close())
  port.postMessage({ type: 'ready' } satisfies FromDrain)
}
