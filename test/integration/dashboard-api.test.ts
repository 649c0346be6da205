// The dashboard's side of the core over real HTTP: static files with their CSP, the event stream's one-time
// tickets, events reaching only their application's dashboards, the overview and the settings validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, deviceOptions, openDevice, publishAcked } from '../helpers/mqtt.ts'

/** Reads server-sent events from a real HTTP stream until `until` says stop (or the time is up). */
async function readEvents(
  url: string,
  until: (events: { event: string; data: unknown }[]) => boolean,
  timeoutMs = 10_000,
  onHello: () => void = () => {},
): Promise<{ event: string; data: unknown }[]> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), timeoutMs)
  const events: { event: string; data: unknown }[] = []
  try {
    const res = await fetch(url, { signal: abort.signal })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.+)$/m.exec(block)?.[1]
        const data = /^data: (.+)$/m.exec(block)?.[1]
        if (event && data) events.push({ event, data: JSON.parse(data) })
        if (event === 'hello') onHello()
        end = buffer.indexOf('\n\n')
      }
      if (until(events)) break
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  } finally {
    clearTimeout(timer)
    abort.abort()
  }
  return events
}

describe('dashboard endpoints', () => {
  let gw: RunningGateway
  let a: AppSession
  let b: AppSession

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.apps = [{ appId: 'other-app', secret: 'other-secret-1' }]
      },
    })
    b = await login(gw.httpUrl, { appId: 'other-app', secret: 'other-secret-1' })
    // The first application is created only when none is configured: make one for "a" through the service.
    const created = await gw.gateway.apps.create('site office', 'cli')
    a = await login(gw.httpUrl, created)
  }, 60_000)
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  it('serves the built dashboard at / with a strict CSP, and its assets; nothing outside assets/', async () => {
    const page = await fetch(`${gw.httpUrl}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*script-src 'self'/)
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    const html = await page.text()
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const js = await fetch(`${gw.httpUrl}${script}`)
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toMatch(/text\/javascript/)
    expect((await fetch(`${gw.httpUrl}/assets/..%2F..%2Fpackage.json`)).status).toBe(404)
    expect((await fetch(`${gw.httpUrl}/assets/missing.js`)).status).toBe(404)
  })

  it('needs the platform credentials for a ticket; a ticket works once', async () => {
    const anonymous = await fetch(`${gw.httpUrl}/sitegate/v1/events/ticket`, { method: 'POST' })
    expect(anonymous.status).toBe(401)
    const { body } = await callApi<{ ticket: string; expiresIn: number }>(
      gw.httpUrl,
      a,
      'POST',
      '/sitegate/v1/events/ticket',
      {},
    )
    expect(body.expiresIn).toBe(30)
    const first = await readEvents(`${gw.httpUrl}/sitegate/v1/events?ticket=${body.ticket}`, (e) =>
      e.some((x) => x.event === 'status'),
    )
    expect(first[0]).toEqual({ event: 'hello', data: { appId: a.appId } })
    const again = await fetch(`${gw.httpUrl}/sitegate/v1/events?ticket=${body.ticket}`)
    expect(again.status).toBe(403)
    expect(await again.json()).toMatchObject({ error_code: '1010005' })
    expect((await fetch(`${gw.httpUrl}/sitegate/v1/events?ticket=made-up`)).status).toBe(403)
  })

  it("streams a device's status and data to its own application's dashboards only", async () => {
    const device = await registerDevice(gw.httpUrl, a, 'feed-meter')
    const ticket = async (s: AppSession) =>
      (await callApi<{ ticket: string }>(gw.httpUrl, s, 'POST', '/sitegate/v1/events/ticket', {})).body.ticket
    const [ta, tb] = [await ticket(a), await ticket(b)]
    let helloA!: () => void
    let helloB!: () => void
    const opened = Promise.all([
      new Promise<void>((r) => (helloA = r)),
      new Promise<void>((r) => (helloB = r)),
    ])
    const forA = readEvents(
      `${gw.httpUrl}/sitegate/v1/events?ticket=${ta}`,
      (e) => e.some((x) => x.event === 'device.reported'),
      10_000,
      () => helloA(),
    )
    // B's stream stays open 3 s, A's device's connect and data included: none of it may reach B.
    const forB = readEvents(
      `${gw.httpUrl}/sitegate/v1/events?ticket=${tb}`,
      () => false,
      3000,
      () => helloB(),
    )
    await opened
    const { client } = await openDevice(
      gw.mqttUrl,
      deviceOptions({ id: device.deviceId, secret: device.secret }),
    )
    await publishAcked(
      client,
      dataTopic(device.deviceId),
      JSON.stringify({ msgType: 'deviceReq', data: [{ serviceId: 'Meter', serviceData: { level: 7 } }] }),
    )
    const eventsA = await forA
    client.end(true)
    expect(eventsA).toContainEqual({
      event: 'device.status',
      data: { deviceId: device.deviceId, status: 'ONLINE' },
    })
    const reported = eventsA.find((e) => e.event === 'device.reported')?.data as {
      deviceId: string
      services: { serviceId: string; data: unknown }[]
    }
    expect(reported.deviceId).toBe(device.deviceId)
    expect(reported.services[0]).toMatchObject({ serviceId: 'Meter', data: { level: 7 } })
    const eventsB = await forB
    expect(eventsB.some((e) => JSON.stringify(e.data).includes(device.deviceId))).toBe(false)
  })

  it('answers the overview for the calling application', async () => {
    const { status, body } = await callApi<{
      devices: { total: number }
      broker: unknown
      sync: { enabled: boolean }
    }>(gw.httpUrl, b, 'GET', '/sitegate/v1/status')
    expect(status).toBe(200)
    expect(body.devices.total).toBe(0)
    expect(body.sync.enabled).toBe(false)
  })

  it('shows the configuration with secrets hidden and checks an edited section', async () => {
    const { body } = await callApi<{
      config: { apps: { secret: string }[] }
      applications: { appId: string }[]
    }>(gw.httpUrl, a, 'GET', '/sitegate/v1/config')
    expect(body.config.apps[0]!.secret).toBe('(hidden)')
    expect(JSON.stringify(body)).not.toContain('other-secret-1')
    expect(body.applications.map((x) => x.appId)).toContain('other-app')
    const validate = (section: string, value: unknown) =>
      callApi(gw.httpUrl, a, 'POST', '/sitegate/v1/config/validate', { section, value })
    // The hidden secret stands for the running one.
    expect((await validate('apps', body.config.apps)).body).toEqual({ valid: true })
    const bad = await validate('upstream', { url: 'http://cloud', profile: 'platform' })
    expect(bad.body).toMatchObject({ valid: false, error: expect.stringMatching(/upstream/) })
    expect((await validate('nonsense', {})).status).toBe(400)
  })
})
