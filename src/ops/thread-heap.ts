import { getHeapStatistics } from 'node:v8'

/** One V8 isolate's heap, as GET /sitegate/v1/process shows it per thread. */
export interface HeapFigures {
  /** Bytes held by live and not yet collected objects. */
  usedBytes: number
  /** Bytes of memory the heap has committed (what counts in the process's RSS). */
  physicalBytes: number
  /** Bytes outside the heap owned by its objects (Buffers, SQLite statements held by JS objects). */
  externalBytes: number
  /** When these figures were taken (epoch ms). */
  at: number
}

export function heapFigures(): HeapFigures {
  const h = getHeapStatistics()
  return {
    usedBytes: h.used_heap_size,
    physicalBytes: h.total_physical_size,
    externalBytes: h.external_memory,
    at: Date.now(),
  }
}

const REPORT_EVERY_MS = 10_000

/**
 * In a worker thread: sends its heap figures now and every 10 s (a thread's heap cannot be read from another
 * thread in Node 20). The timer does not keep the thread alive.
 */
export function reportHeap(send: (heap: HeapFigures) => void): void {
  send(heapFigures())
  setInterval(() => send(heapFigures()), REPORT_EVERY_MS).unref()
}
