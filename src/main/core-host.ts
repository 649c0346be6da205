import { EventEmitter } from 'node:events'
import { utilityProcess } from 'electron'
import { coreLaunch } from '../ops/memory-tuning.ts'
import type { RestartDecision, RestartPolicy } from './restart-policy.ts'

export type CoreState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped'

export interface CoreStatus {
  state: CoreState
  /** How many times the core was restarted after dying (shown in the tray and the window). */
  restarts: number
  lastExitCode: number | null
  /** When the next restart happens (ms since epoch), while restarting. */
  nextRestartAt: number | null
  /** The last lines the core wrote to stderr (why it died). */
  lastError: string | null
}

/** The "sitegate listening" log line's HTTP port (src/cli.ts logs JSON lines). */
export function listeningHttpPort(line: string): number | undefined {
  if (!line.includes('sitegate listening')) return undefined
  try {
    const parsed = JSON.parse(line) as { listeners?: { kind: string; port: number }[] }
    return parsed.listeners?.find((l) => l.kind === 'http')?.port
  } catch {
    return undefined
  }
}

/**
 * The core (the headless gateway, dist/cli.js) in an Electron utilityProcess: plain Node, its own process, so a
 * crash there leaves the window up to say so. Restarted by the restart policy when it dies; `stop()` asks it to
 * stop (SIGTERM: the core drains and closes its database) and restarts nothing.
 */
export class CoreHost extends EventEmitter<{ status: [CoreStatus]; listening: [number] }> {
  private child: Electron.UtilityProcess | undefined
  private startedAt = 0
  private timer: NodeJS.Timeout | undefined
  private stopping = false
  private stderrTail: string[] = []
  status: CoreStatus = {
    state: 'stopped',
    restarts: 0,
    lastExitCode: null,
    nextRestartAt: null,
    lastError: null,
  }

  constructor(
    private readonly modulePath: string,
    private readonly args: string[],
    private readonly policy: RestartPolicy,
    private readonly now: () => number = Date.now,
  ) {
    super()
  }

  start(): void {
    this.stopping = false
    clearTimeout(this.timer)
    this.spawn()
  }

  /** A person asked for it (tray): start over with a fresh back-off. */
  restartNow(): void {
    this.policy.reset()
    if (this.child) this.child.kill()
    else this.start()
  }

  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true
    clearTimeout(this.timer)
    const child = this.child
    if (!child) return this.set({ state: 'stopped', nextRestartAt: null })
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, timeoutMs)
      child.once('exit', () => {
        clearTimeout(deadline)
        resolve()
      })
      child.kill()
    })
    this.set({ state: 'stopped', nextRestartAt: null })
  }

  private spawn(): void {
    this.startedAt = this.now()
    this.stderrTail = []
    this.set({ state: this.status.restarts > 0 ? 'restarting' : 'starting', nextRestartAt: null })
    const child = utilityProcess.fork(this.modulePath, this.args, {
      // The core's memory settings (ops/memory-tuning.ts): a small young generation, a heap limit, two malloc arenas.
      ...coreLaunch(process.env),
      stdio: 'pipe',
      serviceName: 'sitegate core',
    })
    this.child = child
    let pending = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const port = listeningHttpPort(line)
        if (port !== undefined) {
          this.set({ state: 'running' })
          this.emit('listening', port)
        }
      }
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = [...this.stderrTail, ...chunk.toString().split('\n').filter(Boolean)].slice(-5)
    })
    child.once('exit', (code: number) => this.exited(child, code))
  }

  private exited(child: Electron.UtilityProcess, code: number): void {
    if (this.child !== child) return
    this.child = undefined
    const lastError = this.stderrTail.join('\n') || null
    if (this.stopping) {
      this.set({ state: 'stopped', lastExitCode: code, lastError })
      return
    }
    const decision: RestartDecision = this.policy.onExit(this.startedAt, this.now())
    if (!decision.restart) {
      this.set({ state: 'failed', lastExitCode: code, lastError, nextRestartAt: null })
      return
    }
    this.set({
      state: 'restarting',
      restarts: this.status.restarts + 1,
      lastExitCode: code,
      lastError,
      nextRestartAt: this.now() + decision.delayMs,
    })
    this.timer = setTimeout(() => this.spawn(), decision.delayMs)
  }

  private set(change: Partial<CoreStatus>): void {
    this.status = { ...this.status, ...change }
    this.emit('status', this.status)
  }
}
