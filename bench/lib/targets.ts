// The two brokers bench/ingest.ts and bench/command-rtt.ts measure, each in its own child process: the real gateway (CLI, temp data
// dir, registered devices) and a plain aedes broker as the baseline.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deviceCredentials } from '../../src/broker/credentials.ts'
import { coreLaunch } from '../../src/ops/memory-tuning.ts'
import { dataTopic } from '../../src/protocols/platform-mqtt.ts'
import type { DeviceSpec } from './load.ts'
import { type Child, freePort, spawnNode, waitForHttp } from './proc.ts'

const REGISTER_IN_FLIGHT = 8

export interface Target {
  name: string
  child: Child
  mqttUrl: string
  devices: DeviceSpec[]
  /** Stops the child (SIGTERM, then SIGKILL after 10 s); resolves with its exit code. */
  stop(): Promise<number | null>
}

export interface GatewayTarget extends Target {
  httpUrl: string
  /** REST headers of the first application (app_key, bearer token, JSON content type). */
  headers: Record<string, string>
  dataDir: string
  database: string
  /** The --cpu-prof directory when profiling. */
  profileDir: string | undefined
  /** Removes the data and profile directories (after stop). */
  removeDirs(): void
}

/**
 * Plain aedes (bench/lib/raw-aedes.mjs); devices are anonymous clients publishing on same-shaped topics.
 * `noDelay`: no Nagle on the broker's sockets (latency: a reply written right after another small write would
 * otherwise wait for the client's delayed ACK, ~40 ms). `coreSettings`: launched with the gateway's memory
 * settings (src/ops/memory-tuning.ts), so that a memory comparison compares the code, not the flags.
 */
export async function startBaseline(
  clients: number,
  opts: { noDelay?: boolean; coreSettings?: boolean } = {},
): Promise<Target> {
  const launch = opts.coreSettings ? coreLaunch(process.env) : { execArgv: [], env: process.env }
  const args = opts.noDelay ? ['--no-delay'] : []
  const child = spawnNode(launch.execArgv, 'bench/lib/raw-aedes.mjs', args, launch.env)
  const port = await child.waitForLine((line) =>
    line.startsWith('{') ? (JSON.parse(line) as { port: number }).port : undefined,
  )
  const devices = Array.from({ length: clients }, (_, i) => ({
    id: `bench-${i}`,
    clientId: `bench-${i}`,
    topic: dataTopic(`bench-${i}`),
  }))
  return { name: 'raw aedes', child, mqttUrl: `mqtt://127.0.0.1:${port}`, devices, stop: () => child.stop() }
}

/**
 * The gateway as a user starts it, with `clients` devices registered over REST; `profile` runs it under
 * --cpu-prof, `config` passes a config file (e.g. to try store.synchronous or ingest.maxBatch).
 */
export async function startGateway(
  clients: number,
  opts: { profile?: boolean; config?: string | undefined; built?: boolean } = {},
): Promise<GatewayTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sitegate-bench-'))
  const profileDir = opts.profile ? mkdtempSync(join(tmpdir(), 'sitegate-prof-')) : undefined
  const [mqttPort, httpPort] = [await freePort(), await freePort()]
  // `built`: the compiled core (`npm run build` → dist/), as an installed gateway runs it; otherwise the
  // TypeScript sources through tsx, as `npm start` does.
  const nodeArgs = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    ...(opts.built ? [] : ['--import', 'tsx']),
  ]
  // At log level warn the "sitegate listening" line is not printed: ports are chosen here and HTTP is polled.
  const args = ['start', '--data-dir', dataDir, '--host', '127.0.0.1', '--log-level', 'warn']
  args.push('--mqtt-port', String(mqttPort), '--http-port', String(httpPort))
  // The benchmarks measure plain TCP and HTTP: the TLS and WebSocket listeners stay off.
  args.push('--mqtts-port', 'false', '--ws-port', 'false', '--https-port', 'false')
  // A benchmark makes far more REST calls than the §1.5 default of 100 a minute: without a config of its own,
  // the gateway runs with the throttle off.
  let config = opts.config
  if (!config) {
    config = join(dataDir, 'bench.yaml')
    writeFileSync(config, 'http:\n  throttle:\n    maxCalls: 0\n    windowSeconds: 60\n')
  }
  args.push('--config', config)
  // Launched as npm start and the Electron shell launch it: with the core's memory settings.
  const launch = coreLaunch(process.env)
  const child = spawnNode(
    [...launch.execArgv, ...nodeArgs],
    opts.built ? 'dist/cli.js' : 'src/cli.ts',
    args,
    launch.env,
  )
  const removeDirs = () => {
    for (const dir of [dataDir, profileDir]) if (dir) rmSync(dir, { recursive: true, force: true })
  }
  try {
    const httpUrl = `http://127.0.0.1:${httpPort}`
    await waitForHttp(httpUrl, child)
    const headers = await login(httpUrl, join(dataDir, 'first-app.json'))
    // Up to REGISTER_IN_FLIGHT registrations at once (1,000 devices one by one take seconds); devices[i] is
    // still node bench-node-i.
    const devices: DeviceSpec[] = new Array(clients)
    let next = 0
    const registerNext = async () => {
      while (next < clients) {
        const i = next++
        const { deviceId, secret } = await register(httpUrl, headers, `bench-node-${i}`)
        devices[i] = {
          id: deviceId,
          ...deviceCredentials({ id: deviceId, secret }),
          topic: dataTopic(deviceId),
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(REGISTER_IN_FLIGHT, clients) }, registerNext))
    const database = join(dataDir, 'sitegate.db')
    return {
      name: 'sitegate',
      child,
      mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
      devices,
      httpUrl,
      headers,
      dataDir,
      database,
      profileDir,
      stop: () => child.stop(),
      removeDirs,
    }
  } catch (err) {
    await child.stop()
    removeDirs()
    throw err
  }
}

async function login(httpUrl: string, firstAppFile: string): Promise<Record<string, string>> {
  const app = JSON.parse(readFileSync(firstAppFile, 'utf8')) as { appId: string; secret: string }
  const res = await fetch(`${httpUrl}/iocm/app/sec/v1.1.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(app).toString(),
  })
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
  const { accessToken } = (await res.json()) as { accessToken: string }
  return { app_key: app.appId, authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }
}

async function register(httpUrl: string, headers: Record<string, string>, nodeId: string) {
  const res = await fetch(`${httpUrl}/iocm/app/reg/v2.0.0/deviceCredentials`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ deviceInfo: { nodeId }, mqttConnect: true }),
  })
  if (res.status !== 200) throw new Error(`registration failed: ${res.status} ${await res.text()}`)
  return (await res.json()) as { deviceId: string; secret: string }
}
