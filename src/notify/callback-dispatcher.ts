import { performance } from 'node:perf_hooks'
import type { Logger } from '../logger.ts'

/** One HTTP POST owed to a callback URL (spec platform-rest-api.md §7.12; §7 for the other notifications). */
export interface CallbackDelivery {
  id: number
  url: string
  body: string
  attempts: number
}

export type AttemptOutcome =
  | { delivered: true }
  | { delivered: false; error: string; nextAttemptAt: number | null } // null: gave up, drop the row

/** Where deliveries are kept, durably (the callback_deliveries table). */
export interface CallbackStore {
  /**
   * Pending deliveries whose next attempt is due at `now`, oldest (lowest id) first, at most `limit`.
   * The dispatcher also asks with a `now` far in the future, to see every pending row (and so each URL's head).
   */
  due(now: number, limit: number): CallbackDelivery[]
  /** Earliest next attempt time among pending deliveries, or undefined when none. */
  nextDueAt(): number | undefined
  /** Durably records an attempt's outcome (delivered or given up: row removed; else attempts + 1, next time, last error). */
  record(id: number, outcome: AttemptOutcome): Promise<void>
}

export interface CallbackDispatcherOptions {
  /** Attempts before a delivery is given up (its row dropped). */
  maxAttempts: number
  /** Per attempt: connect, send and the response status. */
  timeoutMs: number
  /** URLs posted to at once (one delivery per URL at a time). */
  concurrency: number
  /** Wait after the `attempt`-th failed attempt (1-based). */
  backoffMs: (attempt: number) => number
  /** Clock for the store's times (epoch ms). */
  now: () => number
}

const BACKOFF_BASE_MS = 1_000
const BACKOFF_CAP_MS = 5 * 60_000

/**
 * 1 s, 2 s, 4 s … (from `initialMs`, doubling) capped at 5 min, then ±20% jitter so receivers coming back are
 * not hit all at once.
 */
export function defaultBackoffMs(attempt: number, initialMs = BACKOFF_BASE_MS): number {
  const base = Math.min(initialMs * 2 ** Math.max(0, attempt - 1), BACKOFF_CAP_MS)
  return Math.round(base * (0.8 + 0.4 * Math.random()))
}

// Rows looked at per round; grows while the window is full of blocked rows and slots are free, so a dead URL
// with a long queue does not hide a live URL behind it (up to SCAN_MAX rows).
const SCAN_START = 64
const SCAN_MAX = 16_384
// `due()` with this as `now` lists every pending row.
const FAR_FUTURE = Number.MAX_SAFE_INTEGER
// A URL whose head is not due and whose next time this process does not know (it failed before a restart):
// the store only tells the earliest time of all rows, so look again this often until the head is retried.
const RECHECK_MS = 1_000
// After the store itself failed (or an attempt failed unexpectedly).
const STORE_RETRY_MS = 5_000
// Longest single sleep (setTimeout takes at most 2^31-1 ms); a later time is simply re-evaluated then.
const MAX_SLEEP_MS = 60 * 60_000

/**
 * Delivers the durable HTTP notifications of §7 (command status changes, §7.12) at least once: POST with
 * `Content-Type: application/json`, any 2xx is delivered (§7 gateway note), anything else is retried with
 * backoff until `maxAttempts`. Per URL one delivery at a time in id order, and a failing head holds back the
 * rows behind it — a command's status notifications must not overtake each other. Different URLs proceed
 * concurrently. The store is the source of truth (rows survive restarts); in memory are only the URLs in
 * flight and the retry times this process recorded, which let it sleep on one timer instead of polling.
 */
export class CallbackDispatcher {
  private readonly options: CallbackDispatcherOptions
  private running = false
  private stopping = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Number.POSITIVE_INFINITY
  /** URL → its attempt in flight (including the record of its outcome). */
  private readonly inFlight = new Map<string, Promise<void>>()
  /** Delivery id → earliest time this process will attempt it again (what it recorded, or meant to). */
  private readonly retryAt = new Map<number, number>()
  /** Delivered rows whose removal is being recorded: not pending any more, whatever the store still says. */
  private readonly recording = new Map<number, Promise<void>>()

  constructor(
    private readonly store: CallbackStore,
    private readonly log: Logger,
    options: Partial<CallbackDispatcherOptions> = {},
  ) {
    this.options = {
      maxAttempts: 8,
      timeoutMs: 5_000,
      concurrency: 4,
      backoffMs: (attempt) => defaultBackoffMs(attempt),
      now: Date.now,
      ...options,
    }
  }

  start(): void {
    if (this.running) return
    this.running = true
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
    this.wake()
  }

  /** New rows were added (or something changed): look now. Deferred, so a caller's transaction has ended. */
  wake(): void {
    try {
      if (this.running) this.schedule(this.options.now())
    } catch (err) {
      this.log.error({ err }, 'callback dispatcher wake failed')
    }
  }

  /** Stops scheduling, aborts the attempts in flight and waits for their outcome to be recorded. */
  async stop(): Promise<void> {
    this.running = false
    this.clearTimer()
    this.stopping.abort()
    while (this.inFlight.size > 0 || this.recording.size > 0) {
      await Promise.allSettled([...this.inFlight.values(), ...this.recording.values()])
    }
  }

  private schedule(at: number): void {
    if (this.timer && this.timerAt <= at) return
    this.clearTimer()
    this.timerAt = at
    this.timer = setTimeout(
      () => {
        this.timer = undefined
        this.timerAt = Number.POSITIVE_INFINITY
        this.round()
      },
      Math.min(Math.max(0, at - this.options.now()), MAX_SLEEP_MS),
    )
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Number.POSITIVE_INFINITY
  }

  /** Starts what may start, then sleeps until the next thing that may become startable. Never throws. */
  private round(): void {
    if (!this.running) return
    const now = this.options.now()
    try {
      const slots = this.options.concurrency - this.inFlight.size
      // No free slot: an attempt ending runs the next round.
      if (slots <= 0) return
      const plan = this.plan(now, slots)
      for (const delivery of plan.start) this.launch(delivery)
      const wakeAt = this.wakeAt(now, plan.blockedUntil)
      if (wakeAt !== undefined) this.schedule(wakeAt)
    } catch (err) {
      this.log.error({ err }, 'callback store failed; retrying')
      this.schedule(now + STORE_RETRY_MS)
    }
  }

  /**
   * Each URL's head is its lowest pending id. A head starts when its URL is idle, the store says it is due
   * and this process holds no later retry time for it; otherwise the URL (all its rows) waits.
   */
  private plan(now: number, slots: number): { start: CallbackDelivery[]; blockedUntil: number | undefined } {
    for (let limit = SCAN_START; ; limit *= 4) {
      const pending = this.store.due(FAR_FUTURE, limit)
      // A prefix of the due rows covers every due head in `pending`: both are prefixes in id order.
      const due = new Set(this.store.due(now, limit).map((d) => d.id))
      const seen = new Set<string>()
      const start: CallbackDelivery[] = []
      let blockedUntil: number | undefined
      for (const delivery of pending) {
        if (this.recording.has(delivery.id)) continue
        if (seen.has(delivery.url)) continue
        seen.add(delivery.url)
        if (this.inFlight.has(delivery.url)) continue
        const retryAt = this.retryAt.get(delivery.id)
        const held = retryAt !== undefined && retryAt > now
        if (due.has(delivery.id) && !held) {
          if (start.length < slots) start.push(delivery)
          continue
        }
        // Held back: this process knows the time when it recorded the failure; when it did not (a restart),
        // or the store disagrees, look again shortly.
        const until = held ? retryAt : now + RECHECK_MS
        blockedUntil = Math.min(blockedUntil ?? until, until)
      }
      const complete = pending.length < limit
      if (complete) this.forgetGone(pending)
      if (complete || start.length >= slots || limit >= SCAN_MAX) return { start, blockedUntil }
    }
  }

  /** Drops retry times of rows no longer pending (removed by someone else). */
  private forgetGone(pending: CallbackDelivery[]): void {
    if (this.retryAt.size === 0) return
    const ids = new Set(pending.map((d) => d.id))
    for (const id of this.retryAt.keys()) if (!ids.has(id)) this.retryAt.delete(id)
  }

  private wakeAt(now: number, blockedUntil: number | undefined): number | undefined {
    const next = this.store.nextDueAt()
    if (next === undefined) return undefined
    // Nothing is due yet: the earliest row is the next thing to do.
    if (next > now) return next
    // Rows are due but held back (behind a failing head, or their URL is in flight): wake for the first
    // held-back head; attempts in flight run a round when they end. Never arm a timer in the past for rows
    // that are due but blocked — that would be a busy loop.
    if (blockedUntil !== undefined) return blockedUntil
    return this.inFlight.size > 0 ? undefined : now + RECHECK_MS
  }

  private launch(delivery: CallbackDelivery): void {
    this.retryAt.delete(delivery.id)
    const attempt = this.attempt(delivery)
      .catch((err: unknown) => {
        // Nothing was recorded and the row is still due: hold it back rather than retry in a tight loop.
        this.retryAt.set(delivery.id, this.options.now() + STORE_RETRY_MS)
        this.log.error({ err, id: delivery.id }, 'callback attempt failed unexpectedly')
      })
      .finally(() => {
        this.inFlight.delete(delivery.url)
        this.round()
      })
    this.inFlight.set(delivery.url, attempt)
  }

  private async attempt(delivery: CallbackDelivery): Promise<void> {
    const { id, url } = delivery
    const attempt = delivery.attempts + 1
    const started = performance.now()
    const error = await this.post(delivery)
    const ms = Math.round(performance.now() - started)
    const logUrl = redact(url)
    let outcome: AttemptOutcome
    if (error === undefined) {
      outcome = { delivered: true }
      this.log.info({ url: logUrl, id, attempt, ms }, 'callback delivered')
    } else if (attempt >= this.options.maxAttempts) {
      outcome = { delivered: false, error, nextAttemptAt: null }
      this.log.error({ url: logUrl, id, attempts: attempt, error, ms }, 'callback given up')
    } else {
      const nextAttemptAt = this.options.now() + this.options.backoffMs(attempt)
      outcome = { delivered: false, error, nextAttemptAt }
      this.log.warn(
        { url: logUrl, id, attempt, error, ms, nextAttemptAt: new Date(nextAttemptAt).toISOString() },
        'callback attempt failed',
      )
    }
    if (outcome.delivered) {
      // The next notification to this URL need not wait for this record's commit: the row is skipped while its
      // removal is being recorded (order holds, the POST already happened).
      this.recordInBackground(id, outcome, attempt)
      return
    }
    try {
      await this.store.record(id, outcome)
      if (outcome.nextAttemptAt !== null) this.retryAt.set(id, outcome.nextAttemptAt)
    } catch (err) {
      // The row is unchanged (still due): hold it back as if it had failed, so a broken store does not turn
      // into a loop of POSTs. A delivered one is posted again later (at least once; receivers dedupe, §7).
      const retryAt = this.options.now() + this.options.backoffMs(attempt)
      this.retryAt.set(id, retryAt)
      this.log.error({ err, id, outcome }, 'callback outcome not recorded; retrying later')
    }
  }

  private recordInBackground(id: number, outcome: AttemptOutcome, attempt: number): void {
    const recorded = this.store
      .record(id, outcome)
      .catch((err: unknown) => {
        // Still pending in the store: posted again later (at least once; receivers dedupe, §7).
        this.retryAt.set(id, this.options.now() + this.options.backoffMs(attempt))
        this.log.error({ err, id, outcome }, 'callback outcome not recorded; retrying later')
      })
      .finally(() => {
        this.recording.delete(id)
        this.round()
      })
    this.recording.set(id, recorded)
  }

  /** POSTs the body; undefined when delivered, else why not. */
  private async post({ url, body }: CallbackDelivery): Promise<string | undefined> {
    if (!URL.canParse(url)) return 'invalid URL'
    const target = new URL(url)
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return `unsupported URL scheme ${target.protocol}`
    }
    const { timeoutMs } = this.options
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      // fetch refuses URLs with credentials (and its error would repeat them): send them as Basic auth.
      if (target.username !== '' || target.password !== '') {
        const userinfo = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`
        headers.authorization = `Basic ${Buffer.from(userinfo).toString('base64')}`
        target.username = ''
        target.password = ''
      }
      const res = await fetch(target, {
        method: 'POST',
        headers,
        body,
        // A redirect is not a 2xx answer, and following it would turn the POST into a GET elsewhere.
        redirect: 'manual',
        // Stopping the gateway aborts what is in flight (recorded as a failed attempt, retried after restart).
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping.signal]),
      })
      // The answer's body is not used (§7: 200 OK, no body); release the connection.
      await res.body?.cancel().catch(() => {})
      return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}`
    } catch (err) {
      return this.stopping.signal.aborted
        ? 'aborted: the gateway is stopping'
        : describeFetchError(err, timeoutMs)
    }
  }
}

/** `timeout after 5000 ms`, `connect ECONNREFUSED 127.0.0.1:8080`, `UND_ERR_SOCKET other side closed` … */
function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `timeout after ${timeoutMs} ms`
  }
  const cause =
    err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined
  const code = typeof cause?.code === 'string' ? cause.code : undefined
  const message = typeof cause?.message === 'string' && cause.message !== '' ? cause.message : undefined
  if (message !== undefined) {
    return code === undefined || message.includes(code) ? message : `${code} ${message}`
  }
  if (code !== undefined) return code
  return err instanceof Error ? err.message : String(err)
}

/** The URL without a password in its userinfo (callback URLs end up in the logs). */
export function redact(url: string): string {
  if (!URL.canParse(url)) return url
  const parsed = new URL(url)
  if (parsed.password === '') return url
  parsed.password = '***'
  return parsed.href
}
