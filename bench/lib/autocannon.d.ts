// The part of autocannon 9's programmatic API (it ships no types) that bench/rest.ts uses.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
    }

    /** One connection; `setRequests` replaces the sequence it cycles over. */
    interface Client extends EventEmitter {
      setRequests(requests: Request[]): void
    }

    interface Options {
      url: string
      connections?: number
      duration?: number
      amount?: number
      method?: string
      headers?: Record<string, string>
      requests?: Request[]
      setupClient?: (client: Client) => void
      /** Requests per second over all connections: each connection sends its share back to back each second. */
      overallRate?: number
      connectionRate?: number
      ignoreCoordinatedOmission?: boolean
      timeout?: number
      excludeErrorStats?: boolean
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p99: number
    }

    interface Result {
      duration: number
      latency: Histogram
      requests: Histogram
      throughput: Histogram
      errors: number
      timeouts: number
      mismatches: number
      non2xx: number
      resets: number
      '1xx': number
      '2xx': number
      '3xx': number
      '4xx': number
      '5xx': number
      statusCodeStats: Record<string, { count: number }>
    }

    /** Emits `response` (client, statusCode, bytes, responseTime ms) per response; settles when done. */
    interface Instance extends EventEmitter, PromiseLike<Result> {
      stop(): void
    }
  }

  function autocannon(opts: autocannon.Options): autocannon.Instance
  export default autocannon
}
