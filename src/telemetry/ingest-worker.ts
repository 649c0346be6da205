// The ingest writer thread: owns a second SQLite connection (WAL allows one writer beside the main
// connection's readers and short writes) so that commits — fsync included — never block the event loop that
// serves MQTT and HTTP.
import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase } from '../store/db.ts'
import { createStore } from '../store/index.ts'
import { type IngestItem, IngestWriter } from './ingest-writer.ts'

export interface IngestWorkerData {
  databaseFile: string
  synchronous: 'FULL' | 'NORMAL'
}

export type ToWriter =
  | { type: 'batch'; id: number; items: IngestItem[] }
  | { type: 'forget'; deviceId: string }
export type FromWriter = { type: 'ready' } | { type: 'result'; id: number; results: (string | null)[] }

const port = parentPort
if (port) {
  const data = workerData as IngestWorkerData
  const store = createStore(openDatabase(data.databaseFile, { synchronous: data.synchronous }))
  // The writer touches the telemetry and outbox indexes on every row: a 32 MiB page cache keeps them in memory.
  store.db.pragma('cache_size = -32768')
  const writer = new IngestWriter(store)
  port.on('message', (msg: ToWriter) => {
    if (msg.type === 'forget') {
      writer.forget(msg.deviceId)
      return
    }
    let results: (string | null)[]
    try {
      results = writer.write(msg.items)
    } catch (err) {
      results = msg.items.map(() => (err as Error).message)
    }
    port.postMessage({ type: 'result', id: msg.id, results } satisfies FromWriter)
  })
  port.on('close', () => store.db.close())
  port.postMessage({ type: 'ready' } satisfies FromWriter)
}
