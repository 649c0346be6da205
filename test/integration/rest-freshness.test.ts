// The read API never serves stale state (issue 4 item 8: device views and tokens are cached in memory for
// speed). Each test first reads a device through every view — the shadow query (§4.9), the single device query
// (§5.1) and the batch query (§5.2) — so that whatever is cached is warm, then changes it the way a user does
// (a report over MQTT, a desired PUT, a modify, a nodeId change, a delete, a connect and disconnect, a new login)
// and expects the next read to show the change at once.
import type { MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  connectDevice,
  deviceReq,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, publishAcked, waitFor } from '../helpers/mqtt.ts'

interface ShadowBody {
  deviceId: string
  deviceInfo: Record<string, unknown>
  services: {
    serviceId: string
    reportedProps: Record<string, unknown>
    desiredProps: Record<string, unknown>
  }[]
  error_code?: string
}
interface RecordBody {
  deviceId: string
  deviceInfo: Record<string, unknown>
  services: { serviceId: string; data: Record<string, unknown> }[]
  error_code?: string
}
interface Page {
  totalCount: number
  devices: RecordBody[]
}

/** Two applications from the config file: the second must not see the first one's devices. */
const MAIN_APP = { appId: 'freshness-app', secret: 'freshness-secret-0123456789' }
const OTHER_APP = { appId: 'freshness-other-app', secret: 'freshness-other-secret-0123456789' }

describe('REST reads are fresh after every write (§4.9, §5.1, §5.2)', () => {
  let gw: RunningGateway
  let session: AppSession
  const clients: MqttClient[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => void c.apps.push({ ...MAIN_APP, name: 'Site' }, { ...OTHER_APP, name: 'Other site' }),
    })
    session = await login(gw.httpUrl, MAIN_APP)
  })
  afterEach(() => {
    for (const c of clients.splice(0)) c.end(true)
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  const api = <T>(method: string, path: string, body?: unknown, as = session) =>
    callApi<T>(gw.httpUrl, as, method, path, body)
  const shadow = (id: string) => api<ShadowBody>('GET', `/iocm/app/shadow/v1.5.0/devices/${id}`)
  const record = (id: string) => api<RecordBody>('GET', `/iocm/app/dm/v1.4.0/devices/${id}`)
  const page = (q = '') => api<Page>('GET', `/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=250${q}`)
  const inPage = async (id: string, q = '') => (await page(q)).body.devices.find((d) => d.deviceId === id)

  const device = async () => {
    n += 1
    return registerDevice(gw.httpUrl, session, `fresh-node-${n}`)
  }
  const connect = async (d: { deviceId: string; secret: string }) => {
    const client = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    clients.push(client)
    return client
  }
  /** Reads the device through all three views, twice (whatever a cache keeps is now warm). */
  const warm = async (id: string) => {
    for (let i = 0; i < 2; i++) {
      expect((await shadow(id)).status).toBe(200)
      expect((await record(id)).status).toBe(200)
      expect(await inPage(id)).toBeDefined()
    }
  }

  it('a report over MQTT shows in every view as soon as its PUBACK arrives', async () => {
    const d = await device()
    const client = await connect(d)
    await warm(d.deviceId)
    for (let i = 1; i <= 5; i++) {
      await publishAcked(
        client,
        dataTopic(d.deviceId),
        deviceReq([{ serviceId: 'Environment', serviceData: { temperature: 20 + i, step: i } }]),
      )
      const s = (await shadow(d.deviceId)).body
      expect(s.services.find((v) => v.serviceId === 'Environment')?.reportedProps).toEqual({
        temperature: 20 + i,
        step: i,
      })
      expect((await record(d.deviceId)).body.services[0]?.data).toEqual({ temperature: 20 + i, step: i })
      expect((await inPage(d.deviceId))?.services[0]?.data).toEqual({ temperature: 20 + i, step: i })
    }
    // A second service appears beside the first.
    await publishAcked(
      client,
      dataTopic(d.deviceId),
      deviceReq([{ serviceId: 'Battery', serviceData: { batteryLevel: 80 } }]),
    )
    expect((await shadow(d.deviceId)).body.services.map((v) => v.serviceId)).toEqual([
      'Battery',
      'Environment',
    ])
    expect((await record(d.deviceId)).body.services.map((v) => v.serviceId)).toEqual([
      'Battery',
      'Environment',
    ])
  })

  it('a desired PUT shows in the shadow as soon as it is answered', async () => {
    const d = await device()
    await warm(d.deviceId)
    for (const [desired, merged] of [
      [{ target: 18 }, { target: 18 }],
      [{ mode: 'eco' }, { target: 18, mode: 'eco' }],
      [{ target: 21 }, { target: 21, mode: 'eco' }],
    ] as const) {
      const put = await api('PUT', `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`, {
        serviceDesireds: [{ serviceId: 'Climate', desired }],
      })
      expect(put.status).toBe(200)
      const s = (await shadow(d.deviceId)).body
      expect(s.services.find((v) => v.serviceId === 'Climate')?.desiredProps).toEqual(merged)
    }
  })

  it('a modify (§4.4) shows in every view at once, and the batch filters see it', async () => {
    const d = await device()
    await warm(d.deviceId)
    const put = await api('PUT', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`, {
      name: `renamed-${n}`,
      location: 'level 7',
      imsi: '460001234567890',
    })
    expect(put.status).toBe(204)
    expect((await shadow(d.deviceId)).body.deviceInfo).toMatchObject({
      name: `renamed-${n}`,
      location: 'level 7',
    })
    expect((await record(d.deviceId)).body.deviceInfo).toMatchObject({
      name: `renamed-${n}`,
      location: 'level 7',
    })
    const hit = await inPage(d.deviceId, `&name=renamed-${n}`)
    expect(hit?.deviceInfo).toMatchObject({ name: `renamed-${n}`, location: 'level 7' })
    // select=imsi (§5.1, §5.2) is a view of its own: it shows the new imsi too.
    const withImsi = await api<RecordBody>('GET', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}?select=imsi`)
    expect(withImsi.body.deviceInfo.imsi).toBe('460001234567890')
    expect((await inPage(d.deviceId, '&select=imsi'))?.deviceInfo.imsi).toBe('460001234567890')
    expect((await record(d.deviceId)).body.deviceInfo).not.toHaveProperty('imsi')
  })

  it('a connect and a disconnect change the status every view shows', async () => {
    const d = await device()
    await warm(d.deviceId)
    expect((await shadow(d.deviceId)).body.deviceInfo.status).toBe('INACTIVE')
    const client = await connect(d)
    await waitFor(async () => (await shadow(d.deviceId)).body.deviceInfo.status === 'ONLINE', 'ONLINE')
    expect((await record(d.deviceId)).body.deviceInfo.status).toBe('ONLINE')
    expect((await inPage(d.deviceId, '&status=ONLINE'))?.deviceInfo.status).toBe('ONLINE')
    client.end(true)
    await waitFor(async () => (await shadow(d.deviceId)).body.deviceInfo.status === 'OFFLINE', 'OFFLINE')
    expect((await record(d.deviceId)).body.deviceInfo.status).toBe('OFFLINE')
    expect((await inPage(d.deviceId))?.deviceInfo.status).toBe('OFFLINE')
  })

  it('a new nodeId (§4.3) shows at once', async () => {
    const d = await device()
    const client = await connect(d)
    await waitFor(async () => (await shadow(d.deviceId)).body.deviceInfo.status === 'ONLINE', 'ONLINE')
    client.end(true)
    await waitFor(async () => (await shadow(d.deviceId)).body.deviceInfo.status === 'OFFLINE', 'OFFLINE')
    await warm(d.deviceId)
    const put = await api('PUT', `/iocm/app/reg/v1.1.0/deviceCredentials/${d.deviceId}`, {
      nodeId: `replaced-node-${n}`,
    })
    expect(put.status).toBe(200)
    expect((await shadow(d.deviceId)).body.deviceInfo.nodeId).toBe(`replaced-node-${n}`)
    expect((await record(d.deviceId)).body.deviceInfo.nodeId).toBe(`replaced-node-${n}`)
    expect((await inPage(d.deviceId))?.deviceInfo.nodeId).toBe(`replaced-node-${n}`)
  })

  it('a deleted device is gone from every view at once', async () => {
    const d = await device()
    const client = await connect(d)
    await publishAcked(client, dataTopic(d.deviceId), deviceReq([{ serviceId: 'S', serviceData: { v: 1 } }]))
    await warm(d.deviceId)
    const before = (await page()).body.totalCount
    expect((await api('DELETE', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`)).status).toBe(204)
    const s = await shadow(d.deviceId)
    expect([s.status, s.body.error_code]).toEqual([404, '100418'])
    const r = await record(d.deviceId)
    expect([r.status, r.body.error_code]).toEqual([404, '100403'])
    const after = (await page()).body
    expect(after.totalCount).toBe(before - 1)
    expect(after.devices.some((v) => v.deviceId === d.deviceId)).toBe(false)
  })

  it("another application's device stays 100418 after its owner's reads", async () => {
    const d = await device()
    await warm(d.deviceId)
    const other = await login(gw.httpUrl, OTHER_APP)
    for (let i = 0; i < 2; i++) {
      const s = await api<ShadowBody>(
        'GET',
        `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`,
        undefined,
        other,
      )
      expect([s.status, s.body.error_code]).toEqual([404, '100418'])
      const r = await api<RecordBody>('GET', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`, undefined, other)
      expect([r.status, r.body.error_code]).toEqual([404, '100403'])
      const p = await api<Page>('GET', '/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=250', undefined, other)
      expect(p.body.devices.some((v) => v.deviceId === d.deviceId)).toBe(false)
    }
  })

  it('a new login voids the previous token at once, however recently it was used', async () => {
    const d = await device()
    // This login voids the suite's session; the suite carries on with the last one.
    const first = await login(gw.httpUrl, MAIN_APP)
    session = first
    for (let i = 0; i < 3; i++)
      expect(
        (await api('GET', `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`, undefined, first)).status,
      ).toBe(200)
    const second = await login(gw.httpUrl, MAIN_APP)
    const old = await api<ShadowBody>(
      'GET',
      `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`,
      undefined,
      first,
    )
    expect([old.status, old.body.error_code]).toEqual([403, '1010005'])
    expect(
      (await api('GET', `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`, undefined, second)).status,
    ).toBe(200)
    // A token of the right length that differs in its last character is refused too.
    const token = second.accessToken
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    const wrong = await api<ShadowBody>('GET', `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`, undefined, {
      ...second,
      headers: { ...second.headers, authorization: `Bearer ${forged}` },
    })
    expect([wrong.status, wrong.body.error_code]).toEqual([403, '1010005'])
    session = second
  })

  it('answers JSON with the same content type as every other API', async () => {
    const d = await device()
    for (const path of [
      `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`,
      `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`,
      '/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=5',
    ]) {
      const res = await fetch(`${gw.httpUrl}${path}`, { headers: session.headers })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
      JSON.parse(await res.text())
    }
  })
})
