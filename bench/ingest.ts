// Ingest benchmark: durably ingested QoS 1 deviceReq messages per second through the real gateway (a child
// process), against plain aedes (another child process) as the baseline, with the same clients, payloads and
// in-flight window. Exits non-zero only when something fails, not when the target is missed.
//
//   npx tsx bench/ingest.ts [--clients 20] [--messages 10000] [--window 200] [--warmup 1000]
//                           [--workers 0] [--rounds 1] [--only baseline|gateway] [--config FILE]
//                           [--profile] [--keep]
import { parseArgs } from 'node:util'
import { printProfiles } from './lib/cpu-profile.ts'
import { type PhaseResult, startLoad } from './lib/load.ts'
import { cpuMs, machineCpuMs, nowMs, peakRssMiB } from './lib/proc.ts'
import { checkStore, type StoreCheck } from './lib/store-check.ts'
import { startBaseline, startGateway, type Target } from './lib/targets.ts'

const SERVICES_PER_MESSAGE = 2 // payloadSource in lib/load.ts
const TARGET_RATIO = 0.8

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '20' },
    messages: { type: 'string', default: '10000' },
    window: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '1000' },
    // 0: clients in this thread; N: spread over N worker threads.
    workers: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '1' },
    // Run only one side (tuning): baseline | gateway.
    only: { type: 'string' },
    // A gateway config file (YAML), e.g. to compare store.synchronous or ingest.maxBatch settings.
    config: { type: 'string' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})
const clients = Number(opts.clients)
const messages = Number(opts.messages)
const window = Number(opts.window)
const warmup = Number(opts.warmup)
const workers = Number(opts.workers)
const rounds = Number(opts.rounds)

interface Measured {
  name: string
  phase: PhaseResult
  rate: number
  rssMiB: number
  /**
   * CPU used during the measured phase, in % of one core: the broker child, this process (load generator),
   * and everything else on the machine (other load skews the figures).
   */
  brokerCpu: number
  loadCpu: number
  otherCpu: number
  store?: StoreCheck
}

/** Connects the clients, warms up, runs the measured phase; `atPeak` runs while the target still runs. */
async function measure(target: Target, atPeak?: () => StoreCheck): Promise<Measured> {
  const load = await startLoad({ url: target.mqttUrl, devices: target.devices, window }, workers)
  try {
    await load.run(warmup)
    const [load0, broker0, machine0, t0] = [
      process.cpuUsage(),
      cpuMs(target.child.pid),
      machineCpuMs(),
      nowMs(),
    ]
    const phase = await load.run(messages)
    const elapsed = nowMs() - t0
    const loadUsage = process.cpuUsage(load0)
    const loadCpu = (100 * (loadUsage.user + loadUsage.system)) / 1000 / elapsed
    const brokerCpu = (100 * (cpuMs(target.child.pid) - broker0)) / elapsed
    const otherCpu = Math.max(
      0,
      (100 * (machineCpuMs().busy - machine0.busy)) / elapsed - loadCpu - brokerCpu,
    )
    const expected = messages * target.devices.length
    if (phase.acked !== expected)
      throw new Error(`${target.name}: ${phase.acked} of ${expected} acknowledged`)
    const rate = phase.acked / ((phase.lastAckAt - phase.firstPublishAt) / 1000)
    const store = atPeak?.()
    const rssMiB = peakRssMiB(target.child.pid)
    return { name: target.name, phase, rate, rssMiB, brokerCpu, loadCpu, otherCpu, store }
  } finally {
    await load.close()
  }
}

async function runBaseline(): Promise<Measured> {
  const target = await startBaseline(clients)
  try {
    return await measure(target)
  } finally {
    await target.stop()
  }
}

async function runGateway(round: number): Promise<Measured> {
  const target = await startGateway(clients, { profile: opts.profile, config: opts.config })
  let result: Measured
  try {
    result = await measure(target, () => checkStore(target.database))
    const published = (warmup + messages) * clients
    const records = result.store!.telemetryRecords
    console.log(
      `round ${round} durability: history records ${records} (published ${published} messages × ${SERVICES_PER_MESSAGE} services = ${published * SERVICES_PER_MESSAGE}), read while the gateway ran`,
    )
    if (records < published * SERVICES_PER_MESSAGE)
      throw new Error('acknowledged messages missing from telemetry')
  } catch (err) {
    await target.stop()
    if (!opts.keep) target.removeDirs()
    throw err
  }
  const code = await target.stop()
  if (code !== 0) throw new Error(`gateway exited with ${code}:\n${target.child.output()}`)
  if (target.profileDir)
    printProfiles(
      target.profileDir,
      result.phase.firstPublishAt,
      result.phase.lastAckAt,
      'the measured phase',
    )
  if (opts.keep) console.log(`kept: ${target.dataDir} ${target.profileDir ?? ''}`)
  else target.removeDirs()
  return result
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

async function main(): Promise<void> {
  console.log(
    `ingest: ${clients} clients × ${messages} QoS 1 deviceReq messages (after ${warmup} warm-up), window ${window} unacknowledged per client, load generator ${workers === 0 ? 'in the bench main thread' : `in ${workers} worker threads`}`,
  )
  const rows: { round: number; base: Measured | undefined; gw: Measured | undefined }[] = []
  for (let round = 1; round <= rounds; round++) {
    const base = opts.only === 'gateway' ? undefined : await runBaseline()
    const gw = opts.only === 'baseline' ? undefined : await runGateway(round)
    rows.push({ round, base, gw })
  }
  console.log(
    '\n| round | broker    |    msg/s | wall s | peak RSS MiB | broker CPU | load gen CPU | other CPU |',
  )
  console.log(
    '|------:|-----------|---------:|-------:|-------------:|-----------:|-------------:|----------:|',
  )
  for (const { round, base, gw } of rows) {
    for (const m of [base, gw]) {
      if (!m) continue
      const wall = (m.phase.lastAckAt - m.phase.firstPublishAt) / 1000
      const cells = [
        String(round).padStart(5),
        m.name.padEnd(9),
        fmt(m.rate).padStart(8),
        wall.toFixed(2).padStart(6),
        fmt(m.rssMiB, 1).padStart(12),
        `${fmt(m.brokerCpu)}%`.padStart(10),
        `${fmt(m.loadCpu)}%`.padStart(12),
        `${fmt(m.otherCpu)}%`.padStart(9),
      ]
      console.log(`| ${cells.join(' | ')} |`)
    }
  }
  const noisy = rows.flatMap((r) => [r.base, r.gw]).filter((m) => m && m.otherCpu > 15)
  if (noisy.length > 0)
    console.log('warning: other processes used CPU during a run (other CPU > 15%): rerun when idle')
  for (const { round, base, gw } of rows) {
    if (base && gw) {
      const ratio = gw.rate / base.rate
      const verdict = ratio >= TARGET_RATIO ? 'meets' : 'below'
      console.log(
        `round ${round}: gateway ${fmt(gw.rate)} msg/s, baseline ${fmt(base.rate)} msg/s, ratio ${ratio.toFixed(2)} (${verdict} the ${TARGET_RATIO} target); gateway peak RSS ${fmt(gw.rssMiB, 1)} MiB`,
      )
    }
    const tx = gw?.store?.transactions
    if (tx) {
      const perTx = ((warmup + messages) * clients) / tx
      console.log(
        `round ${round}: group commit ≈ ${fmt(tx)} transactions (warm-up included), ≈ ${perTx.toFixed(0)} messages per transaction`,
      )
    }
  }
}

main().catch((err: unknown) => {
  console.error(`bench ingest failed: ${(err as Error).stack ?? String(err)}`)
  process.exit(1)
})
