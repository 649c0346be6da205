import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { type HeapFigures, heapFigures } from '../../ops/thread-heap.ts'

export interface ProcessRouteDeps {
  /** The worker thread's heap as it last reported it (null: the thread is not running). */
  threads: () => { ingestWriter: HeapFigures | null }
}

/**
 * GET /sitegate/v1/process (issue 10, soak): the gateway process's memory and event-loop delay, so that a soak
 * run (bench/soak.ts) or an operator can see a leak or a stalled loop, and which thread's heap holds the memory
 * (the main thread and the ingest writer, which also builds upstream messages: two V8 isolates in one process).
 * Event-loop delay percentiles cover the time since the start, or since the last call with `?reset=true`. Same
 * credentials as the platform API.
 */
export function processRoutes(app: FastifyInstance, deps: ProcessRouteDeps): void {
  const RESOLUTION_MS = 10
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  delay.enable()
  const started = Date.now()
  let since = started
  // The histogram holds the time between samples, the sampling interval included: the delay is the rest.
  const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4 - RESOLUTION_MS * 100) / 100)
  app.get<{ Querystring: { reset?: 'true' | 'false' } }>(
    '/sitegate/v1/process',
    {
      schema: {
        tags: ['sitegate'],
        querystring: {
          type: 'object',
          properties: {
            reset: {
              type: 'string',
              enum: ['true', 'false'],
              description: 'start a new event-loop delay window',
            },
          },
        },
      },
    },
    async (request) => {
      const mem = process.memoryUsage()
      const body = {
        pid: process.pid,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external },
        heaps: { main: heapFigures(), ...deps.threads() },
        eventLoopDelayMs: {
          since: new Date(since).toISOString(),
          mean: ms(delay.mean),
          p50: ms(delay.percentile(50)),
          p99: ms(delay.percentile(99)),
          max: ms(delay.max),
        },
      }
      if (request.query.reset === 'true') {
        delay.reset()
        since = Date.now()
      }
      return body
    },
  )
}
