// A real mosquitto (Debian package) as the cloud broker: started by the test on a free loopback port with its
// config and persistence in a temp dir, restartable on the same port, stopped after.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { removeDir, tempDir } from './gateway.ts'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface Mosquitto {
  port: number
  url: string
  /** Starts it (again) on the same port. */
  start(): Promise<void>
  /** Stops it: SIGTERM saves its persistence first; SIGKILL does not. */
  stop(signal?: NodeJS.Signals): Promise<void>
  running(): boolean
  output(): string
  dispose(): Promise<void>
}

export async function startMosquitto(opts: { port?: number; start?: boolean } = {}): Promise<Mosquitto> {
  const dir = tempDir('sitegate-mosquitto-')
  const port = opts.port ?? (await freePort())
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Run as whoever runs the tests (as root it would switch to the mosquitto user and lose the temp dir).
      'user root',
      // The cloud simulator's persistent session keeps what arrives while it is away, across restarts.
      'persistence true',
      `persistence_location ${dir}/`,
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
    ].join('\n'),
  )
  let child: ChildProcess | undefined
  let out = ''
  const broker: Mosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    output: () => out,
    async start() {
      if (broker.running()) return
      const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
      child = proc
      proc.stdout?.on('data', (c: Buffer) => {
        out += c.toString()
      })
      proc.stderr?.on('data', (c: Buffer) => {
        out += c.toString()
      })
      await waitListening(port, proc, () => out)
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const proc = child
      if (!proc || !broker.running()) return
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
      proc.kill(signal)
      await exited
    },
    async dispose() {
      await broker.stop()
      removeDir(dir)
    },
  }
  if (opts.start !== false) await broker.start()
  return broker
}

async function waitListening(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${output()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`mosquitto did not listen on ${port}: ${output()}`)
}
