// Process management for benchmarks: free ports, Node children with captured output, clean stops, peak RSS.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'

export const ROOT = new URL('../../', import.meta.url).pathname

/** Monotonic clock in ms (the same clock as V8 CPU profile timestamps, and shared by worker threads). */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export interface Child {
  proc: ChildProcess
  pid: number
  output(): string
  exited: Promise<number | null>
  /** Resolves with the first stdout line for which `match` returns a value. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs?: number): Promise<T>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>
}

/** Runs `node [nodeArgs] script [args]` from the project root, SITEGATE_* variables removed. */
export function spawnNode(
  nodeArgs: string[],
  script: string,
  args: string[] = [],
  baseEnv: NodeJS.ProcessEnv = process.env,
): Child {
  const env = Object.fromEntries(Object.entries(baseEnv).filter(([k]) => !k.startsWith('SITEGATE_')))
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let pendingLine = ''
  const lineWaiters = new Set<(line: string) => void>()
  proc.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    const lines = (pendingLine + chunk.toString()).split('\n')
    pendingLine = lines.pop() ?? ''
    for (const line of lines) for (const w of lineWaiters) w(line)
  })
  proc.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const child: Child = {
    proc,
    pid: proc.pid!,
    output: () => out,
    exited,
    waitForLine: (match, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const finish = (err: Error | undefined, value?: unknown) => {
          clearTimeout(timer)
          lineWaiters.delete(waiter)
          if (err) reject(err)
          else resolve(value as never)
        }
        const waiter = (line: string) => {
          const value = match(line)
          if (value !== undefined) finish(undefined, value)
        }
        const timer = setTimeout(
          () => finish(new Error(`${script}: no expected output within ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        )
        lineWaiters.add(waiter)
        void exited.then((code) => finish(new Error(`${script} exited with ${code}:\n${out}`)))
      }),
    stop: async (graceMs = 10_000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
  return child
}

/** Peak resident set size (VmHWM) of a live process, in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`)
  return Number(kb) / 1024
}

/** Polls `url` until any HTTP answer arrives (the server is listening). */
export async function waitForHttp(url: string, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.proc.exitCode !== null)
      throw new Error(`process exited with ${child.proc.exitCode}:\n${child.output()}`)
    try {
      await fetch(url)
      return
    } catch {
      if (Date.now() > deadline)
        throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${child.output()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** CPU time (user + system) a live process has used so far, in ms (from /proc/<pid>/stat, 100 ticks/s). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** CPU time of the whole machine so far, in ms summed over all CPUs: busy (not idle or iowait) and total. */
export function machineCpuMs(): { busy: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0) * 10
  return { busy: total - (ticks[3]! + (ticks[4] ?? 0)) * 10, total }
}
