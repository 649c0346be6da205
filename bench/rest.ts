// REST benchmark (LAN API): the authenticated shadow query (§4.9 GET /iocm/app/shadow/v1.5.0/devices/{deviceId})
// and the batch device query (§5.2 GET /iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=25) through the real
// gateway (a child process, `devices` devices registered over REST, each with reported data from one MQTT
// deviceReq), autocannon in this process as the load generator. Phases per endpoint: (a) maximum throughput at
// a fixed number of connections, the shadow query rotating over every device id (each connection from its own
// offset); (b) a fixed rate (autocannon `overallRate`) for latency. Baseline in the same run: bare fastify
// (bench/lib/bare-fastify.ts, another child process, no auth, no SQLite) answering the same routes with bodies
// of the same size, serialised per request. Latencies are measured per response (autocannon's `response`
// event, sub-millisecond, not corrected for coordinated omission; each connection's first response left out).
// Exits non-zero when a response is not 2xx or a request fails, not when the target is missed.
//
//   npx tsx bench/rest.ts [--devices 1000] [--connections 32] [--duration 10] [--rate 1000]
//                         [--rate-connections 10] [--rate-duration 5] [--warmup 1]
//                         [--only baseline|gateway] [--config FILE] [--profile] [--keep]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { printProfiles } from './lib/cpu-profile.ts'
import { startLoad } from './lib/load.ts'
import { type Child, cpuMs, machineCpuMs, nowMs, peakRssMiB, spawnNode } from './lib/proc.ts'
import { type GatewayTarget, startGateway } from './lib/targets.ts'

const TARGET_SHADOW_RATE = 10_000
const TARGET_P99_MS = 5

const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    // Phase (a): connections, each with one request in flight, for `duration` seconds.
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '10' },
    // Phase (b): `rate` requests per second over `rate-connections` connections for `rate-duration` seconds.
    rate: { type: 'string', default: '1000' },
    'rate-connections': { type: 'string', default: '10' },
    'rate-duration': { type: 'string', default: '5' },
    // Seconds of load on each endpoint before the measured phases (JIT, caches).
    warmup: { type: 'string', default: '1' },
    only: { type: 'string' },
    config: { type: 'string' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})
const deviceCount = Number(opts.devices)
const connections = Number(opts.connections)
const duration = Number(opts.duration)
const rate = Number(opts.rate)
const rateConnections = Number(opts['rate-connections'])
const rateDuration = Number(opts['rate-duration'])
const warmup = Number(opts.warmup)

const shadowPath = (deviceId: string) => `/iocm/app/shadow/v1.5.0/devices/${encodeURIComponent(deviceId)}`
const BATCH_PATH = '/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=25'

type Endpoint = 'shadow GET' | 'batch query'
const ENDPOINTS: Endpoint[] = ['shadow GET', 'batch query']

/** A server under load: the gateway or the baseline. */
interface Server {
  name: string
  pid: number
  httpUrl: string
  headers: Record<string, string>
  deviceIds: string[]
}

interface PhaseResult {
  phase: string
  endpoint: Endpoint
  server: string
  connections: number
  /** 2xx responses per second over the phase. */
  rate: number
  ok: number
  /** Ascending latencies of the 2xx responses but each connection's first, ms. */
  latencies: Float64Array
  non2xx: number
  statusCodes: Record<string, number>
  errors: number
  timeouts: number
  from: number
  to: number
  /** CPU in % of one core: the server child, this process (autocannon), the rest of the machine. */
  serverCpu: number
  /** Server CPU time per 2xx response, µs: unlike req/s, hardly changed by other load on the machine. */
  cpuPerRequestUs: number
  loadCpu: number
  otherCpu: number
}

/** Nearest-rank percentile of ascending values. */
function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function requestsOf(server: Server, endpoint: Endpoint): autocannon.Request[] {
  if (endpoint === 'batch query') return [{ method: 'GET', path: BATCH_PATH }]
  return server.deviceIds.map((id) => ({ method: 'GET', path: shadowPath(id) }))
}

async function runPhase(
  server: Server,
  phase: string,
  endpoint: Endpoint,
  load: { connections: number; seconds: number; rate?: number },
): Promise<PhaseResult> {
  const requests = requestsOf(server, endpoint)
  // Connection k starts at the k-th slice of the ids, so that connections do not query the same device in step.
  let nextClient = 0
  const stride = Math.max(1, Math.floor(requests.length / load.connections))
  const setupClient = (client: autocannon.Client) => {
    const from = (nextClient++ * stride) % requests.length
    if (from > 0) client.setRequests([...requests.slice(from), ...requests.slice(0, from)])
  }
  let latencies = new Float64Array(1 << 16)
  let ok = 0
  let timed = 0
  // A connection's first response is left out of the latencies: autocannon stamps a connection's first request
  // when the connection is made, then builds the next connections' request buffers (setRequests: one per device
  // id) in the same turn, so the first response of the early connections waits up to a second in autocannon.
  const seen = new WeakSet<object>()
  const [t0, server0, load0, machine0] = [nowMs(), cpuMs(server.pid), process.cpuUsage(), machineCpuMs()]
  const instance = autocannon({
    url: server.httpUrl,
    connections: load.connections,
    duration: load.seconds,
    headers: server.headers,
    requests,
    setupClient,
    ...(load.rate === undefined ? {} : { overallRate: load.rate }),
    timeout: 10,
  })
  instance.on('response', (client: object, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode > 299) return
    ok += 1
    if (!seen.has(client)) {
      seen.add(client)
      return
    }
    if (timed === latencies.length) {
      const grown = new Float64Array(latencies.length * 2)
      grown.set(latencies)
      latencies = grown
    }
    latencies[timed++] = responseTime
  })
  const result = await instance
  const t1 = nowMs()
  const elapsed = t1 - t0
  const loadUsage = process.cpuUsage(load0)
  const serverCpuMs = cpuMs(server.pid) - server0
  const serverCpu = (100 * serverCpuMs) / elapsed
  const loadCpu = (100 * (loadUsage.user + loadUsage.system)) / 1000 / elapsed
  const machineCpu = (100 * (machineCpuMs().busy - machine0.busy)) / elapsed
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
  )
  return {
    phase,
    endpoint,
    server: server.name,
    connections: Math.min(load.connections, load.rate ?? Number.POSITIVE_INFINITY),
    rate: ok / (elapsed / 1000),
    ok,
    latencies: latencies.slice(0, timed).sort(),
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    from: t0,
    to: t1,
    serverCpu,
    cpuPerRequestUs: ok === 0 ? Number.NaN : (1000 * serverCpuMs) / ok,
    loadCpu,
    otherCpu: Math.max(0, machineCpu - serverCpu - loadCpu),
  }
}

/** Warm-up on each endpoint, then (a) maximum throughput and (b) the fixed rate on each. */
async function measure(server: Server): Promise<PhaseResult[]> {
  if (warmup > 0)
    for (const endpoint of ENDPOINTS) {
      const warm = await runPhase(server, 'warm-up', endpoint, { connections, seconds: warmup })
      const failed = failureOf(warm)
      if (failed) throw new Error(`${server.name} warm-up: ${failed}`)
    }
  const results: PhaseResult[] = []
  for (const endpoint of ENDPOINTS)
    results.push(await runPhase(server, 'max', endpoint, { connections, seconds: duration }))
  for (const endpoint of ENDPOINTS)
    results.push(
      await runPhase(server, `${fmt(rate)}/s`, endpoint, {
        connections: rateConnections,
        seconds: rateDuration,
        rate,
      }),
    )
  return results
}

/** Why a phase failed, or undefined when every response was 2xx. */
function failureOf(p: PhaseResult): string | undefined {
  if (p.non2xx === 0 && p.errors === 0 && p.timeouts === 0 && p.ok > 0) return undefined
  return `${p.ok} 2xx, ${p.non2xx} non-2xx ${JSON.stringify(p.statusCodes)}, ${p.errors} errors, ${p.timeouts} timeouts`
}

async function getJson(
  url: string,
  headers: Record<string, string>,
): Promise<{ text: string; body: unknown }> {
  const res = await fetch(url, { headers })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${text}`)
  return { text, body: JSON.parse(text) }
}

interface Shadow {
  deviceId: string
  services: { serviceId: string; reportedProps: Record<string, unknown> }[]
}

interface GatewaySetup {
  target: GatewayTarget
  /** A shadow body and a batch query body, as the gateway answers them (for the baseline). */
  bodies: { shadow: Shadow; batch: unknown }
  shadowBytes: { min: number; max: number }
  batchBytes: number
  setupRssMiB: number
}

/** The gateway with `deviceCount` devices, each having sent one deviceReq; checks every shadow has reported data. */
async function setupGateway(): Promise<GatewaySetup> {
  let t = nowMs()
  const target = await startGateway(deviceCount, { profile: opts.profile, config: opts.config })
  try {
    console.log(
      `gateway up, ${deviceCount} devices registered over REST in ${((nowMs() - t) / 1000).toFixed(1)} s`,
    )
    t = nowMs()
    const load = await startLoad({ url: target.mqttUrl, devices: target.devices, window: 1 }, 0)
    await load.run(1)
    await load.close()
    console.log(
      `one QoS 1 deviceReq per device (2 services) acknowledged in ${((nowMs() - t) / 1000).toFixed(1)} s`,
    )
    // Every device's shadow, read once: reported data present (the ingest writer acknowledged after commit).
    const headers = target.headers
    let shadow: Shadow | undefined
    const sizes: number[] = []
    let next = 0
    const check = async () => {
      while (next < target.devices.length) {
        const device = target.devices[next++]!
        const { text, body } = await getJson(`${target.httpUrl}${shadowPath(device.id)}`, headers)
        const s = body as Shadow
        if (s.services.length < 2 || s.services.some((v) => Object.keys(v.reportedProps).length === 0))
          throw new Error(`shadow of ${device.id} has no reported data: ${text}`)
        sizes.push(Buffer.byteLength(text))
        shadow ??= s
      }
    }
    await Promise.all(Array.from({ length: 8 }, check))
    const batch = await getJson(`${target.httpUrl}${BATCH_PATH}`, headers)
    const devices = (batch.body as { devices: unknown[]; totalCount: number }).devices
    if (devices.length !== Math.min(25, deviceCount))
      throw new Error(`batch query: ${batch.text.slice(0, 300)}`)
    return {
      target,
      bodies: { shadow: shadow!, batch: batch.body },
      shadowBytes: { min: Math.min(...sizes), max: Math.max(...sizes) },
      batchBytes: Buffer.byteLength(batch.text),
      setupRssMiB: peakRssMiB(target.child.pid),
    }
  } catch (err) {
    await target.stop()
    if (!opts.keep) target.removeDirs()
    throw err
  }
}

interface SideResult {
  phases: PhaseResult[]
  rssMiB?: number
}

async function runGateway(setup: GatewaySetup): Promise<SideResult> {
  const { target } = setup
  let result: SideResult
  try {
    const server = {
      name: 'sitegate',
      pid: target.child.pid,
      httpUrl: target.httpUrl,
      headers: target.headers,
      deviceIds: target.devices.map((d) => d.id),
    }
    const phases = await measure(server)
    result = { phases, rssMiB: peakRssMiB(target.child.pid) }
  } catch (err) {
    await target.stop()
    if (!opts.keep) target.removeDirs()
    throw err
  }
  const code = await target.stop()
  if (code !== 0) throw new Error(`gateway exited with ${code}:\n${target.child.output()}`)
  if (target.profileDir)
    for (const p of result.phases)
      printProfiles(target.profileDir, p.from, p.to, `the ${p.endpoint} ${p.phase} phase`)
  if (opts.keep) console.log(`kept: ${target.dataDir} ${target.profileDir ?? ''}`)
  else target.removeDirs()
  return result
}

async function runBaseline(setup: GatewaySetup | undefined): Promise<SideResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sitegate-bench-'))
  let child: Child | undefined
  try {
    const file = join(dir, 'bodies.json')
    // Without the gateway (--only baseline): a shadow of the same shape, and 25 such devices' views.
    writeFileSync(file, JSON.stringify(setup?.bodies ?? syntheticBodies()))
    child = spawnNode(['--import', 'tsx'], 'bench/lib/bare-fastify.ts', [file])
    const port = await child.waitForLine((line) =>
      line.startsWith('{') ? (JSON.parse(line) as { port: number }).port : undefined,
    )
    const server: Server = {
      name: 'fastify',
      pid: child.pid,
      httpUrl: `http://127.0.0.1:${port}`,
      // The same request bytes as for the gateway (ignored here).
      headers: setup?.target.headers ?? {
        app_key: 'x'.repeat(32),
        authorization: `Bearer ${'x'.repeat(64)}`,
      },
      deviceIds:
        setup?.target.devices.map((d) => d.id) ?? Array.from({ length: deviceCount }, (_, i) => `d${i}`),
    }
    return { phases: await measure(server) }
  } finally {
    await child?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

function syntheticBodies(): { shadow: Shadow; batch: unknown } {
  const shadow = {
    deviceId: 'a'.repeat(36),
    services: [
      {
        serviceId: 'Environment',
        reportedProps: { temperature: 21.5, humidity: 40.1, pm25: 12, noise: 55.2 },
      },
      { serviceId: 'Battery', reportedProps: { batteryLevel: 80, batteryVoltage: 3.9, charging: false } },
    ],
  }
  return {
    shadow,
    batch: { totalCount: deviceCount, pageNo: 0, pageSize: 25, devices: Array(25).fill(shadow) },
  }
}

const ms = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(2))
function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

async function main(): Promise<void> {
  console.log(
    `rest: ${deviceCount} devices; per endpoint (a) max throughput, ${connections} connections × ${duration} s (shadow GET rotating over every device id), (b) ${fmt(rate)} req/s (autocannon overallRate) over ${rateConnections} connections × ${rateDuration} s; ${warmup} s warm-up per endpoint; autocannon in this process`,
  )
  const setup = opts.only === 'baseline' ? undefined : await setupGateway()
  if (setup)
    console.log(
      `response bodies: shadow GET ${setup.shadowBytes.min}–${setup.shadowBytes.max} bytes (every shadow has reported data), batch query ${setup.batchBytes} bytes (25 devices); gateway peak RSS after setup ${fmt(setup.setupRssMiB, 1)} MiB`,
    )
  const gw = setup ? await runGateway(setup) : undefined
  const base = opts.only === 'gateway' ? undefined : await runBaseline(setup)

  const phases = [0, 1, 2, 3].flatMap((i) => [base?.phases[i], gw?.phases[i]].filter((p) => p !== undefined))
  console.log(
    '\n| endpoint    | phase    | server   | conns |   req/s | p50 ms | p99 ms | max ms | non-2xx | errors | server CPU | server CPU µs/req | autocannon CPU | other CPU |',
  )
  console.log(
    '|-------------|----------|----------|------:|--------:|-------:|-------:|-------:|--------:|-------:|-----------:|-----------------:|---------------:|----------:|',
  )
  for (const p of phases) {
    const l = p.latencies
    const cells = [
      p.endpoint.padEnd(11),
      p.phase.padEnd(8),
      p.server.padEnd(8),
      String(p.connections).padStart(5),
      fmt(p.rate).padStart(7),
      ms(pct(l, 50)).padStart(6),
      ms(pct(l, 99)).padStart(6),
      ms(l[l.length - 1] ?? Number.NaN).padStart(6),
      String(p.non2xx).padStart(7),
      String(p.errors + p.timeouts).padStart(6),
      `${fmt(p.serverCpu)}%`.padStart(10),
      fmt(p.cpuPerRequestUs).padStart(16),
      `${fmt(p.loadCpu)}%`.padStart(14),
      `${fmt(p.otherCpu)}%`.padStart(9),
    ]
    console.log(`| ${cells.join(' | ')} |`)
  }
  if (phases.some((p) => p.otherCpu > 15))
    console.log('warning: other processes used CPU during a phase (other CPU > 15%): rerun when idle')
  console.log(
    `note: with overallRate, autocannon sends each connection's share of a second (${fmt(rate / rateConnections)} requests) back to back at the start of the second, so phase (b) is ${rateConnections}-way bursts, not evenly spaced arrivals`,
  )

  for (const i of [0, 1]) {
    const [b, g] = [base?.phases[i], gw?.phases[i]]
    if (!g) continue
    const target =
      i === 0
        ? ` (${g.rate >= TARGET_SHADOW_RATE ? 'meets' : 'below'} the ${fmt(TARGET_SHADOW_RATE)} req/s target)`
        : ''
    const ratio = b ? `; bare fastify ${fmt(b.rate)} req/s, ratio ${(g.rate / b.rate).toFixed(2)}` : ''
    const cost = b
      ? `; server CPU per request ${fmt(g.cpuPerRequestUs)} µs vs ${fmt(b.cpuPerRequestUs)} µs (${(g.cpuPerRequestUs / b.cpuPerRequestUs).toFixed(1)}×)`
      : `; server CPU per request ${fmt(g.cpuPerRequestUs)} µs`
    console.log(
      `${g.endpoint}, ${connections} connections: sitegate ${fmt(g.rate)} req/s${target}${ratio}${cost}`,
    )
  }
  for (const i of [2, 3]) {
    const [b, g] = [base?.phases[i], gw?.phases[i]]
    if (!g) continue
    const p99 = pct(g.latencies, 99)
    const target =
      i === 2 ? ` (${p99 <= TARGET_P99_MS ? 'meets' : 'misses'} the p99 ≤ ${TARGET_P99_MS} ms target)` : ''
    const ratio = b
      ? `; bare fastify p99 ${ms(pct(b.latencies, 99))} ms, p50 ${ms(pct(b.latencies, 50))} ms`
      : ''
    console.log(
      `${g.endpoint} at ${fmt(g.rate)} req/s: sitegate p99 ${ms(p99)} ms, p50 ${ms(pct(g.latencies, 50))} ms${target}${ratio}`,
    )
  }
  if (gw?.rssMiB !== undefined) console.log(`gateway peak RSS ${fmt(gw.rssMiB, 1)} MiB`)

  const failures = phases.flatMap((p) => {
    const why = failureOf(p)
    return why ? [`${p.server} ${p.endpoint} ${p.phase}: ${why}`] : []
  })
  if (failures.length > 0) {
    console.error(`\nfailed phases:\n  ${failures.join('\n  ')}`)
    process.exit(1)
  }
}

main().catch((err: unknown) => {
  console.error(`bench rest failed: ${(err as Error).stack ?? String(err)}`)
  process.exit(1)
})
