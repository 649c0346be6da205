// Command round-trip benchmark: REST create (§8.1 POST deviceCommands) → the device gets the cloudReq → answers
// deviceRsp errcode 0 → the command is SUCCESSFUL, through the real gateway (a child process) with simulated
// platform devices (mqtt.js clients in this process). No polling. By default (`--callback none`) a measurement
// ends when the device gets the PUBACK of its deviceRsp, which the gateway sends only once SUCCESSFUL is
// committed; with a callbackUrl (`--callback shared|device|command`) it ends when the SUCCESSFUL notification
// (§7.12) reaches a local HTTP receiver, so it includes notification delivery. Phases: (a) sequential, one command at a time
// cycling over the devices; (b) concurrent, devices × per-device commands with at most `concurrency` in flight.
// Baseline in the same run: the raw MQTT round trip over plain aedes (another child process) for the same
// shape — this process publishes a cloudReq to a device client, which answers, and this process receives the
// answer. Exits non-zero only when something fails (a command lost or not SUCCESSFUL), not when the target is
// missed.
//
//   npx tsx bench/command-rtt.ts [--devices 100] [--sequential 500] [--per-device 10] [--concurrency 20]
//                                [--warmup 100] [--callback none|shared|device|command] [--timeout 20000]
//                                [--only baseline|gateway] [--config FILE] [--profile] [--keep]
import { Agent, request } from 'node:http'
import type { Socket } from 'node:net'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import { commandTopic } from '../src/protocols/platform-mqtt.ts'
import { type StatusNotification, startCallbackReceiver } from './lib/callback-receiver.ts'
import { printProfiles } from './lib/cpu-profile.ts'
import { cpuMs, machineCpuMs, nowMs, peakRssMiB } from './lib/proc.ts'
import { type CloudReq, startResponders } from './lib/responders.ts'
import { type GatewayTarget, startBaseline, startGateway, type Target } from './lib/targets.ts'

const TARGET_P99_MS = 10

const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '100' },
    sequential: { type: 'string', default: '500' },
    'per-device': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '100' },
    // Where notifications go: one URL for every command (as an application would), one per device, or one
    // per command. The gateway posts to one URL one notification at a time (ordering), 4 URLs at once.
    callback: { type: 'string', default: 'none' },
    // A command not SUCCESSFUL within this time counts as lost.
    timeout: { type: 'string', default: '20000' },
    only: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})
const devices = Number(opts.devices)
const sequential = Number(opts.sequential)
const perDevice = Number(opts['per-device'])
const concurrency = Number(opts.concurrency)
const warmup = Number(opts.warmup)
const timeoutMs = Number(opts.timeout)
const callbackMode = opts.callback
if (!['none', 'shared', 'device', 'command'].includes(callbackMode))
  throw new Error('--callback none|shared|device|command')

/** Milestones of one round trip, in ms after it started (the POST, or the cloudReq publish). */
type Milestones = Record<string, number>

/** One side of the comparison: starts a round trip to device `device`, resolves when it completed. */
interface Side {
  target: Target
  roundTrip(device: number): Promise<Milestones>
  close(): Promise<void>
}

/** The completion milestone every side reports: the latency measured. */
const DONE = 'done'

interface PhaseStats {
  phase: string
  side: string
  completed: number
  failures: string[]
  latencies: number[]
  milestones: Milestones[]
  from: number
  to: number
  rate: number
  /** CPU in % of one core: the broker child, this process, and the rest of the machine (other load skews). */
  brokerCpu: number
  benchCpu: number
  otherCpu: number
}

async function runPhase(
  side: Side,
  phase: string,
  total: number,
  inFlight: number,
  deviceOf: (k: number) => number,
): Promise<PhaseStats> {
  const milestones: Milestones[] = []
  const failures: string[] = []
  let next = 0
  const [from, broker0, bench0, machine0] = [
    nowMs(),
    cpuMs(side.target.child.pid),
    process.cpuUsage(),
    machineCpuMs(),
  ]
  let to = from
  const worker = async () => {
    while (next < total) {
      const k = next++
      try {
        milestones.push(await side.roundTrip(deviceOf(k)))
        to = nowMs()
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker))
  const elapsed = Math.max(to - from, 1e-3)
  const benchUsage = process.cpuUsage(bench0)
  const brokerCpu = (100 * (cpuMs(side.target.child.pid) - broker0)) / elapsed
  const benchCpu = (100 * (benchUsage.user + benchUsage.system)) / 1000 / elapsed
  const machineCpu = (100 * (machineCpuMs().busy - machine0.busy)) / elapsed
  return {
    phase,
    side: side.target.name,
    completed: milestones.length,
    failures,
    latencies: milestones.map((m) => m[DONE]!).sort((a, b) => a - b),
    milestones,
    from,
    to,
    rate: milestones.length / (elapsed / 1000),
    brokerCpu,
    benchCpu,
    otherCpu: Math.max(0, machineCpu - brokerCpu - benchCpu),
  }
}

/** Nearest-rank percentile of ascending values. */
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function withTimeout<T>(promise: Promise<T>, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()}: not complete within ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function postJson(agent: Agent, url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

interface Pending {
  sentAt: number
  at: Milestones
  commandId?: string
  settled: boolean
  /** Ends the round trip: undefined when SUCCESSFUL, else why it failed. */
  settle(error?: string): void
}

/** The gateway: commands over REST, completion by the SUCCESSFUL notification. */
async function gatewaySide(): Promise<Side & { target: GatewayTarget }> {
  const target = await startGateway(devices, { profile: opts.profile, config: opts.config })
  const bySeq = new Map<number, Pending>()
  const byCommand = new Map<string, Pending>()
  const early = new Map<string, { n: StatusNotification; at: number }[]>()
  const notified = (p: Pending, n: StatusNotification, at: number) => {
    const code = n.result.resultCode
    p.at[code] ??= at - p.sentAt
    if (code === 'SUCCESSFUL') p.settle()
    else if (!['SENT', 'DELIVERED'].includes(code))
      p.settle(`command ${n.commandId} ended ${code}: ${JSON.stringify(n.result.resultDetail)}`)
  }
  const receiver = await startCallbackReceiver((n, at) => {
    const p = byCommand.get(n.commandId)
    if (p) notified(p, n, at)
    else early.set(n.commandId, [...(early.get(n.commandId) ?? []), { n, at }])
  })
  const seqOf = (req: CloudReq) => bySeq.get(req.paras.seq as number)
  let responders: Awaited<ReturnType<typeof startResponders>>
  try {
    responders = await startResponders(target.mqttUrl, target.devices, {
      request: (_, req, at) => {
        const p = seqOf(req)
        if (p) p.at.cloudReq ??= at - p.sentAt
      },
      answerAcked: (_, req, at) => {
        const p = seqOf(req)
        if (!p) return
        p.at.rspAcked ??= at - p.sentAt
        // Without a callbackUrl the PUBACK is the end: the gateway sends it after SUCCESSFUL is committed.
        if (callbackMode === 'none') p.settle()
      },
    })
  } catch (err) {
    await receiver.close()
    await target.stop()
    target.removeDirs()
    throw err
  }
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const createUrl = `${target.httpUrl}/iocm/app/cmd/v1.4.0/deviceCommands`
  let seq = 0
  return {
    target,
    async roundTrip(device) {
      const s = seq++
      const deviceId = target.devices[device]!.id
      const path = { none: undefined, shared: '/cb', device: `/cb/d${device}`, command: `/cb/c${s}` }[
        callbackMode
      ]
      const body = JSON.stringify({
        deviceId,
        command: { serviceId: 'Bench', method: 'PING', paras: { seq: s } },
        ...(path === undefined ? {} : { callbackUrl: `${receiver.url}${path}` }),
      })
      let p!: Pending
      const done = new Promise<Milestones>((resolve, reject) => {
        p = {
          sentAt: nowMs(),
          at: {},
          settled: false,
          settle: (error) => {
            if (p.settled) return
            p.settled = true
            if (error) return reject(new Error(error))
            // Ends at the milestone's arrival, not when a continuation runs.
            p.at[DONE] = callbackMode === 'none' ? p.at.rspAcked! : p.at.SUCCESSFUL!
            resolve(p.at)
          },
        }
      })
      bySeq.set(s, p)
      try {
        return await withTimeout(
          (async () => {
            const res = await postJson(agent, createUrl, target.headers, body)
            p.at.created = nowMs() - p.sentAt
            if (res.status !== 201) throw new Error(`create: HTTP ${res.status} ${res.text}`)
            const commandId = (JSON.parse(res.text) as { commandId: string }).commandId
            p.commandId = commandId
            byCommand.set(commandId, p)
            for (const { n, at } of early.get(commandId) ?? []) notified(p, n, at)
            early.delete(commandId)
            return await done
          })(),
          () => `command ${s} to ${deviceId} (${p.commandId ?? 'no commandId yet'})`,
        )
      } finally {
        bySeq.delete(s)
        if (p.commandId) byCommand.delete(p.commandId)
      }
    },
    async close() {
      agent.destroy()
      await responders.close()
      await receiver.close()
    },
  }
}

/** Plain aedes: this process publishes the cloudReq and receives the deviceRsp over MQTT. */
async function baselineSide(): Promise<Side> {
  const target = await startBaseline(devices, { noDelay: true })
  const cloud = await mqtt.connectAsync(target.mqttUrl, {
    clientId: 'bench-cloud',
    protocolVersion: 4,
    reconnectPeriod: 0,
    log: () => {},
  })
  ;(cloud.stream as Socket).setNoDelay(true)
  const byMid = new Map<number, { sentAt: number; at: Milestones; resolve: (m: Milestones) => void }>()
  cloud.on('message', (_topic, payload) => {
    const at = nowMs()
    const rsp = JSON.parse(payload.toString()) as { msgType: string; mid: number; errcode: number }
    const p = byMid.get(rsp.mid)
    if (!p || rsp.msgType !== 'deviceRsp' || rsp.errcode !== 0) return
    p.at[DONE] = at - p.sentAt
    p.resolve(p.at)
  })
  await cloud.subscribeAsync('/huawei/v1/devices/+/data/json', { qos: 1 })
  const responders = await startResponders(target.mqttUrl, target.devices, {
    request: (_, req, at) => {
      const p = byMid.get(req.mid)
      if (p) p.at.cloudReq ??= at - p.sentAt
    },
    answerAcked: (_, req, at) => {
      const p = byMid.get(req.mid)
      if (p) p.at.rspAcked ??= at - p.sentAt
    },
  })
  let seq = 0
  return {
    target,
    async roundTrip(device) {
      const s = seq++
      const mid = (s % 65535) + 1
      const req = { msgType: 'cloudReq', serviceId: 'Bench', cmd: 'PING', paras: { seq: s }, mid }
      const done = new Promise<Milestones>((resolve) => {
        byMid.set(mid, { sentAt: nowMs(), at: {}, resolve })
      })
      cloud.publish(commandTopic(target.devices[device]!.id), JSON.stringify(req), { qos: 1 })
      try {
        return await withTimeout(done, () => `cloudReq ${s} to device ${device}`)
      } finally {
        byMid.delete(mid)
      }
    },
    async close() {
      await responders.close()
      await cloud.endAsync()
    },
  }
}

interface SideResult {
  phases: PhaseStats[]
  rssMiB?: number
}

/** Warm-up, then the sequential and concurrent phases. */
async function measure(side: Side): Promise<PhaseStats[]> {
  const warm = await runPhase(side, 'warm-up', warmup, 1, (k) => k % devices)
  if (warm.failures.length > 0) throw new Error(`${side.target.name} warm-up: ${warm.failures[0]}`)
  const seq = await runPhase(side, 'sequential', sequential, 1, (k) => k % devices)
  const conc = await runPhase(side, 'concurrent', devices * perDevice, concurrency, (k) => k % devices)
  return [seq, conc]
}

async function runBaseline(): Promise<SideResult> {
  const side = await baselineSide()
  try {
    return { phases: await measure(side) }
  } finally {
    await side.close()
    await side.target.stop()
  }
}

async function runGateway(): Promise<SideResult> {
  const side = await gatewaySide()
  const { target } = side
  let result: SideResult
  try {
    const phases = await measure(side)
    result = { phases, rssMiB: peakRssMiB(target.child.pid) }
  } catch (err) {
    await side.close()
    await target.stop()
    if (!opts.keep) target.removeDirs()
    throw err
  }
  await side.close()
  const code = await target.stop()
  if (code !== 0) throw new Error(`gateway exited with ${code}:\n${target.child.output()}`)
  if (target.profileDir)
    for (const p of result.phases) printProfiles(target.profileDir, p.from, p.to, `the ${p.phase} phase`)
  if (opts.keep) console.log(`kept: ${target.dataDir} ${target.profileDir ?? ''}`)
  else target.removeDirs()
  return result
}

const ms = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(2))
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

function printMilestones(phases: PhaseStats[], keys: [string, string][]): void {
  console.log(`\n| phase      | side      | ${keys.map(([, label]) => label.padStart(19)).join(' | ')} |`)
  console.log(`|------------|-----------|${keys.map(() => '--------------------:|').join('')}`)
  for (const p of phases) {
    const cells = keys.map(([key]) => {
      const values = p.milestones
        .map((m) => m[key])
        .filter((v) => v !== undefined)
        .sort((a, b) => a - b)
      return `${ms(pct(values, 50))} / ${ms(pct(values, 99))}`.padStart(19)
    })
    console.log(`| ${p.phase.padEnd(10)} | ${p.side.padEnd(9)} | ${cells.join(' | ')} |`)
  }
}

async function main(): Promise<void> {
  console.log(
    `command-rtt: ${devices} devices; (a) ${sequential} sequential commands cycling over them, (b) ${devices} × ${perDevice} commands with at most ${concurrency} in flight; ${warmup} warm-up commands first; ${callbackMode === 'none' ? 'no callbackUrl: done when the deviceRsp is acknowledged (SUCCESSFUL committed)' : `done when the SUCCESSFUL notification arrives at ${callbackMode === 'shared' ? 'one callbackUrl' : `one callbackUrl per ${callbackMode}`}`}`,
  )
  const base = opts.only === 'gateway' ? undefined : await runBaseline()
  const gw = opts.only === 'baseline' ? undefined : await runGateway()
  const phases = [0, 1].flatMap((i) => [base?.phases[i], gw?.phases[i]].filter((p) => p !== undefined))

  console.log(
    '\n| phase      | side      | commands | p50 ms | p90 ms | p99 ms | max ms | commands/s | broker CPU | bench CPU | other CPU |',
  )
  console.log(
    '|------------|-----------|---------:|-------:|-------:|-------:|-------:|-----------:|-----------:|----------:|----------:|',
  )
  for (const p of phases) {
    const l = p.latencies
    const cells = [
      p.phase.padEnd(10),
      p.side.padEnd(9),
      String(p.completed).padStart(8),
      ms(pct(l, 50)).padStart(6),
      ms(pct(l, 90)).padStart(6),
      ms(pct(l, 99)).padStart(6),
      ms(l[l.length - 1] ?? Number.NaN).padStart(6),
      fmt(p.rate).padStart(10),
      `${fmt(p.brokerCpu)}%`.padStart(10),
      `${fmt(p.benchCpu)}%`.padStart(9),
      `${fmt(p.otherCpu)}%`.padStart(9),
    ]
    console.log(`| ${cells.join(' | ')} |`)
  }
  if (phases.some((p) => p.otherCpu > 15))
    console.log('warning: other processes used CPU during a phase (other CPU > 15%): rerun when idle')

  console.log('\nmilestones after the start of each round trip, p50 / p99 ms:')
  printMilestones(
    phases.filter((p) => p.side !== 'sitegate'),
    [
      ['cloudReq', 'cloudReq at device'],
      ['rspAcked', 'deviceRsp PUBACK'],
      [DONE, 'deviceRsp received'],
    ],
  )
  printMilestones(
    phases.filter((p) => p.side === 'sitegate'),
    callbackMode === 'none'
      ? [
          ['created', '201 Created'],
          ['cloudReq', 'cloudReq at device'],
          [DONE, 'SUCCESSFUL (PUBACK)'],
        ]
      : [
          ['created', '201 Created'],
          ['cloudReq', 'cloudReq at device'],
          ['rspAcked', 'deviceRsp PUBACK'],
          ['SENT', 'SENT notified'],
          ['DELIVERED', 'DELIVERED notified'],
          [DONE, 'SUCCESSFUL notified'],
        ],
  )

  for (const i of [0, 1]) {
    const [b, g] = [base?.phases[i], gw?.phases[i]]
    if (!g) continue
    const p99 = pct(g.latencies, 99)
    const verdict = p99 <= TARGET_P99_MS ? 'meets' : 'misses'
    const ratio = b
      ? `, raw aedes p99 ${ms(pct(b.latencies, 99))} ms, ratio ${(p99 / pct(b.latencies, 99)).toFixed(1)}×`
      : ''
    console.log(
      `${g.phase}: sitegate p99 ${ms(p99)} ms at ${fmt(g.rate)} commands/s (${verdict} the p99 ≤ ${TARGET_P99_MS} ms target)${ratio}${b ? `; raw aedes ${fmt(b.rate)} msgs/s` : ''}`,
    )
  }
  if (gw?.rssMiB !== undefined) console.log(`gateway peak RSS ${fmt(gw.rssMiB, 1)} MiB`)

  const failures = phases.flatMap((p) => p.failures.map((f) => `${p.side} ${p.phase}: ${f}`))
  if (failures.length > 0) {
    console.error(`\n${failures.length} round trip(s) failed or lost:`)
    for (const f of failures.slice(0, 20)) console.error(`  ${f}`)
    process.exit(1)
  }
}

main().catch((err: unknown) => {
  console.error(`bench command-rtt failed: ${(err as Error).stack ?? String(err)}`)
  process.exit(1)
})
