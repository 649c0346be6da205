// Test harness: a real gateway (real SQLite file, real aedes over TCP, real HTTP) on free loopback ports.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { type AuthType, deviceCredentials, type SignType } from '../../src/broker/credentials.ts'
import { validateConfig } from '../../src/config/load.ts'
import { defaultConfig, type GatewayConfig } from '../../src/config/schema.ts'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { createLogger } from '../../src/logger.ts'

export const ROOT = new URL('../../', import.meta.url).pathname

export function tempDir(prefix = 'sitegate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

export interface RunningGateway {
  gateway: Gateway
  dataDir: string
  mqttUrl: string
  httpUrl: string
  mqttPort: number
  httpPort: number
  stop(): Promise<void>
}

/** Starts a gateway in this process on free loopback ports over `dataDir` (a fresh temp dir by default). */
export async function startGateway(
  opts: { dataDir?: string; config?: (c: GatewayConfig) => void } = {},
): Promise<RunningGateway> {
  const dataDir = opts.dataDir ?? tempDir()
  const candidate = defaultConfig()
  candidate.dataDir = dataDir
  candidate.host = '127.0.0.1'
  candidate.mqtt.port = 0
  candidate.http.port = 0
  // Off unless a suite asks for them (with port 0): the defaults 8883, 8083 and 8743 are fixed ports that
  // parallel suites would fight over, and each first start would make a certificate.
  candidate.mqtt.tlsPort = false
  candidate.mqtt.wsPort = false
  candidate.http.httpsPort = false
  candidate.log.level = 'silent'
  // Suites make far more than 100 calls a minute; the §1.5 limit has its own test.
  candidate.http.throttle.maxCalls = 0
  opts.config?.(candidate)
  const gateway = await createGateway(validateConfig(candidate), createLogger(candidate.log.level))
  const listeners = await gateway.start()
  const mqttPort = listeners.find((l) => l.kind === 'mqtt')?.port ?? 0
  const httpPort = listeners.find((l) => l.kind === 'http')?.port ?? 0
  return {
    gateway,
    dataDir,
    mqttPort,
    httpPort,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    stop: () => gateway.stop(),
  }
}

/** The credentials a first start writes to DATA_DIR/first-app.json. */
export function firstApp(dataDir: string): { appId: string; secret: string } {
  return JSON.parse(readFileSync(join(dataDir, 'first-app.json'), 'utf8')) as {
    appId: string
    secret: string
  }
}

export interface AppSession {
  appId: string
  accessToken: string
  headers: Record<string, string>
}

/** Logs the application in over real HTTP and returns headers for authenticated calls. */
export async function login(httpUrl: string, app: { appId: string; secret: string }): Promise<AppSession> {
  const res = await fetch(`${httpUrl}/iocm/app/sec/v1.1.0/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ appId: app.appId, secret: app.secret }).toString(),
  })
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { accessToken: string }
  return {
    appId: app.appId,
    accessToken: body.accessToken,
    headers: {
      app_key: app.appId,
      authorization: `Bearer ${body.accessToken}`,
      'content-type': 'application/json',
    },
  }
}

/** Registers a device in password mode (spec §4.2) and returns deviceId + secret. */
export async function registerDevice(
  httpUrl: string,
  session: AppSession,
  nodeId: string,
  secret?: string,
): Promise<{ deviceId: string; secret: string; nodeId: string }> {
  const res = await fetch(`${httpUrl}/iocm/app/reg/v2.0.0/deviceCredentials`, {
    method: 'POST',
    headers: session.headers,
    body: JSON.stringify({
      deviceInfo: { nodeId, name: nodeId },
      mqttConnect: true,
      ...(secret ? { secret } : {}),
    }),
  })
  if (res.status !== 200) throw new Error(`registration failed: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { deviceId: string; secret: string }
  return { ...body, nodeId }
}

/** Connects an mqtt.js device client; resolves on CONNACK 0, rejects with the CONNACK error otherwise. */
export function connectDevice(
  mqttUrl: string,
  device: { id: string; secret: string; authType?: AuthType; signType?: SignType; now?: number },
  extra: IClientOptions = {},
): Promise<MqttClient> {
  const creds = deviceCredentials(device)
  return connectRaw(mqttUrl, {
    clientId: creds.clientId,
    username: creds.username,
    password: creds.password,
    ...extra,
  })
}

export function connectRaw(mqttUrl: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(mqttUrl, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      protocolVersion: 4,
      ...options,
    })
    client.once('connect', () => resolve(client))
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
  })
}

/** A deviceReq payload (spec device-mqtt.md A.4). */
export function deviceReq(
  services: { serviceId: string; serviceData: Record<string, unknown>; eventTime?: string }[],
): string {
  return JSON.stringify({ msgType: 'deviceReq', data: services })
}

export interface SpawnedGateway {
  child: ChildProcess
  mqttPort: number
  httpPort: number
  /** The "sitegate listening" log line. */
  listening: {
    listeners: { kind: string; port: number }[]
    tls?: { certFile: string; fingerprint256: string }
  }
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** The TLS and WebSocket listeners off: `args` given after these (e.g. `--mqtts-port 0`) win. */
const EXTRA_LISTENERS_OFF = ['--mqtts-port', 'false', '--ws-port', 'false', '--https-port', 'false']

/**
 * Starts the gateway as the user does (`tsx src/cli.ts start …`) in a child process and waits for its
 * "sitegate listening" line. MQTTS, WebSocket and HTTPS are off unless `args` turn them on (with port 0).
 */
export function spawnGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<SpawnedGateway> {
  const argv = ['--import', 'tsx', 'src/cli.ts', 'start', ...EXTRA_LISTENERS_OFF, ...args]
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${out}`)), 30_000)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      for (const line of out.split('\n')) {
        if (!line.includes('sitegate listening')) continue
        const parsed = JSON.parse(line) as SpawnedGateway['listening']
        clearTimeout(timer)
        resolve({
          child,
          listening: parsed,
          mqttPort: parsed.listeners.find((l) => l.kind === 'mqtt')?.port ?? 0,
          httpPort: parsed.listeners.find((l) => l.kind === 'http')?.port ?? 0,
          output: () => out,
          exited,
        })
        return
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    void exited.then(({ code }) => {
      clearTimeout(timer)
      reject(new Error(`gateway exited with ${code} before listening:\n${out}`))
    })
  })
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number
  /** The parsed JSON body; undefined when the response has none. */
  body: T
}

/**
 * Calls the platform REST API as the application. An object body is sent as JSON; a string body as is (to send
 * malformed JSON).
 */
export async function callApi<T = Record<string, unknown>>(
  httpUrl: string,
  session: AppSession,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse<T>> {
  const res = await fetch(`${httpUrl}${path}`, {
    method,
    headers: session.headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.text()
  return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T }
}
