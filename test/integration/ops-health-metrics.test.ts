// Observability (issue 10 item 5): /healthz and /readyz for supervisors, Prometheus /metrics, against a real
// gateway (real aedes over TCP, real SQLite file, real HTTP) with mqtt.js devices.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  connectDevice,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { openSerialSite, type SerialSite, waitForSlave } from '../helpers/serial-site.ts'

/** The value of one series of a Prometheus text exposition; undefined when absent. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4])
  }
  return undefined
}

async function scrape(httpUrl: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${httpUrl}/metrics`, { headers })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

describe('health, readiness and metrics', () => {
  let gw: RunningGateway
  let session: AppSession
  let device: { deviceId: string; secret: string }
  let client: MqttClient

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    device = await registerDevice(gw.httpUrl, session, 'dust-metrics')
    client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
  })
  afterAll(async () => {
    client?.end(true)
    await gw?.stop()
    removeDir(gw.dataDir)
  })

  it('GET /healthz answers without credentials', async () => {
    const res = await fetch(`${gw.httpUrl}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok' })
  })

  it('GET /readyz answers 200 with every part ready, without credentials', async () => {
    const res = await fetch(`${gw.httpUrl}/readyz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      ready: true,
      notReady: [],
      checks: { gateway: 'ok', store: 'ok', ingestWriter: 'ok', broker: 'ok', http: 'ok' },
    })
  })

  it('GET /metrics counts device messages, batches, latency, outbox lanes, connections and REST routes', async () => {
    for (let i = 0; i < 5; i++) {
      await publishAcked(
        client,
        dataTopic(device.deviceId),
        deviceReq([{ serviceId: 'Dust', serviceData: { pm25: 30 + i } }]),
      )
    }
    const shadow = await callApi(
      gw.httpUrl,
      session,
      'GET',
      `/iocm/app/shadow/v1.5.0/devices/${device.deviceId}`,
    )
    expect(shadow.status).toBe(200)

    const { status, type, text } = await scrape(gw.httpUrl)
    expect(status).toBe(200)
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(series(text, 'sitegate_mqtt_connections')).toBe(1)
    expect(series(text, 'sitegate_mqtt_messages_received_total')).toBe(5)
    expect(series(text, 'sitegate_ingest_latency_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(series(text, 'sitegate_commit_batch_size_sum')).toBeGreaterThanOrEqual(5)
    // No upstream configured: telemetry waits in its lane (one outbox row per device per batch).
    expect(series(text, 'sitegate_outbox_records', { lane: 'telemetry' })).toBeGreaterThanOrEqual(1)
    expect(series(text, 'sitegate_outbox_records', { lane: 'shadow' })).toBe(1)
    expect(series(text, 'sitegate_outbox_dropped_records_total', { lane: 'telemetry' })).toBe(0)
    // No `xmpp:` in this gateway's config: the safety-call session is disabled, and says so.
    expect(series(text, 'sitegate_xmpp_state', { state: 'disabled' })).toBe(1)
    expect(series(text, 'sitegate_xmpp_state', { state: 'online' })).toBe(0)
    expect(series(text, 'sitegate_upstream_enabled')).toBe(0)
    expect(series(text, 'sitegate_devices', { status: 'ONLINE' })).toBe(1)
    expect(series(text, 'sitegate_history_records', { history: 'telemetry' })).toBeGreaterThanOrEqual(1)
    // REST latency by route pattern, not by URL (no deviceId in a label).
    expect(
      series(text, 'sitegate_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/iocm/app/shadow/v1.5.0/devices/:deviceId',
        status_code: '200',
      }),
    ).toBe(1)
    expect(text).not.toContain(device.deviceId)
    // Process metrics (prom-client defaults).
    expect(series(text, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(series(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0)
  })

  it('counts cameras by status', async () => {
    const res = await callApi<{ deviceId: string }>(
      gw.httpUrl,
      session,
      'POST',
      '/iocm/app/reg/v2.0.0/deviceCredentials',
      {
        deviceInfo: { nodeId: 'CAM-METRICS-1', name: 'gate camera', deviceType: 'Camera' },
        mqttConnect: true,
      },
    )
    expect(res.status).toBe(200)
    const { text } = await scrape(gw.httpUrl)
    const byStatus = ['ONLINE', 'OFFLINE', 'INACTIVE'].map(
      (status) => series(text, 'sitegate_cameras', { status }) ?? 0,
    )
    expect(byStatus.reduce((a, b) => a + b, 0)).toBe(1)
    expect(series(text, 'sitegate_cameras', { status: 'ONLINE' })).toBe(0)
  })

  it('GET /sitegate/v1/process shows the heap of each running thread', async () => {
    const res = await callApi<{
      memory: { rss: number }
      heaps: Record<'main' | 'ingestWriter', { usedBytes: number; physicalBytes: number } | null>
    }>(gw.httpUrl, session, 'GET', '/sitegate/v1/process')
    expect(res.status).toBe(200)
    const { main, ingestWriter } = res.body.heaps
    for (const heap of [main, ingestWriter]) {
      expect(heap!.usedBytes).toBeGreaterThan(1_000_000)
      expect(heap!.physicalBytes).toBeGreaterThanOrEqual(heap!.usedBytes * 0.5)
      expect(heap!.physicalBytes).toBeLessThan(res.body.memory.rss)
    }
    // Two isolates, two heaps: the writer's is not the main thread's figure again.
    expect(ingestWriter).not.toEqual(main)
  })

  it('/readyz answers 503 naming the writer thread, then the broker, when they stop', async () => {
    await gw.gateway.ingest.close()
    const writerDown = await waitFor(async () => {
      const res = await fetch(`${gw.httpUrl}/readyz`)
      return res.status === 503
        ? ((await res.json()) as { notReady: string[]; checks: Record<string, string> })
        : undefined
    }, 'readyz 503')
    expect(writerDown.notReady).toEqual(['ingestWriter'])
    expect(writerDown.checks.ingestWriter).toBe('the writer thread is not running')
    client.end(true)
    await gw.gateway.broker.stop()
    const res = await fetch(`${gw.httpUrl}/readyz`)
    expect(res.status).toBe(503)
    expect(((await res.json()) as { notReady: string[] }).notReady).toEqual(['ingestWriter', 'broker'])
    // Liveness is not readiness: the process still answers.
    expect((await fetch(`${gw.httpUrl}/healthz`)).status).toBe(200)
  })
})

describe('metrics access', () => {
  let gw: RunningGateway
  let session: AppSession
  const token = 'scraper-token-0123456789abcdef'

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.metrics = { enabled: true, access: 'credentials', token }
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterAll(async () => {
    await gw?.stop()
    removeDir(gw.dataDir)
  })

  it('with access "credentials", refuses a scrape without credentials in the platform error format', async () => {
    const res = await scrape(gw.httpUrl)
    expect(res.status).toBe(401)
    expect(JSON.parse(res.text)).toMatchObject({ error_code: '100025' })
    const wrong = await scrape(gw.httpUrl, { authorization: 'Bearer not-the-token', app_key: session.appId })
    expect(wrong.status).toBe(403)
    expect(JSON.parse(wrong.text)).toMatchObject({ error_code: '1010005' })
  })

  it('accepts the configured scraper token or an application login', async () => {
    expect((await scrape(gw.httpUrl, { authorization: `Bearer ${token}` })).status).toBe(200)
    const asApp = await scrape(gw.httpUrl, {
      app_key: session.appId,
      authorization: session.headers.authorization!,
    })
    expect(asApp.status).toBe(200)
    expect(asApp.text).toContain('sitegate_mqtt_connections 0')
  })

  it('health and readiness stay open', async () => {
    expect((await fetch(`${gw.httpUrl}/healthz`)).status).toBe(200)
    expect((await fetch(`${gw.httpUrl}/readyz`)).status).toBe(200)
  })
})

describe('metrics turned off', () => {
  it('answers 404 on /metrics when metrics.enabled is false', async () => {
    const gw = await startGateway({
      config: (c) => {
        c.metrics.enabled = false
      },
    })
    try {
      expect((await fetch(`${gw.httpUrl}/metrics`)).status).toBe(404)
      expect((await fetch(`${gw.httpUrl}/readyz`)).status).toBe(200)
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })
})

describe.runIf(requireProgram('socat'))('serial metrics', () => {
  let site: SerialSite

  beforeAll(async () => {
    site = await openSerialSite(
      {
        baudRate: 19200,
        slaves: [
          {
            unitId: 3,
            nodeId: 'dust-3',
            serviceId: 'Dust',
            pollMs: 100,
            timeoutMs: 200,
            points: [{ name: 'pm25', function: 'holding', address: 0 }],
          },
          {
            unitId: 9,
            nodeId: 'absent-9',
            serviceId: 'Gas',
            pollMs: 100,
            timeoutMs: 100,
            retries: 0,
            quarantineAfter: 2,
            points: [{ name: 'co', function: 'holding', address: 0 }],
          },
        ],
      },
      {
        setup: (sim) => {
          sim.unit(3).holding[0] = 17
        },
      },
    )
    await waitForSlave(site, 3, 'slave 3 online', (s) => s.state === 'online')
    await waitForSlave(site, 9, 'slave 9 quarantined', (s) => s.state === 'quarantined')
  })
  afterAll(async () => {
    await site?.close()
  })

  it('exports the port state, its counters and each slave state, as GET /sitegate/v1/serial reports them', async () => {
    const path = site.pty.gatewayPath
    const { text } = await scrape(site.gw.httpUrl)
    expect(series(text, 'sitegate_serial_port_state', { port: path, state: 'open' })).toBe(1)
    expect(series(text, 'sitegate_serial_port_state', { port: path, state: 'closed' })).toBe(0)
    expect(series(text, 'sitegate_serial_slave_state', { port: path, unit: '3', state: 'online' })).toBe(1)
    expect(series(text, 'sitegate_serial_slave_state', { port: path, unit: '9', state: 'quarantined' })).toBe(
      1,
    )
    expect(series(text, 'sitegate_serial_requests_total', { port: path })).toBeGreaterThan(0)
    expect(series(text, 'sitegate_serial_timeouts_total', { port: path })).toBeGreaterThanOrEqual(2)
  })
})
