// Every listener kind serves the same gateway: MQTT over TLS (CA pinned) and WebSocket, REST over HTTPS.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  connectDevice,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { requireProgram } from '../helpers/programs.ts'

function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  )
  return { cert, key }
}

function httpsLogin(
  port: number,
  ca: Buffer,
  app: { appId: string; secret: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/iocm/app/sec/v1.1.0/login',
        method: 'POST',
        ca,
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

describe.runIf(requireProgram('openssl'))('TLS and WebSocket listeners', () => {
  let gw: RunningGateway
  let certDir: string
  let ca: Buffer
  const port = (kind: string) => gw.gateway.listeners.find((l) => l.kind === kind)!.port

  beforeAll(async () => {
    certDir = tempDir('sitegate-cert-')
    const tls = selfSignedCert(certDir)
    ca = readFileSync(tls.cert)
    gw = await startGateway({
      config: (c) => {
        c.tls = tls
        c.mqtt.tlsPort = 0
        c.mqtt.wsPort = 0
        c.http.httpsPort = 0
      },
    })
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
    removeDir(certDir)
  })

  it('serves the configured certificate (no self-signed one is made)', () => {
    expect(gw.gateway.tls).toMatchObject({
      source: 'configured',
      certFile: join(certDir, 'cert.pem'),
      fingerprint256: new X509Certificate(ca).fingerprint256,
    })
    expect(existsSync(join(gw.dataDir, 'tls'))).toBe(false)
  })

  it('accepts a device over MQTTS with the CA pinned and over WebSocket', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'gas-meter-7')
    const topic = `/huawei/v1/devices/${device.deviceId}/data/json`
    const overTls = await connectDevice(
      `mqtts://127.0.0.1:${port('mqtts')}`,
      { id: device.deviceId, secret: device.secret },
      { ca },
    )
    await overTls.publishAsync(topic, deviceReq([{ serviceId: 'Gas', serviceData: { co: 3 } }]), { qos: 1 })
    await overTls.endAsync()
    const overWs = await connectDevice(`ws://127.0.0.1:${port('ws')}`, {
      id: device.deviceId,
      secret: device.secret,
    })
    await overWs.publishAsync(topic, deviceReq([{ serviceId: 'Gas', serviceData: { h2s: 0.1 } }]), { qos: 1 })
    await overWs.endAsync()
    expect(JSON.parse(gw.gateway.store.shadows.get(device.deviceId, 'Gas')!.reported_json)).toEqual({
      co: 3,
      h2s: 0.1,
    })
  })

  it('refuses an MQTTS client that does not trust the certificate', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'gas-meter-8')
    await expect(
      connectDevice(`mqtts://127.0.0.1:${port('mqtts')}`, { id: device.deviceId, secret: device.secret }),
    ).rejects.toThrow(/self-signed|certificate/i)
  })

  it('serves the REST API over HTTPS', async () => {
    const res = await httpsLogin(port('https'), ca, firstApp(gw.dataDir))
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({ scope: 'default', expiresIn: 3600 })
  })

  it('answers a request that is not HTTP over TLS as over plain HTTP: 400, then closes', async () => {
    const garbage = 'NOT-HTTP \x00\x01\r\n\r\n'
    const answer = (socket: Socket) =>
      new Promise<string>((resolve, reject) => {
        let text = ''
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1')
        })
        socket.on('close', () => resolve(text))
        socket.on('error', reject)
      })
    const overTls = tlsConnect({ host: '127.0.0.1', port: port('https'), ca }, () => overTls.write(garbage))
    const overTcp = netConnect({ host: '127.0.0.1', port: port('http') }, () => overTcp.write(garbage))
    const [tlsAnswer, tcpAnswer] = await Promise.all([answer(overTls), answer(overTcp)])
    expect(tcpAnswer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\n\{/)
    expect(tlsAnswer).toBe(tcpAnswer)
  })
})

describe.runIf(requireProgram('openssl'))('HTTPS with the HTTP listener off', () => {
  it('serves the API over HTTPS alone', async () => {
    const certDir = tempDir('sitegate-cert-')
    const tls = selfSignedCert(certDir)
    const gw = await startGateway({
      config: (c) => {
        c.tls = tls
        c.http.port = false
        c.http.httpsPort = 0
      },
    })
    try {
      expect(gw.gateway.listeners.map((l) => l.kind)).not.toContain('http')
      const https = gw.gateway.listeners.find((l) => l.kind === 'https')!
      const res = await httpsLogin(https.port, readFileSync(tls.cert), firstApp(gw.dataDir))
      expect(res.status).toBe(200)
      expect(gw.gateway.ops.ready()).toMatchObject({ ready: true, checks: { http: 'ok' } })
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
      removeDir(certDir)
    }
  })
})
