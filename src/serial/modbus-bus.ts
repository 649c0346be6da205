import { createRequire } from 'node:module'
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js'
import type { SerialPort } from 'serialport'
import type { Logger } from '../logger.ts'
import { decodeBits, decodeRegisters, type Encoded, type PointValue } from './codec.ts'
import type { PointSpec, PortSpec, SlaveSpec } from './config.ts'
import { RtuFramer } from './rtu-framer.ts'
import { type Outcome, SlaveState } from './slave-state.ts'

/** One slave on the bus: its health and when each of its points is next due. */
export interface BusSlave {
  readonly spec: SlaveSpec
  readonly state: SlaveState
  /** Epoch ms each point is next due (index as spec.points). */
  readonly due: number[]
}

export type WriteResult =
  | { kind: 'ok' }
  | { kind: 'exception'; point: string; code: number; message: string }
  | { kind: 'timeout'; point: string; message: string }
  | { kind: 'aborted'; reason: string }

/** A command's writes, carried out in order; the first failure ends it. */
export interface WriteJob {
  /** Identifies the job (the commandId): a job queued again replaces the earlier copy. */
  key: string
  unitId: number
  writes: { point: PointSpec; encoded: Encoded }[]
  /** The first frame is on the bus (written and drained). */
  onSent(): void
  onDone(result: WriteResult): void
}

/** What the bus tells the serial service. */
export interface BusEvents {
  /** The slave answered after being unknown, quarantined or cut off: ONLINE. */
  slaveUp(slave: BusSlave): void
  /** Quarantined, or its port is gone: OFFLINE. */
  slaveDown(slave: BusSlave, reason: string): void
  /** A point was read; `more` when other points of the slave are due already (its report can wait for them). */
  value(slave: BusSlave, point: PointSpec, value: PointValue, at: number, more: boolean): void
}

// modbus-serial is CommonJS whose typings declare an ES default export; require gives the class itself. Loaded
// with the first bus: a gateway without serial ports does not carry it (and serialport) in memory.
let modbusClient: typeof ModbusRTU | undefined
const modbusClientClass = (): typeof ModbusRTU => {
  modbusClient ??= createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTU
  return modbusClient
}

type Callback = (err: Error | null, result?: unknown) => void
type Request = (client: ModbusRTU, unit: number, done: Callback) => void

/** Reads a point with the function of its table (application protocol §6.1–6.4). */
function readRequest(point: PointSpec): Request {
  switch (point.function) {
    case 'coil':
      return (c, unit, done) => c.writeFC1(unit, point.address, point.span, done)
    case 'discrete':
      return (c, unit, done) => c.writeFC2(unit, point.address, point.span, done)
    case 'holding':
      return (c, unit, done) => c.writeFC3(unit, point.address, point.span, done)
    case 'input':
      return (c, unit, done) => c.writeFC4(unit, point.address, point.span, done)
  }
}

/** FC 5 / 15 for coils, FC 6 / 16 for holding registers (§6.5, 6.6, 6.11, 6.12). */
function writeRequest(point: PointSpec, encoded: Encoded): Request {
  if (encoded.kind === 'bits') {
    const [first] = encoded.states
    if (encoded.states.length === 1 && !point.writeMultiple)
      return (c, unit, done) => c.writeFC5(unit, point.address, first === true, done)
    return (c, unit, done) => c.writeFC15(unit, point.address, encoded.states, done)
  }
  const [word] = encoded.words
  if (encoded.words.length === 1 && !point.writeMultiple)
    return (c, unit, done) => c.writeFC6(unit, point.address, word ?? 0, done)
  return (c, unit, done) => c.writeFC16(unit, point.address, encoded.words, done)
}

function classify(err: Error & { modbusCode?: unknown; errno?: unknown }): Outcome {
  if (typeof err.modbusCode === 'number')
    return { kind: 'exception', code: err.modbusCode, message: err.message }
  if (err.errno === 'ETIMEDOUT') return { kind: 'timeout' }
  if (err.message === 'CRC error') return { kind: 'crc' }
  if (err.message === 'Port Not Open') return { kind: 'portClosed' }
  return { kind: 'badFrame', message: err.message }
}

/**
 * The bus scheduler of one RS-485 port: every frame on the bus is sent from this one loop, so slaves are
 * polled strictly one at a time, with `turnaroundMs` of silence after each exchange (Modbus over serial line
 * §2.5.1.1 needs ≥ 3.5 character times; slow slaves and RS-485 transceivers often need more). Writes go before
 * polls; polls go earliest-due first; a slave that fails `quarantineAfter` requests in a row is quarantined
 * and only re-probed, so the others keep their pace. The loop survives anything a request can throw, and
 * waits (without polling) while the port is away.
 */
export class ModbusBus {
  readonly slaves: BusSlave[]
  private client: ModbusRTU | undefined
  private framer: RtuFramer | undefined
  private writes: WriteJob[] = []
  private sentHook: (() => void) | undefined
  private abortCurrent: (() => void) | undefined
  private lastExchangeEnd = Number.NEGATIVE_INFINITY
  private wakeUp: (() => void) | undefined
  private sleepTimer: NodeJS.Timeout | undefined
  private stopped = false
  private loop: Promise<void> | undefined
  /** Points whose read a slave refused with an exception (logged once). */
  private readonly refusedReads = new Set<string>()
  /** Polls whose response was decoded (for figures: the benchmark reads it). */
  pollsDone = 0

  constructor(
    readonly spec: PortSpec,
    private readonly events: BusEvents,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.slaves = spec.slaves.map((s) => ({ spec: s, state: new SlaveState(s), due: s.points.map(() => 0) }))
  }

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.detach('stopped')
    this.wake()
    await this.loop
  }

  /** The port line opened the port: polling starts (every point due now). */
  attach(port: SerialPort): void {
    this.detach('reattached')
    const framer = new RtuFramer(port, () => this.sentHook?.())
    const client = new (modbusClientClass())(framer)
    // ModbusRTU re-emits port errors; without a listener an 'error' event would throw. The line logs them.
    client.on('error', () => {})
    client.open()
    this.framer = framer
    this.client = client
    const now = this.now()
    for (const slave of this.slaves) slave.due.fill(now)
    this.wake()
  }

  /** The port is gone: the exchange in progress ends, queued writes are handed back, every slave is OFFLINE. */
  detach(reason: string): void {
    if (!this.client) return
    this.framer?.detach()
    this.framer = undefined
    this.client = undefined
    this.abortCurrent?.()
    for (const job of this.writes.splice(0)) job.onDone({ kind: 'aborted', reason: `port ${reason}` })
    for (const slave of this.slaves) {
      const wasOnline = slave.state.phase === 'online'
      slave.state.portLost()
      if (wasOnline) this.events.slaveDown(slave, `port ${reason}`)
    }
  }

  get attached(): boolean {
    return this.client !== undefined
  }

  slave(unitId: number): BusSlave | undefined {
    return this.slaves.find((s) => s.spec.unitId === unitId)
  }

  /** Queues a command's writes (ahead of polls); one queued under the same key is replaced. */
  enqueueWrite(job: WriteJob): void {
    const i = this.writes.findIndex((w) => w.key === job.key)
    if (i >= 0) this.writes.splice(i, 1)[0]?.onDone({ kind: 'aborted', reason: 'queued again' })
    this.writes.push(job)
    this.wake()
  }

  get queuedWrites(): number {
    return this.writes.length
  }

  private wake(): void {
    clearTimeout(this.sleepTimer)
    const wake = this.wakeUp
    this.wakeUp = undefined
    wake?.()
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve
      if (ms !== undefined) this.sleepTimer = setTimeout(() => this.wake(), Math.max(0, ms))
    })
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const next = this.client ? this.pick(this.now()) : { wait: undefined }
        if ('wait' in next) {
          await this.sleep(next.wait)
          continue
        }
        await next.run()
      } catch (err) {
        // Whatever went wrong, the loop goes on: a polling task that dies leaves a site blind until restart.
        this.log.error({ err, path: this.spec.path }, 'serial bus step failed; continuing')
        await this.sleep(100)
      }
    }
  }

  /** The next thing to do, or how long to wait for one (undefined: until woken). */
  private pick(now: number): { run: () => Promise<void> } | { wait: number | undefined } {
    const job = this.writes.shift()
    if (job) return { run: () => this.write(job) }
    let wakeAt = Number.POSITIVE_INFINITY
    let best: { slave: BusSlave; index: number; at: number } | undefined
    for (const slave of this.slaves) {
      const { state } = slave
      if (state.quarantined) {
        const at = state.probeAt ?? now
        if (at <= now && (!best || at < best.at)) best = { slave, index: 0, at }
        else wakeAt = Math.min(wakeAt, at)
        continue
      }
      slave.due.forEach((at, index) => {
        if (at <= now && (!best || at < best.at)) best = { slave, index, at }
        else wakeAt = Math.min(wakeAt, at)
      })
    }
    if (best) {
      const { slave, index } = best
      return { run: () => this.poll(slave, index) }
    }
    return { wait: Number.isFinite(wakeAt) ? wakeAt - now : undefined }
  }

  /** Reads one point; for a quarantined slave this is its re-probe (one attempt, no retries). */
  private async poll(slave: BusSlave, index: number): Promise<void> {
    const point = slave.spec.points[index]!
    const probe = slave.state.quarantined
    const now = this.now()
    slave.due[index] = Math.max((slave.due[index] ?? now) + point.pollMs, now + 1)
    const { outcome, result } = await this.transact(slave, readRequest(point), probe ? 0 : undefined)
    this.settle(slave, outcome)
    // A register map mistake answers an exception at every poll: said once per point, not every second.
    const key = `${slave.spec.unitId}/${index}`
    if (outcome.kind === 'exception' && !this.refusedReads.has(key)) {
      this.refusedReads.add(key)
      this.log.warn(
        { path: this.spec.path, unitId: slave.spec.unitId, point: point.name, err: outcome.message },
        'modbus exception on read (logged once until the point reads again)',
      )
    }
    if (outcome.kind !== 'ok') return
    this.refusedReads.delete(key)
    let value: PointValue
    try {
      const r = result as { data: boolean[]; buffer: Buffer }
      value =
        point.function === 'coil' || point.function === 'discrete'
          ? decodeBits(r.data, point)
          : decodeRegisters(r.buffer, point)
    } catch (err) {
      slave.state.lastError = (err as Error).message
      return
    }
    this.pollsDone += 1
    const at = this.now()
    const more = slave.due.some((d) => d <= at)
    this.events.value(slave, point, value, at, more)
  }

  private async write(job: WriteJob): Promise<void> {
    const slave = this.slave(job.unitId)
    if (!slave || slave.state.quarantined) {
      job.onDone({ kind: 'aborted', reason: 'slave quarantined' })
      return
    }
    let sent = false
    for (const { point, encoded } of job.writes) {
      this.sentHook = () => {
        if (sent) return
        sent = true
        job.onSent()
      }
      const { outcome } = await this.transact(slave, writeRequest(point, encoded))
      this.sentHook = undefined
      this.settle(slave, outcome)
      if (outcome.kind === 'exception') {
        job.onDone({ kind: 'exception', point: point.name, code: outcome.code, message: outcome.message })
        return
      }
      if (outcome.kind === 'portClosed') {
        // Unknown whether the slave got it: a frame on the bus may have been applied.
        job.onDone(
          sent
            ? { kind: 'timeout', point: point.name, message: 'the port closed before the slave answered' }
            : { kind: 'aborted', reason: 'port closed' },
        )
        return
      }
      if (outcome.kind !== 'ok') {
        const message =
          outcome.kind === 'timeout'
            ? `no response from unit ${slave.spec.unitId} within ${slave.spec.timeoutMs} ms`
            : (slave.state.lastError ?? outcome.kind)
        job.onDone({ kind: 'timeout', point: point.name, message })
        return
      }
      // Read the written point next, so the reported value follows the write at once.
      const index = slave.spec.points.indexOf(point)
      if (index >= 0) slave.due[index] = this.now()
    }
    job.onDone({ kind: 'ok' })
  }

  /** Quarantine and recovery (the slave's device goes OFFLINE / ONLINE). */
  private settle(slave: BusSlave, outcome: Outcome): void {
    const change = slave.state.settle(outcome, this.now())
    if (change === 'up') {
      // Its points kept their due times while it was away: all overdue, so polled next, earliest first.
      this.events.slaveUp(slave)
    } else if (change === 'quarantined') {
      this.log.warn(
        { path: this.spec.path, unitId: slave.spec.unitId, error: slave.state.lastError },
        'modbus slave quarantined',
      )
      for (const job of this.writes.filter((w) => w.unitId === slave.spec.unitId)) {
        this.writes.splice(this.writes.indexOf(job), 1)
        job.onDone({ kind: 'aborted', reason: 'slave quarantined' })
      }
      this.events.slaveDown(slave, 'quarantined')
    }
  }

  /** One request with its retries, each after the turnaround silence. */
  private async transact(
    slave: BusSlave,
    request: Request,
    retries = slave.spec.retries,
  ): Promise<{ outcome: Outcome; result?: unknown }> {
    for (let attempt = 0; ; attempt++) {
      await this.turnaround()
      const { outcome, result } = await this.exchange(slave, request)
      // The silence is timed on the monotonic clock, finer than the epoch milliseconds of due times.
      this.lastExchangeEnd = performance.now()
      const retry = slave.state.recordAttempt(outcome, this.now())
      if (!retry || attempt >= retries || !this.client) return { outcome, result }
    }
  }

  private async turnaround(): Promise<void> {
    const wait = this.lastExchangeEnd + this.spec.turnaroundMs - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }

  /** One frame out, its response (or timeout) back. */
  private exchange(slave: BusSlave, request: Request): Promise<{ outcome: Outcome; result?: unknown }> {
    const client = this.client
    if (!client) return Promise.resolve({ outcome: { kind: 'portClosed' } })
    const { timeoutMs } = slave.spec
    client.setTimeout(timeoutMs)
    return new Promise((resolve) => {
      let settled = false
      const finish = (value: { outcome: Outcome; result?: unknown }) => {
        if (settled) return
        settled = true
        clearTimeout(guard)
        this.abortCurrent = undefined
        resolve(value)
      }
      // ModbusRTU times the request out itself; this guard only makes sure nothing can hang the bus.
      const guard = setTimeout(() => finish({ outcome: { kind: 'timeout' } }), timeoutMs + 1000)
      this.abortCurrent = () => finish({ outcome: { kind: 'portClosed' } })
      try {
        request(client, slave.spec.unitId, (err, result) =>
          finish(err ? { outcome: classify(err) } : { outcome: { kind: 'ok' }, result }),
        )
      } catch (err) {
        finish({ outcome: classify(err as Error) })
      }
    })
  }
}
