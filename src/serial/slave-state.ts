import type { SlaveSpec } from './config.ts'

/** How one Modbus transaction ended. */
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'exception'; code: number; message: string }
  | { kind: 'timeout' }
  | { kind: 'crc' }
  | { kind: 'badFrame'; message: string }
  | { kind: 'portClosed' }

export interface SlaveCounters {
  /** Frames sent to it (each retry counts). */
  requests: number
  /** Normal responses. */
  responses: number
  timeouts: number
  crcErrors: number
  /** Modbus exception responses (the slave answered, and refused). */
  exceptions: number
  /** Responses that were not the frame asked for (wrong length, unit or function). */
  badFrames: number
  /** Times it was quarantined. */
  quarantines: number
}

export type SlavePhase = 'unknown' | 'online' | 'quarantined' | 'offline'

/**
 * A slave's health on its bus: counters, consecutive failures, and quarantine with a doubling re-probe
 * interval. A quarantined slave is not polled; only a probe goes to it when `probeAt` comes, so a dead slave
 * costs the bus one timeout per re-probe instead of one per point.
 */
export class SlaveState {
  readonly counters: SlaveCounters = {
    requests: 0,
    responses: 0,
    timeouts: 0,
    crcErrors: 0,
    exceptions: 0,
    badFrames: 0,
    quarantines: 0,
  }
  phase: SlavePhase = 'unknown'
  lastSuccessAt: number | null = null
  lastError: string | null = null
  failuresInARow = 0
  probeAt: number | null = null
  private probeDelay: number

  constructor(readonly spec: SlaveSpec) {
    this.probeDelay = spec.reprobeMs
  }

  get quarantined(): boolean {
    return this.phase === 'quarantined'
  }

  /** Counts one attempt; returns whether a retry may help (no answer, or a corrupted one). */
  recordAttempt(outcome: Outcome, now: number): boolean {
    const c = this.counters
    if (outcome.kind !== 'portClosed') c.requests += 1
    switch (outcome.kind) {
      case 'ok':
        c.responses += 1
        this.lastSuccessAt = now
        return false
      case 'exception':
        c.exceptions += 1
        // An exception is an answer: the slave is alive.
        this.lastSuccessAt = now
        this.lastError = outcome.message
        return false
      case 'timeout':
        c.timeouts += 1
        this.lastError = `no response within ${this.spec.timeoutMs} ms`
        return true
      case 'crc':
        c.crcErrors += 1
        this.lastError = 'CRC error'
        return true
      case 'badFrame':
        c.badFrames += 1
        this.lastError = outcome.message
        return true
      case 'portClosed':
        return false
    }
  }

  /**
   * A transaction ended (after its retries). Returns what changed: 'up' when the slave answered and was not
   * online, 'quarantined' when this failure quarantined it, else undefined.
   */
  settle(outcome: Outcome, now: number): 'up' | 'quarantined' | undefined {
    if (outcome.kind === 'portClosed') return undefined
    if (outcome.kind === 'ok' || outcome.kind === 'exception') {
      this.failuresInARow = 0
      this.probeDelay = this.spec.reprobeMs
      this.probeAt = null
      if (this.phase === 'online') return undefined
      this.phase = 'online'
      return 'up'
    }
    this.failuresInARow += 1
    if (this.phase === 'quarantined') {
      // A failed probe: wait twice as long for the next.
      this.probeDelay = Math.min(this.spec.reprobeMaxMs, this.probeDelay * 2)
      this.probeAt = now + this.probeDelay
      return undefined
    }
    if (this.failuresInARow < this.spec.quarantineAfter) return undefined
    this.phase = 'quarantined'
    this.counters.quarantines += 1
    this.probeDelay = this.spec.reprobeMs
    this.probeAt = now + this.probeDelay
    return 'quarantined'
  }

  /** The port closed: not reachable, but not the slave's fault (no quarantine; it is polled again on reopen). */
  portLost(): void {
    if (this.phase !== 'quarantined') this.phase = 'offline'
    this.failuresInARow = 0
  }
}
