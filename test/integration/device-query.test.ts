// Batch device query (spec §5.2) over real HTTP: filters, sort, paging and its errors.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  connectDevice,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { waitFor } from '../helpers/mqtt.ts'

interface Page {
  totalCount: number
  pageNo: number
  pageSize: number
  devices: { deviceId: string; deviceInfo: Record<string, unknown> }[]
  error_code?: string
}

describe('GET /iocm/app/dm/v1.4.0/devices (§5.2)', () => {
  let gw: RunningGateway
  let session: AppSession
  const ids: string[] = []
  let online: MqttClient

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    // Six devices registered in order; even ones are sensors on level 1, odd ones cameras on level 2.
    for (let i = 0; i < 6; i++) {
      const d = await registerDevice(gw.httpUrl, session, `query-node-${i}`)
      ids.push(d.deviceId)
      await callApi(gw.httpUrl, session, 'PUT', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`, {
        deviceType: i % 2 === 0 ? 'Sensor' : 'Camera',
        location: `level ${1 + (i % 2)}`,
        name: `unit-${i}`,
      })
      if (i === 3) online = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
      // Registration times one millisecond apart at least, so the order is the registration order.
      await new Promise((r) => setTimeout(r, 2))
    }
    await waitFor(
      async () => (await query('pageNo=0&status=ONLINE')).body.totalCount === 1,
      'device 3 ONLINE',
    )
  })
  afterAll(async () => {
    online.end(true)
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const query = (q: string) => callApi<Page>(gw.httpUrl, session, 'GET', `/iocm/app/dm/v1.4.0/devices?${q}`)
  const idsOf = (page: Page) => page.devices.map((d) => ids.indexOf(d.deviceId))

  it('newest first by default, 25 per page, each device as §5.1 shows it', async () => {
    const res = await query('pageNo=0')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ totalCount: 6, pageNo: 0, pageSize: 25 })
    expect(idsOf(res.body)).toEqual([5, 4, 3, 2, 1, 0])
    const one = await callApi(gw.httpUrl, session, 'GET', `/iocm/app/dm/v1.4.0/devices/${ids[5]}`)
    expect(res.body.devices[0]).toEqual(one.body)
  })

  it('sort=ASC and paging', async () => {
    expect(idsOf((await query('pageNo=0&sort=ASC')).body)).toEqual([0, 1, 2, 3, 4, 5])
    const page = await query('pageNo=1&pageSize=4&sort=ASC')
    expect(page.body).toMatchObject({ totalCount: 6, pageNo: 1, pageSize: 4 })
    expect(idsOf(page.body)).toEqual([4, 5])
  })

  it.each([
    ['deviceType=Camera', [5, 3, 1]],
    ['location=level%201', [4, 2, 0]],
    ['name=unit-2', [2]],
    ['status=ONLINE', [3]],
    ['nodeType=ENDPOINT&deviceType=Sensor&location=level%201', [4, 2, 0]],
    ['nodeType=GATEWAY', []],
  ])('filter %s', async (filter, expected) => {
    const res = await query(`pageNo=0&${filter}`)
    expect(idsOf(res.body)).toEqual(expected)
    expect(res.body.totalCount).toBe(expected.length)
  })

  it('gatewayId alone is enough (no pageNo), and returns that gateway’s devices', async () => {
    const res = await query(`gatewayId=${ids[2]}`)
    expect(res.status).toBe(200)
    expect(idsOf(res.body)).toEqual([2])
  })

  it.each([
    ['neither gatewayId nor pageNo', 'pageSize=5', '100218'],
    ['pageSize 251', 'pageNo=0&pageSize=251', '100216'],
    ['pageSize 0', 'pageNo=0&pageSize=0', '100216'],
    ['status unknown', 'pageNo=0&status=BROKEN', '100216'],
    ['sort sideways', 'pageNo=0&sort=UP', '100216'],
    ['startTime not in platform form', 'pageNo=0&startTime=yesterday', '100216'],
  ])('%s → 400 %s', async (_what, q, code) => {
    const res = await query(q)
    expect(res.status).toBe(400)
    expect(res.body.error_code).toBe(code)
  })
})
