// Soak benchmark (issue 10 item 4): `devices` simulated devices each publish one QoS 1 deviceReq per second to the
// real gateway (CLI child process) for `minutes`, while a REST client reads shadows, device pages, history and the
// sync status, and the gateway drains its outbox upstream to a real mosquitto (a subscriber counts what arrives).
// Printed: the gateway's RSS at the start (devices registered, before load), after the warm-up and at the end,
// its growth after warm-up, the event-loop delay p99 over the loaded run (the gateway's GET /sitegate/v1/process),
// messages acknowledged, records at the cloud and errors. Same-run baseline: plain aedes (bench/lib/raw-aedes.mjs,
// launched with the same memory settings) carrying the same devices at the same rate for `baseline-seconds`, its
// RSS beside the gateway's.
// Targets: RSS growth after warm-up ≤ 10 %, RSS ≤ 150 MB, no errors.
//
//   npx tsx bench/soak.ts [--devices 1000] [--minutes 10] [--warmup-seconds 60] [--rest-rps 20]
//                         [--baseline-seconds 120] [--built]
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import type { SyncStatus } from '../src/sync/service.ts'
import { startMosquitto } from '../test/helpers/mosquitto.ts'
import { connect, type DeviceSpec, payloadSource } from './lib/load.ts'
import { startBaseline, startGateway } from './lib/targets.ts'

const TARGET_GROWTH = 0.1
const TARGET_RSS_MB = 150
const ACK_TIMEOUT_MS = 30_000

const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
    'warmup-seconds': { type: 'string', default: '60' },
    'rest-rps': { type: 'string', default: '20' },
    'baseline-seconds': { type: 'string', default: '120' },
    keep: { type: 'boolean', default: false },
    // Run the compiled core (dist/, built first with `npm run build`) rather than the sources through tsx.
    built: { type: 'boolean', default: false },
  },
})
const deviceCount = Number(opts.devices)
const runMs = Number(opts.minutes) * 60_000
const warmupMs = Number(opts['warmup-seconds']) * 1000
const restRps = Number(opts['rest-rps'])
const baselineMs = Number(opts['baseline-seconds']) * 1000
const GW_ID = 'soak-gateway'

const rssMB = (pid: number): number => {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) / 1024
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Counters {
  published: number
  acked: number
  errors: Map<string, number>
}

function error(c: Counters, what: string): void {
  c.errors.set(what, (c.errors.get(what) ?? 0) + 1)
}

async function main() {
  console.log(
    `soak: ${deviceCount} devices × 1 msg/s for ${Number(opts.minutes)} min (warm-up ${warmupMs / 1000} s), ` +
      `REST ${restRps} req/s, upstream drain to mosquitto`,
  )
  const baseline = baselineMs > 0 ? await measureBaseline() : undefined
  if (baseline) {
    console.log(
      `  baseline: plain aedes with the same ${deviceCount} devices at 1 msg/s for ${baselineMs / 1000} s, same memory ` +
        `settings: RSS ${baseline.end.toFixed(1)} MB at the end (max ${baseline.max.toFixed(1)} MB), ${baseline.errors} errors`,
    )
  }
  const broker = await startMosquitto()
  const config = join(tmpdir(), `sitegate-soak-${process.pid}.yaml`)
  writeFileSync(
    config,
    [
      'http:',
      '  throttle:',
      '    maxCalls: 0',
      '    windowSeconds: 60',
      'upstream:',
      `  url: ${broker.url}`,
      `  deviceId: ${GW_ID}`,
      '  secret: soak-secret',
      '  initialBackoffMs: 50',
      '  maxBackoffMs: 1000',
    ].join('\n'),
  )
  if (opts.built) {
    const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' })
    if (build.status !== 0) throw new Error('npm run build failed')
  }
  const gw = await startGateway(deviceCount, { config, built: opts.built })
  const pid = gw.child.pid
  const counters: Counters = { published: 0, acked: 0, errors: new Map() }
  const cloud = { messages: 0, records: 0 }
  const clients: MqttClient[] = []
  let stopping = false
  const timers: NodeJS.Timeout[] = []
  let sub: MqttClient | undefined
  try {
    sub = mqtt.connect(broker.url, { clientId: 'soak-cloud', protocolVersion: 4, log: () => {} })
    sub.on('message', () => {
      cloud.messages += 1
    })
    await new Promise<void>((resolve, reject) =>
      sub!.once('connect', () =>
        sub!.subscribe(`/huawei/v1/devices/${GW_ID}/data/#`, { qos: 1 }, (err) =>
          err ? reject(err) : resolve(),
        ),
      ),
    )
    await sleep(2000)
    const rssStart = rssMB(pid)
    console.log(`  RSS at start (${deviceCount} devices registered, idle): ${rssStart.toFixed(1)} MB`)

    clients.push(...(await startDevices(gw.mqttUrl, gw.devices, counters, () => stopping, timers)))

    // REST load: shadows, device pages, history, sync status, in turn.
    const paths = [
      (i: number) => `/iocm/app/shadow/v1.5.0/devices/${gw.devices[i % gw.devices.length]!.id}`,
      () => '/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=25',
      (i: number) =>
        `/iocm/app/data/v1.2.0/deviceDataHistory?deviceId=${gw.devices[i % gw.devices.length]!.id}&gatewayId=${gw.devices[i % gw.devices.length]!.id}&pageSize=10`,
      () => '/sitegate/v1/sync',
    ]
    let restCalls = 0
    const restLatencies: number[] = []
    timers.push(
      setInterval(() => {
        const i = restCalls++
        const path = paths[i % paths.length]!(i)
        const t0 = performance.now()
        fetch(`${gw.httpUrl}${path}`, { headers: gw.headers }).then(
          async (res) => {
            await res.arrayBuffer()
            restLatencies.push(performance.now() - t0)
            if (res.status !== 200) error(counters, `REST ${res.status} ${path.split('?')[0]}`)
          },
          () => error(counters, 'REST request failed'),
        )
      }, 1000 / restRps),
    )

    const t0 = Date.now()
    const samples: { at: number; rss: number }[] = []
    let rssWarm: number | undefined
    let lastReport = t0
    while (Date.now() - t0 < runMs) {
      await sleep(1000)
      const now = Date.now()
      samples.push({ at: now - t0, rss: rssMB(pid) })
      if (rssWarm === undefined && now - t0 >= warmupMs) {
        rssWarm = rssMB(pid)
        // The event-loop delay window starts after the warm-up.
        await fetch(`${gw.httpUrl}/sitegate/v1/process?reset=true`, { headers: gw.headers }).then((r) =>
          r.arrayBuffer(),
        )
        console.log(`  RSS after warm-up (${Math.round((now - t0) / 1000)} s): ${rssWarm.toFixed(1)} MB`)
      }
      if (now - lastReport >= 60_000) {
        lastReport = now
        console.log(
          `  ${Math.round((now - t0) / 1000)} s: RSS ${samples.at(-1)!.rss.toFixed(1)} MB (${await heapSummary(gw)}), ` +
            `${counters.acked} acked, ${cloud.messages} upstream messages, ` +
            `${[...counters.errors.values()].reduce((a, b) => a + b, 0)} errors`,
        )
      }
    }
    const rssEnd = rssMB(pid)
    const proc = (await (
      await fetch(`${gw.httpUrl}/sitegate/v1/process`, { headers: gw.headers })
    ).json()) as {
      eventLoopDelayMs: { p50: number; p99: number; max: number }
      memory: { heapUsed: number }
    }
    stopping = true
    for (const t of timers) clearInterval(t)
    // What was published is acknowledged and has gone up before the figures are final.
    const deadline = Date.now() + 60_000
    let status: SyncStatus | undefined
    while (Date.now() < deadline) {
      status = (await (
        await fetch(`${gw.httpUrl}/sitegate/v1/sync`, { headers: gw.headers })
      ).json()) as SyncStatus
      if (counters.acked + countErrors(counters) >= counters.published && status.backlog.records === 0) break
      await sleep(500)
    }
    const rssMax = Math.max(...samples.map((s) => s.rss))
    const warm = rssWarm ?? samples[0]!.rss
    const growth = (rssEnd - warm) / warm
    restLatencies.sort((a, b) => a - b)
    const p99Rest = restLatencies[Math.floor(restLatencies.length * 0.99)] ?? Number.NaN
    const errors = countErrors(counters)
    console.log(
      `  RSS at the end: ${rssEnd.toFixed(1)} MB (max ${rssMax.toFixed(1)} MB, heap used ${(proc.memory.heapUsed / 2 ** 20).toFixed(1)} MB)`,
    )
    console.log(
      `  RSS growth after warm-up: ${(100 * growth).toFixed(1)} % (target ≤ ${100 * TARGET_GROWTH} %: ${growth <= TARGET_GROWTH ? 'met' : 'NOT met'}); ` +
        `RSS ≤ ${TARGET_RSS_MB} MB: ${rssMax <= TARGET_RSS_MB ? 'met' : 'NOT met'}; idle with the devices registered ${rssStart.toFixed(1)} MB, ` +
        `end/idle ${(rssEnd / rssStart).toFixed(2)}` +
        (baseline
          ? `; gateway/plain aedes: end ${(rssEnd / baseline.end).toFixed(2)}, max ${(rssMax / baseline.max).toFixed(2)}`
          : ''),
    )
    console.log(
      `  event-loop delay after warm-up: p50 ${proc.eventLoopDelayMs.p50} ms, p99 ${proc.eventLoopDelayMs.p99} ms, max ${proc.eventLoopDelayMs.max} ms`,
    )
    console.log(
      `  messages: ${counters.published} published, ${counters.acked} acknowledged; REST: ${restCalls} calls, p99 ${p99Rest.toFixed(1)} ms; ` +
        `upstream: ${status?.sent.records ?? '?'} records in ${status?.sent.messages ?? '?'} messages (${cloud.messages} at mosquitto), backlog ${status?.backlog.records ?? '?'}`,
    )
    console.log(
      `  errors: ${errors}${errors ? ` (${[...counters.errors].map(([k, v]) => `${k}: ${v}`).join('; ')})` : ''} (target 0: ${errors === 0 ? 'met' : 'NOT met'})`,
    )
  } finally {
    stopping = true
    for (const t of timers) clearInterval(t)
    for (const c of clients) c.end(true)
    sub?.end(true)
    await gw.stop()
    await broker.dispose()
    if (!opts.keep) gw.removeDirs()
    else console.log(`  data kept in ${gw.dataDir}`)
    rmSync(config, { force: true })
  }
}

/**
 * Each thread's V8 heap from GET /sitegate/v1/process: committed, used, and the memory its objects hold outside it
 * (Buffers): where the RSS goes.
 */
async function heapSummary(gw: { httpUrl: string; headers: Record<string, string> }): Promise<string> {
  const res = await fetch(`${gw.httpUrl}/sitegate/v1/process`, { headers: gw.headers })
  if (res.status !== 200) return `GET /sitegate/v1/process: ${res.status} ${await res.text()}`
  const { heaps } = (await res.json()) as {
    heaps: Record<string, { usedBytes: number; physicalBytes: number; externalBytes: number }>
  }
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
  return Object.entries(heaps)
    .map(
      ([thread, h]) =>
        `${thread} heap ${mb(h.physicalBytes)}/${mb(h.usedBytes)} used/${mb(h.externalBytes)} external`,
    )
    .join(', ')
}

/**
 * Connects the devices in groups of 50; then each publishes one QoS 1 deviceReq a second, at its own phase, until
 * `stopped()`. Failures are counted in `counters`; the publish timers are added to `timers`.
 */
async function startDevices(
  url: string,
  devices: DeviceSpec[],
  counters: Counters,
  stopped: () => boolean,
  timers: NodeJS.Timeout[],
): Promise<MqttClient[]> {
  const clients: MqttClient[] = []
  for (let i = 0; i < devices.length; i += 50) {
    clients.push(...(await Promise.all(devices.slice(i, i + 50).map((d) => connect(url, d)))))
  }
  clients.forEach((client, i) => {
    const device = devices[i]!
    const payload = payloadSource(i + 1)
    let k = 0
    client.on('close', () => {
      if (!stopped()) error(counters, 'device connection closed')
    })
    client.on('error', () => error(counters, 'device connection error'))
    const publish = () => {
      if (stopped() || !client.connected) return
      counters.published += 1
      const timer = setTimeout(() => error(counters, `no PUBACK within ${ACK_TIMEOUT_MS} ms`), ACK_TIMEOUT_MS)
      client.publish(device.topic, payload(k++), { qos: 1 }, (err) => {
        clearTimeout(timer)
        if (err) error(counters, `publish: ${err.message}`)
        else counters.acked += 1
      })
    }
    timers.push(
      setTimeout(() => timers.push(setInterval(publish, 1000)), Math.floor((i / clients.length) * 1000)),
    )
  })
  return clients
}

/** Plain aedes carrying the same devices at the same rate for `baselineMs`: its RSS at the end and at most. */
async function measureBaseline(): Promise<{ end: number; max: number; errors: number }> {
  const target = await startBaseline(deviceCount, { coreSettings: true })
  const counters: Counters = { published: 0, acked: 0, errors: new Map() }
  const timers: NodeJS.Timeout[] = []
  let stopped = false
  let clients: MqttClient[] = []
  try {
    clients = await startDevices(target.mqttUrl, target.devices, counters, () => stopped, timers)
    let max = 0
    for (const t0 = Date.now(); Date.now() - t0 < baselineMs; ) {
      await sleep(1000)
      max = Math.max(max, rssMB(target.child.pid))
    }
    return { end: rssMB(target.child.pid), max, errors: countErrors(counters) }
  } finally {
    stopped = true
    for (const t of timers) clearInterval(t)
    for (const c of clients) c.end(true)
    await target.stop()
  }
}

function countErrors(c: Counters): number {
  return [...c.errors.values()].reduce((a, b) => a + b, 0)
}

await main()
