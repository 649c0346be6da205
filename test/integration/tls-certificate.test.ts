// TLS with no certificate configured: the gateway makes a self-signed one on first start, keeps it in the data
// directory and logs its fingerprint; devices pin it (MQTTS with the certificate as CA), and so do HTTPS clients.
import { execFile, spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import selfsigned from 'selfsigned'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { deviceCredentials } from '../../src/broker/credentials.ts'
import type { GatewayConfig } from '../../src/config/schema.ts'
import {
  connectDevice,
  deviceReq,
  firstApp,
  login,
  ROOT,
  type RunningGateway,
  registerDevice,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { requireProgram } from '../helpers/programs.ts'

// Each CLI start runs node + tsx (about 2 s of CPU); the first one also makes an RSA key.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 })

const run = promisify(execFile)
const dirs: string[] = []
const newDir = (prefix: string) => {
  const d = tempDir(prefix)
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

/** The environment without any SITEGATE_* the runner may have. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SITEGATE_')) env[k] = v
  return env
}

/** POST login over HTTPS, trusting `ca` only. */
function httpsLogin(
  port: number,
  ca: Buffer,
  app: { appId: string; secret: string },
  host = '127.0.0.1',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path: '/iocm/app/sec/v1.1.0/login',
        method: 'POST',
        ca,
        rejectUnauthorized: true,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => {
          body += c.toString()
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end(new URLSearchParams(app).toString())
  })
}

/** A certificate of another issuer: a client that pins it must refuse the gateway. */
async function otherCa(): Promise<Buffer> {
  const other = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  })
  return Buffer.from(other.cert)
}

const ALL_PORTS_FREE = [
  ...['--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0'],
  ...['--mqtts-port', '0', '--ws-port', '0', '--https-port', '0'],
]

/** The JSON log lines of a spawned gateway. */
function logLines(g: SpawnedGateway): { msg?: string; level?: number; [k: string]: unknown }[] {
  return g
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string })
}

async function terminate(g: SpawnedGateway): Promise<void> {
  g.child.kill('SIGTERM')
  expect(await g.exited).toEqual({ code: 0, signal: null })
}

describe('sitegate start without tls.cert/tls.key', () => {
  const dataDir = newDir('sitegate-tls-cli-')
  const certFile = join(dataDir, 'tls', 'cert.pem')
  const keyFile = join(dataDir, 'tls', 'key.pem')
  let firstFingerprint = ''

  it('a first start makes the certificate in DATA_DIR/tls (key 0600, dir 0700) and logs its SHA-256 fingerprint', async () => {
    const g = await spawnGateway(['--data-dir', dataDir, ...ALL_PORTS_FREE], cleanEnv())
    try {
      expect(statSync(join(dataDir, 'tls')).mode & 0o777).toBe(0o700)
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      const x509 = new X509Certificate(readFileSync(certFile))
      firstFingerprint = x509.fingerprint256
      expect(firstFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
      // Valid for the names a LAN client uses, for years.
      expect(x509.subjectAltName).toContain('DNS:localhost')
      expect(x509.subjectAltName).toContain('IP Address:127.0.0.1')
      if (/^[a-z0-9.-]+$/i.test(hostname()))
        expect(x509.subjectAltName).toContain(`DNS:${hostname().toLowerCase()}`)
      expect(Date.parse(x509.validTo) - Date.now()).toBeGreaterThan(5 * 365 * 24 * 3600 * 1000)
      expect(x509.ca).toBe(false)
      // The listening line carries it, and a line of its own says it was made.
      expect(g.listening.tls).toEqual({ certFile, fingerprint256: firstFingerprint })
      const listening = logLines(g).find((l) => l.msg?.includes('sitegate listening'))
      expect(listening?.msg).toContain(firstFingerprint)
      const made = logLines(g).find((l) => l.msg?.includes('created a self-signed TLS certificate'))
      expect(made).toMatchObject({ fingerprint256: firstFingerprint, certFile, source: 'created' })
      expect(g.listening.listeners.map((l) => l.kind).sort()).toEqual([
        'http',
        'https',
        'mqtt',
        'mqtts',
        'ws',
      ])
    } finally {
      await terminate(g)
    }
  })

  it('a second start keeps the same certificate', async () => {
    expect(firstFingerprint).not.toBe('')
    const before = readFileSync(keyFile)
    const g = await spawnGateway(['--data-dir', dataDir, ...ALL_PORTS_FREE], cleanEnv())
    try {
      expect(g.listening.tls?.fingerprint256).toBe(firstFingerprint)
      expect(readFileSync(keyFile)).toEqual(before)
      expect(logLines(g).some((l) => l.msg?.includes('created a self-signed'))).toBe(false)
      const kept = logLines(g).find((l) => l.source === 'kept')
      expect(kept?.msg).toContain(firstFingerprint)
      // HTTPS serves the kept certificate: a client pinning the file logs in.
      const https = g.listening.listeners.find((l) => l.kind === 'https')!.port
      const res = await httpsLogin(https, readFileSync(certFile), firstApp(dataDir))
      expect(res.status).toBe(200)
    } finally {
      await terminate(g)
    }
  })

  it.runIf(requireProgram('mosquitto_pub'))(
    'mosquitto_pub (OpenSSL) publishes over MQTTS with --cafile the kept certificate',
    async () => {
      const g = await spawnGateway(['--data-dir', dataDir, ...ALL_PORTS_FREE], cleanEnv())
      try {
        const httpUrl = `http://127.0.0.1:${g.httpPort}`
        const session = await login(httpUrl, firstApp(dataDir))
        const device = await registerDevice(httpUrl, session, 'mqtts-mosquitto-1')
        const creds = deviceCredentials({ id: device.deviceId, secret: device.secret })
        const mqtts = g.listening.listeners.find((l) => l.kind === 'mqtts')!.port
        const pub = (ca: string) =>
          run('mosquitto_pub', [
            ...['-h', '127.0.0.1', '-p', String(mqtts), '-V', 'mqttv311', '-q', '1', '--cafile', ca],
            ...['-i', creds.clientId, '-u', creds.username, '-P', creds.password],
            ...['-t', `/huawei/v1/devices/${device.deviceId}/data/json`],
            ...['-m', deviceReq([{ serviceId: 'Wind', serviceData: { speed: 4 } }])],
          ])
        await pub(certFile)
        const shadow = await fetch(`${httpUrl}/iocm/app/shadow/v1.5.0/devices/${device.deviceId}`, {
          headers: session.headers,
        })
        expect(JSON.stringify(await shadow.json())).toContain('"speed":4')
        // Another CA: the handshake fails.
        const other = join(dataDir, 'other-ca.pem')
        writeFileSync(other, await otherCa())
        await expect(pub(other)).rejects.toThrow()
      } finally {
        await terminate(g)
      }
    },
  )

  it.each([
    ['a certificate file that does not exist', 'missing', 'tls.cert'],
    ['a certificate file that is not a certificate', 'junk-cert', 'tls.cert'],
    ['a key file that is not a key', 'junk-key', 'tls.key'],
    ['the key of another certificate', 'other-key', 'tls.key'],
  ])(
    'tls.cert/tls.key configured with %s: exit 2 naming the key, nothing created',
    async (_what, fault, key) => {
      const d = newDir('sitegate-tls-bad-')
      const good = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
        algorithm: 'sha256',
      })
      const other = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
        algorithm: 'sha256',
      })
      const cert = join(d, 'cert.pem')
      const keyFile = join(d, 'key.pem')
      writeFileSync(cert, fault === 'junk-cert' ? 'not a certificate\n' : good.cert)
      writeFileSync(
        keyFile,
        fault === 'junk-key' ? 'not a key\n' : fault === 'other-key' ? other.private : good.private,
      )
      const config = join(d, 'sitegate.yaml')
      writeFileSync(
        config,
        `tls:\n  cert: ${fault === 'missing' ? join(d, 'nope.pem') : cert}\n  key: ${keyFile}\n`,
      )
      const result = await startCli(['--config', config, '--data-dir', join(d, 'data'), ...ALL_PORTS_FREE])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`${key}:`)
      // It stopped before touching the data directory.
      expect(existsSync(join(d, 'data'))).toBe(false)
    },
  )
})

/** `sitegate start ARGS` expected to fail: its exit code and stderr (killed after 30 s if it does not). */
function startCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', ...args], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })
}

describe('devices and applications pin the self-signed certificate', () => {
  let gw: RunningGateway
  let ca: Buffer
  const port = (kind: string) => gw.gateway.listeners.find((l) => l.kind === kind)!.port

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.mqtt.tlsPort = 0
        c.mqtt.wsPort = 0
        c.http.httpsPort = 0
      },
    })
    ca = readFileSync(join(gw.dataDir, 'tls', 'cert.pem'))
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  it('the gateway serves the certificate it made', () => {
    expect(gw.gateway.tls).toMatchObject({
      source: 'created',
      certFile: join(gw.dataDir, 'tls', 'cert.pem'),
      fingerprint256: new X509Certificate(ca).fingerprint256,
    })
  })

  it('an mqtt.js device connects over MQTTS with the certificate as its only CA and its deviceReq is stored', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'mqtts-pinned-1')
    const client = await connectDevice(
      `mqtts://127.0.0.1:${port('mqtts')}`,
      { id: device.deviceId, secret: device.secret },
      { ca, rejectUnauthorized: true },
    )
    await client.publishAsync(
      `/huawei/v1/devices/${device.deviceId}/data/json`,
      deviceReq([{ serviceId: 'Noise', serviceData: { dB: 71 } }]),
      { qos: 1 },
    )
    await client.endAsync()
    // PUBACK came after the commit: the shadow has it now.
    const row = gw.gateway.store.shadows.get(device.deviceId, 'Noise')
    expect(JSON.parse(row?.reported_json ?? '{}')).toEqual({ dB: 71 })
    expect(gw.gateway.store.telemetry.countForDevice(device.deviceId)).toBe(1)
  })

  it('the certificate names localhost too: a client connecting by that name checks it', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'mqtts-pinned-2')
    const client = await connectDevice(
      `mqtts://localhost:${port('mqtts')}`,
      { id: device.deviceId, secret: device.secret },
      { ca, rejectUnauthorized: true, servername: 'localhost', host: '127.0.0.1' },
    )
    await client.endAsync()
  })

  it('a device that pins another CA is refused at the handshake, before CONNECT', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'mqtts-pinned-3')
    await expect(
      connectDevice(
        `mqtts://127.0.0.1:${port('mqtts')}`,
        { id: device.deviceId, secret: device.secret },
        { ca: await otherCa(), rejectUnauthorized: true },
      ),
    ).rejects.toThrow(/self.signed|certificate|verify/i)
    expect(gw.gateway.store.telemetry.countForDevice(device.deviceId)).toBe(0)
  })

  it('HTTPS: login with the certificate pinned; refused with another CA', async () => {
    const res = await httpsLogin(port('https'), ca, firstApp(gw.dataDir))
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({ scope: 'default', expiresIn: 3600 })
    await expect(httpsLogin(port('https'), await otherCa(), firstApp(gw.dataDir))).rejects.toThrow(
      /self.signed|certificate|verify/i,
    )
  })

  it('MQTT over WebSocket', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'ws-device-1')
    const client = await connectDevice(`ws://127.0.0.1:${port('ws')}`, {
      id: device.deviceId,
      secret: device.secret,
    })
    await client.publishAsync(
      `/huawei/v1/devices/${device.deviceId}/data/json`,
      deviceReq([{ serviceId: 'Dust', serviceData: { pm10: 40 } }]),
      { qos: 1 },
    )
    await client.endAsync()
    expect(JSON.parse(gw.gateway.store.shadows.get(device.deviceId, 'Dust')!.reported_json)).toEqual({
      pm10: 40,
    })
  })
})

describe('each listener can be disabled with false', () => {
  // One data dir for all: the first start makes the certificate, the others keep it.
  const dataDir = newDir('sitegate-tls-off-')
  const ALL = ['http', 'https', 'mqtt', 'mqtts', 'ws']
  it.each([
    ['mqtts', (c: GatewayConfig) => (c.mqtt.tlsPort = false)],
    ['ws', (c: GatewayConfig) => (c.mqtt.wsPort = false)],
    ['https', (c: GatewayConfig) => (c.http.httpsPort = false)],
    ['mqtt', (c: GatewayConfig) => (c.mqtt.port = false)],
    ['http', (c: GatewayConfig) => (c.http.port = false)],
  ])('%s: false', async (kind, off) => {
    const gw = await startGateway({
      dataDir,
      config: (c) => {
        c.mqtt.tlsPort = 0
        c.mqtt.wsPort = 0
        c.http.httpsPort = 0
        off(c)
      },
    })
    try {
      expect(gw.gateway.listeners.map((l) => l.kind).sort()).toEqual(ALL.filter((k) => k !== kind))
    } finally {
      await gw.stop()
    }
  })

  it('with MQTTS and HTTPS both off no certificate is made', async () => {
    const gw = await startGateway({ config: (c) => (c.mqtt.wsPort = 0) })
    try {
      expect(gw.gateway.listeners.map((l) => l.kind).sort()).toEqual(['http', 'mqtt', 'ws'])
      expect(gw.gateway.tls).toBeUndefined()
      expect(existsSync(join(gw.dataDir, 'tls'))).toBe(false)
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })
})
