// The fuzz harness (issue 10 item 1): runs every target for its share of a time budget, each on its own seeded
// generator, and collects findings — a target's property broken, an exception escaping a parser, an unhandled
// rejection or uncaught exception anywhere in the process (the gateway under test runs in this process, so a
// crash of the gateway is one of these). A finding names the seed, the target and the input, so
// `npm run fuzz -- --seed N --only TARGET` replays it.
import { type FuzzGateway, mosquittoInstalled, startFuzzGateway } from './gateway-env.ts'
import { Rng } from './prng.ts'
import { cloudTargets } from './targets/cloud.ts'
import { deviceTargets } from './targets/devices.ts'
import { parserTargets } from './targets/parsers.ts'
import { restTargets } from './targets/rest.ts'

/** A property that did not hold for one input. */
export class Violation extends Error {
  constructor(
    message: string,
    readonly input: Buffer | string,
  ) {
    super(message)
  }
}

export interface FuzzTarget {
  name: string
  /** Relative share of the time budget. */
  weight: number
  /** Runs one input; throws Violation when a property does not hold. */
  one(rng: Rng): Promise<void> | void
  /** Checks after the target's last input (e.g. a batch of invalid inputs wrote nothing). */
  finish?(): Promise<void> | void
}

export interface Finding {
  target: string
  iteration: number
  problem: string
  /** The input, shortened: text when printable, else hex. */
  input?: string
}

export interface FuzzReport {
  seed: number
  seconds: number
  iterations: Record<string, number>
  findings: Finding[]
}

export interface FuzzOptions {
  seed: number
  seconds: number
  /** Only targets whose name contains one of these. */
  only?: string[]
  /** Progress lines (one per target). */
  log?: (line: string) => void
}

const MAX_FINDINGS_PER_TARGET = 5

export function preview(input: Buffer | string): string {
  const text = typeof input === 'string' ? input : input.toString('utf8')
  const printable = typeof input === 'string' || /^[\x20-\x7e\s]*$/.test(text)
  const shown = printable ? JSON.stringify(text) : `hex:${(input as Buffer).toString('hex')}`
  return shown.length > 400 ? `${shown.slice(0, 400)}… (${shown.length} chars)` : shown
}

/** fetch (undici) refuses some URLs and header values itself: nothing reached the gateway. */
export function refusedByClient(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause
  return (err as Error).name === 'TypeError' && (!cause?.code || cause.code === 'UND_ERR_INVALID_ARG')
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {})
  const root = new Rng(options.seed)
  const findings: Finding[] = []
  const iterations: Record<string, number> = {}
  let current = { target: '(setup)', iteration: 0 }
  const onAsyncFailure = (kind: string) => (err: unknown) =>
    findings.push({
      target: current.target,
      iteration: current.iteration,
      problem: `${kind}: ${(err as Error)?.stack ?? String(err)}`,
    })
  const onRejection = onAsyncFailure('unhandled rejection')
  const onException = onAsyncFailure('uncaught exception')
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  const started = Date.now()
  const gateways: FuzzGateway[] = []
  try {
    const wanted = (name: string) => !options.only || options.only.some((o) => name.includes(o))
    // An area (the prefix of target names) is needed when an --only names it or one of its targets.
    const area = (prefix: string) =>
      !options.only || options.only.some((o) => o.includes(prefix) || prefix.includes(o))
    const pure = parserTargets().filter((t) => wanted(t.name))
    const live: FuzzTarget[] = []
    if (['device', 'rest', 'camera', 'onejson'].some(area)) {
      // Its database sees no write but the fuzz inputs' (no upstream drain): "no commit at all" is checkable.
      const plain = await startFuzzGateway(root.fork('setup'))
      gateways.push(plain)
      live.push(...[...deviceTargets(plain), ...restTargets(plain)].filter((t) => wanted(t.name)))
    }
    if (area('cloud')) {
      if (mosquittoInstalled()) {
        const synced = await startFuzzGateway(root.fork('setup-cloud'), { upstream: true })
        gateways.push(synced)
        live.push(...cloudTargets(synced))
      } else log('  cloud:* skipped: needs mosquitto (apt-get install mosquitto)')
    }
    const targets = [...pure, ...live]
    const totalWeight = targets.reduce((s, t) => s + t.weight, 0)
    const budgetMs = options.seconds * 1000 - (Date.now() - started)
    for (const target of targets) {
      const rng = root.fork(target.name)
      const deadline = Date.now() + Math.max(200, (budgetMs * target.weight) / totalWeight)
      let n = 0
      let own = 0
      current = { target: target.name, iteration: 0 }
      while (Date.now() < deadline && own < MAX_FINDINGS_PER_TARGET) {
        current.iteration = n
        try {
          await target.one(rng)
        } catch (err) {
          own += 1
          findings.push({
            target: target.name,
            iteration: n,
            problem:
              err instanceof Violation ? err.message : `threw: ${(err as Error)?.stack ?? String(err)}`,
            ...(err instanceof Violation ? { input: preview(err.input) } : {}),
          })
        }
        n += 1
      }
      try {
        await target.finish?.()
      } catch (err) {
        findings.push({ target: target.name, iteration: n, problem: (err as Error).message })
      }
      iterations[target.name] = n
      log(`  ${target.name.padEnd(28)} ${String(n).padStart(7)} inputs`)
    }
    for (const gateway of gateways) {
      current = { target: '(gateway still serving)', iteration: 0 }
      const problem = await gateway.stillServing()
      if (problem) findings.push({ target: current.target, iteration: 0, problem })
    }
    // Let late rejections of the last inputs surface before the handlers go.
    await new Promise((r) => setTimeout(r, 100))
  } finally {
    current = { target: '(teardown)', iteration: 0 }
    for (const gateway of gateways) await gateway.stop()
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
  }
  return { seed: options.seed, seconds: (Date.now() - started) / 1000, iterations, findings }
}
