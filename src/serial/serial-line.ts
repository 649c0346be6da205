import { realpathSync } from 'node:fs'
import type { SerialPort } from 'serialport'
import type { Logger } from '../logger.ts'
import type { PortSpec } from './config.ts'
import { serialPortClass } from './serialport-module.ts'

export type LineState = 'closed' | 'opening' | 'open' | 'stopped'

/** Devices (resolved paths) held by lines of this process: two configured links to one device get one owner. */
const held = new Map<string, string>()

export interface LineStatus {
  state: LineState
  openedAt: number | null
  closedAt: number | null
  lastError: string | null
  /** Failed opening attempts since the port was last open. */
  openAttempts: number
  nextAttemptAt: number | null
}

/**
 * One serial port, owned by exactly one SerialPort handle at a time: opens it (exclusively: serialport's
 * `lock`), notices when it goes away (unplugged adapter, removed PTY: a read or write fails, the handle
 * closes), and opens it again with a doubling back-off until it is back. Nothing else opens the port.
 */
export class SerialLine {
  private port: SerialPort | undefined
  private timer: NodeJS.Timeout | undefined
  private heldAs: string | undefined
  private readonly status: LineStatus = {
    state: 'closed',
    openedAt: null,
    closedAt: null,
    lastError: null,
    openAttempts: 0,
    nextAttemptAt: null,
  }
  /** The port is open and owned: the bus may use it. */
  onOpen: (port: SerialPort) => void = () => {}
  /** The port went away (or was closed by stop()). */
  onClosed: (reason: string) => void = () => {}

  constructor(
    readonly spec: PortSpec,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): LineState {
    return this.status.state
  }

  snapshot(): LineStatus {
    return { ...this.status }
  }

  start(): void {
    if (this.status.state !== 'closed' || this.timer) return
    this.attempt()
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const port = this.port
    this.status.state = 'stopped'
    this.status.nextAttemptAt = null
    if (port) {
      this.port = undefined
      this.release()
      port.removeAllListeners('close')
      await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()))
      port.removeAllListeners()
      port.on('error', () => {})
      this.onClosed('stopped')
    }
  }

  private attempt(): void {
    this.timer = undefined
    if (this.status.state === 'stopped') return
    this.status.state = 'opening'
    this.status.nextAttemptAt = null
    let device: string
    try {
      device = realpathSync(this.spec.path)
    } catch (err) {
      this.failed(`cannot open: ${(err as Error).message}`)
      return
    }
    const owner = held.get(device)
    if (owner !== undefined && owner !== this.spec.path) {
      this.failed(`${device} is already open as ${owner}`)
      return
    }
    const port = new (serialPortClass())({
      path: this.spec.path,
      baudRate: this.spec.baudRate,
      dataBits: this.spec.dataBits,
      parity: this.spec.parity,
      stopBits: this.spec.stopBits,
      // Exclusive: another program opening the same port would corrupt both sides' frames.
      lock: true,
      autoOpen: false,
    })
    // Until open succeeds, errors come through the open callback.
    port.on('error', () => {})
    port.open((err) => {
      if (this.status.state === 'stopped') {
        if (!err) port.close()
        return
      }
      if (err) {
        this.failed(`cannot open: ${err.message}`)
        return
      }
      this.port = port
      this.heldAs = device
      held.set(device, this.spec.path)
      port.removeAllListeners('error')
      port.on('error', (e) => {
        this.status.lastError = e.message
        this.log.warn({ path: this.spec.path, err: e.message }, 'serial port error')
      })
      port.once('close', (e?: Error | null) => this.lost(e?.message ?? 'closed'))
      this.status.state = 'open'
      this.status.openedAt = this.now()
      this.status.openAttempts = 0
      this.log.info({ path: this.spec.path, device, baudRate: this.spec.baudRate }, 'serial port open')
      this.onOpen(port)
    })
  }

  private lost(reason: string): void {
    if (this.status.state !== 'open') return
    this.port?.removeAllListeners()
    // Errors after a loss (a write still on its way) must not become unhandled 'error' events.
    this.port?.on('error', () => {})
    this.port = undefined
    this.release()
    this.status.state = 'closed'
    this.status.closedAt = this.now()
    this.status.lastError = reason
    this.log.warn({ path: this.spec.path, reason }, 'serial port lost; reopening')
    this.onClosed(reason)
    this.schedule()
  }

  private failed(reason: string): void {
    this.status.state = 'closed'
    this.status.openAttempts += 1
    this.status.lastError = reason
    // Log the first failure and then sparsely: an unplugged adapter may stay away for days.
    const n = this.status.openAttempts
    if ((n & (n - 1)) === 0)
      this.log.warn({ path: this.spec.path, attempts: n, reason }, 'serial port unavailable')
    this.schedule()
  }

  private schedule(): void {
    if (this.status.state === 'stopped') return
    const exponent = Math.min(this.status.openAttempts, 16)
    const delay = Math.min(this.spec.reopenMaxMs, this.spec.reopenMinMs * 2 ** Math.max(0, exponent - 1))
    this.status.nextAttemptAt = this.now() + delay
    this.timer = setTimeout(() => this.attempt(), delay)
  }

  private release(): void {
    if (this.heldAs !== undefined && held.get(this.heldAs) === this.spec.path) held.delete(this.heldAs)
    this.heldAs = undefined
  }
}
