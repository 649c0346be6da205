// Modbus RTU polling benchmark (issue 8): 10 slaves × 10 points on one bus, the gateway started through its CLI
// (its own process) polling a socat PTY at 115200 baud 8N1; the slave simulator (this process) answers on the
// other end. A PTY moves bytes instantly, so the simulator holds each answer for the time request and response
// would take on a real wire (frame bytes × 10 bits / baud) — then polls/s can be compared with what the bus
// allows at most. Each point is one holding register read (FC 3: 8-byte request, 7-byte response), so the
// theoretical limit is baud / (15 × 10) polls/s. The figure is the gateway's own count of responses (GET
// /sitegate/v1/serial) over the window.
// Phases: (a) wire time emulated, turnaroundMs 0 (the software's overhead against the bus limit); (b) the same
// with the default turnaround (3.5 character times, at least 2 ms: what a site gets out of the box);
// (c) no wire time (the software's own ceiling, the baseline the bus is not part of).
//
//   npx tsx bench/modbus.ts [--slaves 10] [--points 10] [--baud 115200] [--seconds 8] [--warmup 2]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { stringify } from 'yaml'
import type { PortStatus } from '../src/serial/status.ts'
import { ModbusSlaveSimulator } from '../test/helpers/modbus-slave.ts'
import { PtyPair } from '../test/helpers/pty-pair.ts'
import { cpuMs, freePort, spawnNode, waitForHttp } from './lib/proc.ts'

const { values: opts } = parseArgs({
  options: {
    slaves: { type: 'string', default: '10' },
    points: { type: 'string', default: '10' },
    baud: { type: 'string', default: '115200' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
  },
})
const slaves = Number(opts.slaves)
const points = Number(opts.points)
const baud = Number(opts.baud)
const seconds = Number(opts.seconds)
const warmup = Number(opts.warmup)

const REQUEST_BYTES = 8
const RESPONSE_BYTES = 5 + 2 // one register
const BITS_PER_CHAR = 10 // 8N1: start, 8 data, stop
const theoretical = baud / ((REQUEST_BYTES + RESPONSE_BYTES) * BITS_PER_CHAR)

interface Phase {
  name: string
  wire: boolean
  turnaroundMs: number | undefined
}

interface Result {
  phase: Phase
  pollsPerSecond: number
  simulatorRequests: number
  timeouts: number
  crcErrors: number
  minPerSlave: number
  maxPerSlave: number
  gatewayCpuPct: number
}

function config(dataDir: string, path: string, httpPort: number, turnaroundMs: number | undefined): string {
  const file = join(dataDir, 'bench.yaml')
  const doc = {
    http: { port: httpPort, throttle: { maxCalls: 0, windowSeconds: 60 } },
    serial: {
      ports: [
        {
          path,
          baudRate: baud,
          ...(turnaroundMs === undefined ? {} : { turnaroundMs }),
          slaves: Array.from({ length: slaves }, (_, s) => ({
            unitId: s + 1,
            nodeId: `bench-meter-${s + 1}`,
            serviceId: 'Meter',
            // Always due: the bus runs flat out.
            pollMs: 10,
            timeoutMs: 200,
            points: Array.from({ length: points }, (_, p) => ({
              name: `r${p}`,
              function: 'holding',
              address: p,
            })),
          })),
        },
      ],
    },
  }
  writeFileSync(file, stringify(doc))
  return file
}

async function serialStatus(httpUrl: string, headers: Record<string, string>): Promise<PortStatus> {
  const res = await fetch(`${httpUrl}/sitegate/v1/serial`, { headers })
  if (res.status !== 200) throw new Error(`GET /sitegate/v1/serial: ${res.status}`)
  return ((await res.json()) as { ports: PortStatus[] }).ports[0]!
}

async function login(httpUrl: string, dataDir: string): Promise<Record<string, string>> {
  const app = JSON.parse(readFileSync(join(dataDir, 'first-app.json'), 'utf8')) as {
    appId: string
    secret: string
  }
  const res = await fetch(`${httpUrl}/iocm/app/sec/v1.1.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(app).toString(),
  })
  const { accessToken } = (await res.json()) as { accessToken: string }
  return { app_key: app.appId, authorization: `Bearer ${accessToken}` }
}

async function run(phase: Phase): Promise<Result> {
  const pty = await PtyPair.open()
  const sim = await ModbusSlaveSimulator.open(pty.devicePath, {
    baudRate: baud,
    ...(phase.wire ? { wireBaudRate: baud } : {}),
  })
  for (let s = 1; s <= slaves; s++) {
    const unit = sim.unit(s)
    for (let p = 0; p < points; p++) unit.holding[p] = s * 100 + p
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'sitegate-bench-modbus-'))
  const [mqttPort, httpPort] = [await freePort(), await freePort()]
  const args = ['start', '--data-dir', dataDir, '--host', '127.0.0.1', '--log-level', 'warn']
  args.push(
    '--mqtt-port',
    String(mqttPort),
    '--mqtts-port',
    'false',
    '--ws-port',
    'false',
    '--https-port',
    'false',
  )
  args.push('--config', config(dataDir, pty.gatewayPath, httpPort, phase.turnaroundMs))
  const child = spawnNode(['--import', 'tsx'], 'src/cli.ts', args)
  try {
    const httpUrl = `http://127.0.0.1:${httpPort}`
    await waitForHttp(httpUrl, child)
    const headers = await login(httpUrl, dataDir)
    // Every slave answered once before the window opens, then a warm-up.
    for (;;) {
      const port = await serialStatus(httpUrl, headers)
      if (port.slaves.every((s) => s.state === 'online')) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await new Promise((r) => setTimeout(r, warmup * 1000))
    const before = await serialStatus(httpUrl, headers)
    const simBefore = sim.requests.length
    const cpuBefore = cpuMs(child.pid)
    const t0 = performance.now()
    await new Promise((r) => setTimeout(r, seconds * 1000))
    const after = await serialStatus(httpUrl, headers)
    const elapsed = (performance.now() - t0) / 1000
    const cpu = cpuMs(child.pid) - cpuBefore
    const perSlave = after.slaves.map((s, i) => s.responses - (before.slaves[i]?.responses ?? 0))
    return {
      phase,
      pollsPerSecond: (after.responses - before.responses) / elapsed,
      simulatorRequests: sim.requests.length - simBefore,
      timeouts: after.timeouts - before.timeouts,
      crcErrors: after.crcErrors - before.crcErrors,
      minPerSlave: Math.min(...perSlave),
      maxPerSlave: Math.max(...perSlave),
      gatewayCpuPct: (cpu / (elapsed * 1000)) * 100,
    }
  } finally {
    await child.stop()
    await sim.close()
    await pty.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const phases: Phase[] = [
  { name: 'wire time, turnaround 0', wire: true, turnaroundMs: 0 },
  { name: 'wire time, default turnaround', wire: true, turnaroundMs: undefined },
  { name: 'no wire time (software ceiling)', wire: false, turnaroundMs: 0 },
]
console.log(
  `modbus: ${slaves} slaves × ${points} points (FC 3, 1 register each) on one PTY at ${baud} baud 8N1; ` +
    `theoretical bus limit ${theoretical.toFixed(0)} polls/s (${REQUEST_BYTES}+${RESPONSE_BYTES} bytes × ${BITS_PER_CHAR} bits / ${baud})`,
)
const results: Result[] = []
for (const phase of phases) results.push(await run(phase))
console.log(
  '| phase | polls/s | ratio to bus limit | per slave min–max | timeouts | CRC errors | gateway CPU |',
)
console.log('|---|---|---|---|---|---|---|')
for (const r of results) {
  console.log(
    `| ${r.phase.name} | ${r.pollsPerSecond.toFixed(0)} | ${(r.pollsPerSecond / theoretical).toFixed(2)} | ` +
      `${r.minPerSlave}–${r.maxPerSlave} | ${r.timeouts} | ${r.crcErrors} | ${r.gatewayCpuPct.toFixed(0)}% |`,
  )
}
const failed = results.filter((r) => r.timeouts > 0 || r.crcErrors > 0 || r.pollsPerSecond === 0)
if (failed.length > 0) {
  console.error(`errors on the bus in: ${failed.map((r) => r.phase.name).join(', ')}`)
  process.exit(1)
}
