import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type AttemptOutcome,
  type CallbackDelivery,
  CallbackDispatcher,
  type CallbackDispatcherOptions,
  type CallbackStore,
  defaultBackoffMs,
} from '../../src/notify/callback-dispatcher.ts'

interface Row extends CallbackDelivery {
  nextAttemptAt: number
  lastError: string | null
}

/** The callback_deliveries table in memory: what the SQLite repository does, minus the disk. */
class MemoryStore implements CallbackStore {
  readonly rows = new Map<number, Row>()
  private nextId = 1
  /** While true, every call fails as a broken database would. */
  broken = false
  /** How many of the next `record` calls fail (the row stays as it was). */
  failRecords = 0

  add(url: string, body: string, nextAttemptAt = Date.now(), attempts = 0): number {
    const id = this.nextId++
    this.rows.set(id, { id, url, body, attempts, nextAttemptAt, lastError: null })
    return id
  }

  due(now: number, limit: number): CallbackDelivery[] {
    this.check()
    return [...this.rows.values()]
      .filter((r) => r.nextAttemptAt <= now)
      .sort((a, b) => a.id - b.id)
      .slice(0, limit)
      .map(({ id, url, body, attempts }) => ({ id, url, body, attempts }))
  }

  nextDueAt(): number | undefined {
    this.check()
    let next: number | undefined
    for (const r of this.rows.values()) next = Math.min(next ?? r.nextAttemptAt, r.nextAttemptAt)
    return next
  }

  async record(id: number, outcome: AttemptOutcome): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)) // a commit takes a moment
    this.check()
    if (this.failRecords > 0) {
      this.failRecords -= 1
      throw new Error('disk I/O error')
    }
    const row = this.rows.get(id)
    if (!row) return
    if (outcome.delivered || outcome.nextAttemptAt === null) {
      this.rows.delete(id)
      return
    }
    row.attempts += 1
    row.nextAttemptAt = outcome.nextAttemptAt
    row.lastError = outcome.error
  }

  private check(): void {
    if (this.broken) throw new Error('database is locked')
  }
}

interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  /** The §7.12 notification's commandId. */
  commandId: string
}

/** A callback receiver on 127.0.0.1; `answer` decides each response (default 200, no body, as §7 documents). */
class Receiver {
  readonly received: Received[] = []
  answer: (req: Received, res: ServerResponse) => void = (_req, res) => res.end()
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let commandId = ''
      try {
        commandId = (JSON.parse(body) as { commandId: string }).commandId
      } catch {}
      const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, commandId }
      this.received.push(r)
      this.answer(r, res)
    })
  })

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`
  }

  /** commandIds received on `path`, in arrival order. */
  commandIds(path: string): string[] {
    return this.received.filter((r) => r.path === path).map((r) => r.commandId)
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

/** A §7.12 command status change notification. */
function notification(commandId: string, resultCode = 'SENT'): string {
  return JSON.stringify({ deviceId: 'dev-1', commandId, result: { resultCode, resultDetail: null } })
}

interface LogEntry {
  level: number
  msg: string
  [key: string]: unknown
}

/** Resolves once `condition` holds; fails after `timeoutMs` (generous: nothing here should take that long). */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

let receiver: Receiver
let store: MemoryStore
let logs: LogEntry[]
const dispatchers: CallbackDispatcher[] = []

beforeEach(async () => {
  receiver = new Receiver()
  await receiver.start()
  store = new MemoryStore()
  logs = []
})

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop()))
  await receiver.close()
})

/** A started dispatcher over `store`, logging into `logs`; fast retries unless told otherwise. */
function dispatcher(options: Partial<CallbackDispatcherOptions> = {}): CallbackDispatcher {
  const log = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as LogEntry) })
  const d = new CallbackDispatcher(store, log, { backoffMs: () => 20, ...options })
  dispatchers.push(d)
  d.start()
  return d
}

const logged = (msg: string) => logs.filter((e) => e.msg === msg)

describe('CallbackDispatcher delivery', () => {
  it('POSTs the body as application/json and drops the row once answered 2xx', async () => {
    const body = notification('cmd-1', 'DELIVERED')
    store.add(receiver.url('/cb?x=1'), body)
    dispatcher()
    await until(() => store.rows.size === 0, 'delivery')
    expect(receiver.received).toHaveLength(1)
    const [req] = receiver.received
    expect(req?.method).toBe('POST')
    expect(req?.path).toBe('/cb?x=1')
    expect(req?.headers['content-type']).toBe('application/json')
    expect(req?.body).toBe(body)
    expect(logged('callback delivered')).toEqual([
      expect.objectContaining({ level: 30, url: receiver.url('/cb?x=1'), id: 1, attempt: 1 }),
    ])
    expect(typeof logged('callback delivered')[0]?.ms).toBe('number')
  })

  it('counts any 2xx as delivered', async () => {
    receiver.answer = (_req, res) => {
      res.writeHead(204).end()
    }
    store.add(receiver.url('/cb'), notification('cmd-1'))
    dispatcher()
    await until(() => store.rows.size === 0, 'delivery')
    expect(receiver.received).toHaveLength(1)
  })

  it('retries after 500, 500 and delivers on the 3rd attempt, recording each failure', async () => {
    store.add(receiver.url('/cb'), notification('cmd-1'))
    const seen: Array<Pick<Row, 'attempts' | 'lastError'>> = []
    receiver.answer = (_req, res) => {
      const row = store.rows.get(1)
      if (row) seen.push({ attempts: row.attempts, lastError: row.lastError })
      res.writeHead(receiver.received.length <= 2 ? 500 : 200).end()
    }
    dispatcher()
    await until(() => store.rows.size === 0, 'delivery')
    expect(receiver.received).toHaveLength(3)
    // What the store held when each attempt arrived: the previous failures were recorded.
    expect(seen).toEqual([
      { attempts: 0, lastError: null },
      { attempts: 1, lastError: 'HTTP 500' },
      { attempts: 2, lastError: 'HTTP 500' },
    ])
    expect(logged('callback attempt failed').map((e) => [e.level, e.attempt, e.error])).toEqual([
      [40, 1, 'HTTP 500'],
      [40, 2, 'HTTP 500'],
    ])
    expect(typeof logged('callback attempt failed')[0]?.nextAttemptAt).toBe('string')
    expect(logged('callback delivered').map((e) => e.attempt)).toEqual([3])
  })

  it('does not follow redirects: a 3xx is a failure', async () => {
    receiver.answer = (req, res) => {
      if (req.path === '/moved') res.writeHead(302, { location: '/elsewhere' }).end()
      else res.end()
    }
    store.add(receiver.url('/moved'), notification('cmd-1'))
    dispatcher({ maxAttempts: 1 })
    await until(() => store.rows.size === 0, 'give-up')
    expect(receiver.received.map((r) => r.path)).toEqual(['/moved'])
    expect(logged('callback given up')[0]?.error).toBe('HTTP 302')
  })
})

describe('CallbackDispatcher ordering', () => {
  it('keeps one URL in id order while its head fails', async () => {
    receiver.answer = (req, res) => {
      const tries = receiver.commandIds('/cb').filter((c) => c === req.commandId).length
      res.writeHead(req.commandId === 'cmd-1' && tries <= 2 ? 503 : 200).end()
    }
    for (const n of [1, 2, 3]) store.add(receiver.url('/cb'), notification(`cmd-${n}`))
    dispatcher()
    await until(() => store.rows.size === 0, 'all delivered')
    expect(receiver.commandIds('/cb')).toEqual(['cmd-1', 'cmd-1', 'cmd-1', 'cmd-2', 'cmd-3'])
  })

  it('lets a live URL proceed while a dead one keeps failing', async () => {
    receiver.answer = (req, res) => {
      res.writeHead(req.path === '/dead' ? 503 : 200).end()
    }
    store.add(receiver.url('/dead'), notification('dead-1'))
    store.add(receiver.url('/dead'), notification('dead-2'))
    store.add(receiver.url('/live'), notification('live-1'))
    store.add(receiver.url('/live'), notification('live-2'))
    dispatcher({ maxAttempts: 1_000 })
    await until(() => receiver.commandIds('/live').length === 2, 'live deliveries')
    await until(() => receiver.commandIds('/dead').length >= 3, 'dead URL retried')
    expect(receiver.commandIds('/live')).toEqual(['live-1', 'live-2'])
    expect(new Set(receiver.commandIds('/dead'))).toEqual(new Set(['dead-1']))
    expect([...store.rows.values()].map((r) => r.body)).toEqual([
      notification('dead-1'),
      notification('dead-2'),
    ])
  })

  it('posts to at most `concurrency` URLs at once', async () => {
    let open = 0
    let most = 0
    receiver.answer = (_req, res) => {
      open += 1
      most = Math.max(most, open)
      // Long enough for the other request to arrive even on a loaded machine.
      setTimeout(() => {
        open -= 1
        res.end()
      }, 200)
    }
    for (const path of ['/a', '/b', '/c', '/d']) {
      for (const n of [1, 2]) store.add(receiver.url(path), notification(`${path}-${n}`))
    }
    dispatcher({ concurrency: 2 })
    await until(() => store.rows.size === 0, 'all delivered')
    expect(most).toBe(2)
    for (const path of ['/a', '/b', '/c', '/d']) {
      expect(receiver.commandIds(path)).toEqual([`${path}-1`, `${path}-2`])
    }
  })

  it('after a restart, a head still backing off goes before the rows behind it', async () => {
    // As left by a previous process: cmd-1 failed once and is due again shortly; cmd-2 is due now.
    store.add(receiver.url('/cb'), notification('cmd-1'), Date.now() + 300, 1)
    store.add(receiver.url('/cb'), notification('cmd-2'))
    dispatcher()
    await until(() => store.rows.size === 0, 'both delivered')
    expect(receiver.commandIds('/cb')).toEqual(['cmd-1', 'cmd-2'])
    expect(logged('callback delivered').map((e) => [e.id, e.attempt])).toEqual([
      [1, 2],
      [2, 1],
    ])
  })

  it('picks up rows added later on wake()', async () => {
    const d = dispatcher()
    await sleep(50)
    store.add(receiver.url('/cb'), notification('cmd-1'))
    d.wake()
    await until(() => store.rows.size === 0, 'delivery after wake')
    expect(receiver.commandIds('/cb')).toEqual(['cmd-1'])
  })
})

describe('CallbackDispatcher failures', () => {
  it('gives up after maxAttempts, drops the row and unblocks the next one', async () => {
    receiver.answer = (req, res) => {
      res.writeHead(req.commandId === 'cmd-1' ? 500 : 200).end()
    }
    store.add(receiver.url('/cb'), notification('cmd-1'))
    store.add(receiver.url('/cb'), notification('cmd-2'))
    dispatcher({ maxAttempts: 3 })
    await until(() => store.rows.size === 0, 'give-up and delivery')
    expect(receiver.commandIds('/cb')).toEqual(['cmd-1', 'cmd-1', 'cmd-1', 'cmd-2'])
    expect(logged('callback given up')).toEqual([
      expect.objectContaining({
        level: 50,
        url: receiver.url('/cb'),
        id: 1,
        attempts: 3,
        error: 'HTTP 500',
      }),
    ])
    expect(logged('callback attempt failed')).toHaveLength(2)
  })

  it('counts a receiver that never answers as a timeout', async () => {
    receiver.answer = () => {} // holds the request open
    store.add(receiver.url('/slow'), notification('cmd-1'))
    dispatcher({ timeoutMs: 100, maxAttempts: 2 })
    await until(() => store.rows.size === 0, 'give-up')
    expect(receiver.commandIds('/slow')).toEqual(['cmd-1', 'cmd-1'])
    expect(logged('callback attempt failed')[0]?.error).toBe('timeout after 100 ms')
    expect(logged('callback given up')[0]?.error).toBe('timeout after 100 ms')
  })

  it('reports a refused connection', async () => {
    const port = await closedPort()
    store.add(`http://127.0.0.1:${port}/cb`, notification('cmd-1'))
    dispatcher({ maxAttempts: 1 })
    await until(() => store.rows.size === 0, 'give-up')
    expect(logged('callback given up')[0]?.error).toMatch(/ECONNREFUSED/)
  })

  it('reports an invalid URL and an unsupported scheme', async () => {
    store.add('not a url', notification('cmd-1'))
    store.add('ftp://127.0.0.1/cb', notification('cmd-2'))
    dispatcher({ maxAttempts: 1 })
    await until(() => store.rows.size === 0, 'give-ups')
    expect(logged('callback given up').map((e) => e.error)).toEqual([
      'invalid URL',
      'unsupported URL scheme ftp:',
    ])
  })

  it('keeps the password of a URL out of the log', async () => {
    store.add(receiver.url('/cb').replace('http://', 'http://app:s3cret@'), notification('cmd-1'))
    dispatcher()
    await until(() => store.rows.size === 0, 'delivery')
    expect(receiver.received[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('app:s3cret').toString('base64')}`,
    )
    expect(JSON.stringify(logs)).not.toContain('s3cret')
  })

  it('gives up on credentials that cannot be decoded, without looping', async () => {
    store.add(receiver.url('/cb').replace('http://', 'http://app:%zz@'), notification('cmd-1'))
    dispatcher({ maxAttempts: 2 })
    await until(() => store.rows.size === 0, 'give-up')
    expect(receiver.received).toHaveLength(0)
    expect(logged('callback given up')[0]?.error).toBe('URI malformed')
  })

  it('survives a failing store: logs, and delivers on the next wake', async () => {
    store.broken = true
    store.add(receiver.url('/cb'), notification('cmd-1'))
    const d = dispatcher()
    await until(() => logged('callback store failed; retrying').length > 0, 'store error logged')
    store.broken = false
    d.wake()
    await until(() => store.rows.size === 0, 'delivery')
    expect(receiver.commandIds('/cb')).toEqual(['cmd-1'])
  })

  it('posts again (later) when the outcome could not be recorded', async () => {
    store.failRecords = 1
    store.add(receiver.url('/cb'), notification('cmd-1'))
    dispatcher()
    await until(() => store.rows.size === 0, 'delivery recorded')
    // At least once: the receiver sees a duplicate (§7 gateway note).
    expect(receiver.commandIds('/cb')).toEqual(['cmd-1', 'cmd-1'])
    expect(logged('callback outcome not recorded; retrying later')).toHaveLength(1)
  })

  it('wake() does not throw, even before start or after stop', async () => {
    const d = new CallbackDispatcher(store, pino({ level: 'silent' }))
    expect(() => d.wake()).not.toThrow()
    d.start()
    await d.stop()
    expect(() => d.wake()).not.toThrow()
  })
})

// Run in a child process: a failed delivery arms a retry timer 60 s out, and stop() must clear it, or the
// process lingers instead of exiting on its own.
const STOP_SCRIPT = `
import { createServer } from 'node:http'
import { pino } from '${pathToFileURL(createRequire(import.meta.url).resolve('pino')).href}'
import { CallbackDispatcher } from '${new URL('../../src/notify/callback-dispatcher.ts', import.meta.url).href}'
const server = createServer((_req, res) => res.writeHead(503).end())
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = 'http://127.0.0.1:' + server.address().port + '/cb'
const row = { id: 1, url, body: '{}', attempts: 0, at: Date.now() }
let recorded = false
const store = {
  due: (now, limit) => (row.at <= now ? [{ id: 1, url, body: row.body, attempts: row.attempts }] : []).slice(0, limit),
  nextDueAt: () => row.at,
  record: async (_id, outcome) => {
    row.attempts += 1
    row.at = outcome.nextAttemptAt
    recorded = true
  },
}
const d = new CallbackDispatcher(store, pino({ level: 'silent' }), { backoffMs: () => 60_000 })
d.start()
while (!recorded) await new Promise((resolve) => setTimeout(resolve, 10))
await d.stop()
server.close()
console.log('stopped')
`

describe('CallbackDispatcher stop', () => {
  it('aborts the attempt in flight, records it as failed (kept for after a restart), then starts no more', async () => {
    receiver.answer = (_req, res) => {
      setTimeout(() => res.end(), 2000)
    }
    store.add(receiver.url('/cb'), notification('cmd-1'))
    const d = dispatcher()
    await until(() => receiver.received.length === 1, 'request in flight')
    await d.stop()
    // Its outcome is recorded by the time stop() resolves: not delivered, the row stays for the next start.
    expect(store.rows.size).toBe(1)
    expect([...store.rows.values()][0]).toMatchObject({
      attempts: 1,
      lastError: 'aborted: the gateway is stopping',
    })
    store.add(receiver.url('/cb'), notification('cmd-2'))
    d.wake()
    await sleep(100)
    expect(receiver.received).toHaveLength(1)
  })

  it('leaves no timer behind: a process that stops it exits on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sitegate-callback-'))
    try {
      const script = join(dir, 'stop.mts')
      writeFileSync(script, STOP_SCRIPT)
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
      })
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString()
      })
      let code: number | null | undefined
      child.on('exit', (c) => {
        code = c
      })
      try {
        await until(() => code !== undefined, 'the process to exit', 15_000)
      } finally {
        child.kill()
      }
      expect(out).toContain('stopped')
      expect(code).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('defaultBackoffMs', () => {
  it('doubles from 1 s, caps at 5 min, with ±20% jitter', () => {
    for (let i = 0; i < 50; i++) {
      expect(defaultBackoffMs(1)).toBeGreaterThanOrEqual(800)
      expect(defaultBackoffMs(1)).toBeLessThanOrEqual(1_200)
      expect(defaultBackoffMs(3)).toBeGreaterThanOrEqual(3_200)
      expect(defaultBackoffMs(3)).toBeLessThanOrEqual(4_800)
      expect(defaultBackoffMs(30)).toBeGreaterThanOrEqual(240_000)
      expect(defaultBackoffMs(30)).toBeLessThanOrEqual(360_000)
    }
  })
})
