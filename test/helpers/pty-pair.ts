// A pair of pseudo-terminals joined by socat: a real serial line for tests, one end for the gateway, the other
// for the Modbus slave simulator. It can be pulled (socat killed: both ends vanish, as when a USB adapter is
// unplugged) and put back with the same link names.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export class PtyPair {
  private child: ChildProcess | undefined
  /** The gateway's end. */
  readonly gatewayPath: string
  /** The simulator's end. */
  readonly devicePath: string

  private constructor(readonly dir: string) {
    this.gatewayPath = join(dir, 'gateway')
    this.devicePath = join(dir, 'device')
  }

  static async open(): Promise<PtyPair> {
    const pair = new PtyPair(mkdtempSync(join(tmpdir(), 'sitegate-pty-')))
    await pair.plugIn()
    return pair
  }

  get plugged(): boolean {
    return this.child !== undefined
  }

  /** Starts socat; resolves once both links exist and it is passing data. */
  async plugIn(): Promise<void> {
    if (this.child) return
    const child = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${this.gatewayPath}`, `pty,raw,echo=0,link=${this.devicePath}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    this.child = child
    let log = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socat did not start:\n${log}`)), 10_000)
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString()
        if (log.includes('starting data transfer loop') && existsSync(this.gatewayPath)) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`socat exited (${code}):\n${log}`))
      })
    })
  }

  /** Kills socat: both pseudo-terminals and their links disappear. */
  async pull(): Promise<void> {
    const child = this.child
    if (!child) return
    this.child = undefined
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await exited
  }

  async close(): Promise<void> {
    await this.pull()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
