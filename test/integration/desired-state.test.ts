// Desired state over real sockets (spec §4.8, §4.9, §5.4; device-mqtt.md A.7 "shadow desired"): a PUT is
// stored and merged per service, travels to the device as a queued cloudReq SET_DESIRED carrying the whole desired
// section of that service (now, or when the device connects), and settles when the device reports the values.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parsePlatformTime, toPlatformTime } from '../../src/time.ts'
import {
  type AppSession,
  callApi,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { type AnswerPolicy, type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'

interface HistoryDto {
  serviceId: string
  deviceId: string
  gatewayId: string
  appId: string
  desired: Record<string, unknown>
  timestamp: string
}
interface HistoryPage {
  totalCount: number
  pageNo: number
  pageSize: number
  deviceDesiredHistoryDTOs: HistoryDto[]
}
interface ShadowService {
  serviceId: string
  reportedProps: Record<string, unknown>
  desiredProps: Record<string, unknown>
  eventTime: string | null
  serviceType: string
}

describe('desired state (§4.8, §4.9, §5.4)', () => {
  let gw: RunningGateway
  let session: AppSession
  const sims: SimulatedDevice[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  const device = async () => {
    n += 1
    const d = await registerDevice(gw.httpUrl, session, `desired-node-${n}`)
    return { ...d, login: { id: d.deviceId, secret: d.secret } }
  }
  const online = async (login: { id: string; secret: string }, policy?: AnswerPolicy) => {
    const sim = await simulateDevice(gw.mqttUrl, login, policy)
    sims.push(sim)
    return sim
  }
  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const putDesired = (deviceId: string, serviceDesireds: unknown) =>
    api('PUT', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`, { serviceDesireds })
  const shadowServices = async (deviceId: string) => {
    const res = await api('GET', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`)
    expect(res.status).toBe(200)
    return res.body.services as ShadowService[]
  }
  const history = async (query: Record<string, string | number>) => {
    const qs = new URLSearchParams(
      Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString()
    return api('GET', `/iocm/app/shadow/v1.5.0/deviceDesiredHistory?${qs}`)
  }
  const historyPage = async (query: Record<string, string | number>) => {
    const res = await history(query)
    expect(res.status).toBe(200)
    return res.body as unknown as HistoryPage
  }
  const desiredStatus = (deviceId: string, serviceId: string) =>
    gw.gateway.store.shadows.get(deviceId, serviceId)?.desired_status
  const statusBecomes = (deviceId: string, serviceId: string, status: string) =>
    waitFor(() => desiredStatus(deviceId, serviceId) === status, `desired ${serviceId} ${status}`)
  const report = (sim: SimulatedDevice, deviceId: string, serviceId: string, data: Record<string, unknown>) =>
    publishAcked(sim.client, dataTopic(deviceId), deviceReq([{ serviceId, serviceData: data }]))

  it('PUT answers 200; GET §4.9 shows the desired properties merged per service', async () => {
    const d = await device()
    const first = await putDesired(d.deviceId, [
      { serviceId: 'Temperature', desired: { targetTemperature: 35 } },
    ])
    expect(first).toEqual({ status: 200, body: undefined })
    expect(
      (
        await putDesired(d.deviceId, [
          { serviceId: 'Temperature', desired: { mode: 'eco' } },
          { serviceId: 'Light', desired: { level: 4 } },
        ])
      ).status,
    ).toBe(200)
    // A later value for the same property replaces the earlier one; the others stay.
    expect((await putDesired(d.deviceId, [{ serviceId: 'Light', desired: { level: 5 } }])).status).toBe(200)
    const services = await shadowServices(d.deviceId)
    expect(services).toHaveLength(2)
    expect(services.find((s) => s.serviceId === 'Temperature')).toMatchObject({
      desiredProps: { targetTemperature: 35, mode: 'eco' },
      reportedProps: {},
      serviceType: 'Temperature',
    })
    expect(services.find((s) => s.serviceId === 'Light')).toMatchObject({
      desiredProps: { level: 5 },
      reportedProps: {},
    })
  })

  it('an online device gets cloudReq SET_DESIRED with paras = the whole desired section of the service', async () => {
    const d = await device()
    const sim = await online(d.login)
    await putDesired(d.deviceId, [{ serviceId: 'Temperature', desired: { targetTemperature: 35 } }])
    const [req] = await sim.waitForCommands(1)
    expect(req).toMatchObject({
      msgType: 'cloudReq',
      serviceId: 'Temperature',
      cmd: 'SET_DESIRED',
      paras: { targetTemperature: 35 },
    })
    expect(req!.mid).toBeGreaterThanOrEqual(1)
    // The device accepted it (deviceRsp errcode 0): delivered, not yet settled.
    await statusBecomes(d.deviceId, 'Temperature', 'DELIVERED')
    await putDesired(d.deviceId, [{ serviceId: 'Temperature', desired: { mode: 'eco' } }])
    const [, second] = await sim.waitForCommands(2)
    expect(second).toMatchObject({
      serviceId: 'Temperature',
      cmd: 'SET_DESIRED',
      paras: { targetTemperature: 35, mode: 'eco' },
    })
  })

  it('an offline device gets the desired section once it connects and subscribes', async () => {
    const d = await device()
    await putDesired(d.deviceId, [{ serviceId: 'Valve', desired: { open: true } }])
    expect(desiredStatus(d.deviceId, 'Valve')).toBe('PENDING')
    const sim = await online(d.login)
    const [req] = await sim.waitForCommands(1)
    expect(req).toMatchObject({ serviceId: 'Valve', cmd: 'SET_DESIRED', paras: { open: true } })
    await statusBecomes(d.deviceId, 'Valve', 'DELIVERED')
  })

  it('a second PUT while the first is still PENDING supersedes it: the device gets only the latest merged state', async () => {
    const d = await device()
    await putDesired(d.deviceId, [{ serviceId: 'Fan', desired: { speed: 1 } }])
    await putDesired(d.deviceId, [{ serviceId: 'Fan', desired: { speed: 2, swing: true } }])
    await putDesired(d.deviceId, [{ serviceId: 'Fan', desired: { timer: 30 } }])
    const sim = await online(d.login)
    const [req] = await sim.waitForCommands(1)
    expect(req).toMatchObject({
      serviceId: 'Fan',
      cmd: 'SET_DESIRED',
      paras: { speed: 2, swing: true, timer: 30 },
    })
    // Queued commands go in creation order: a marker sent now arrives right after anything still queued.
    await putDesired(d.deviceId, [{ serviceId: 'Marker', desired: { m: 1 } }])
    await sim.waitForCommands(2)
    expect(sim.received.map((r) => r.serviceId)).toEqual(['Fan', 'Marker'])
  })

  it('the device reporting the desired values settles the desired section', async () => {
    const d = await device()
    const sim = await online(d.login)
    await putDesired(d.deviceId, [
      { serviceId: 'Temperature', desired: { targetTemperature: 35, mode: 'eco' } },
    ])
    await sim.waitForCommands(1)
    await statusBecomes(d.deviceId, 'Temperature', 'DELIVERED')
    // Only part of it reported, or a different value: not settled.
    await report(sim, d.deviceId, 'Temperature', { targetTemperature: 35, current: 30 })
    await report(sim, d.deviceId, 'Temperature', { mode: 'comfort' })
    expect(desiredStatus(d.deviceId, 'Temperature')).toBe('DELIVERED')
    await report(sim, d.deviceId, 'Temperature', { mode: 'eco' })
    expect(desiredStatus(d.deviceId, 'Temperature')).toBe('SETTLED')
    const [service] = await shadowServices(d.deviceId)
    expect(service).toMatchObject({
      desiredProps: { targetTemperature: 35, mode: 'eco' },
      reportedProps: { targetTemperature: 35, current: 30, mode: 'eco' },
    })
    // A new desired value reopens it.
    await putDesired(d.deviceId, [{ serviceId: 'Temperature', desired: { targetTemperature: 20 } }])
    expect(['PENDING', 'DELIVERED']).toContain(desiredStatus(d.deviceId, 'Temperature'))
    await sim.waitForCommands(2)
    await report(sim, d.deviceId, 'Temperature', { targetTemperature: 20 })
    expect(desiredStatus(d.deviceId, 'Temperature')).toBe('SETTLED')
  })

  it('stays settled when the device reports the values before it answers the SET_DESIRED command', async () => {
    const d = await device()
    const sim = await online(d.login, () => 'silent')
    await putDesired(d.deviceId, [{ serviceId: 'Pump', desired: { rate: 7 } }])
    const [req] = await sim.waitForCommands(1)
    await report(sim, d.deviceId, 'Pump', { rate: 7 })
    expect(desiredStatus(d.deviceId, 'Pump')).toBe('SETTLED')
    await publishAcked(
      sim.client,
      dataTopic(d.deviceId),
      JSON.stringify({ msgType: 'deviceRsp', mid: req!.mid, errcode: 0, body: {} }),
    )
    expect(desiredStatus(d.deviceId, 'Pump')).toBe('SETTLED')
  })

  describe('§5.4 history', () => {
    it('records each PUT, newest first, with the desired section it set', async () => {
      const d = await device()
      await putDesired(d.deviceId, [{ serviceId: 'A', desired: { x: 1 } }])
      await putDesired(d.deviceId, [{ serviceId: 'A', desired: { y: 2 } }])
      await putDesired(d.deviceId, [{ serviceId: 'B', desired: { z: 3 } }])
      const page = await historyPage({ deviceId: d.deviceId })
      expect(page).toMatchObject({ totalCount: 3, pageNo: 0, pageSize: 25 })
      expect(page.deviceDesiredHistoryDTOs.map((h) => [h.serviceId, h.desired])).toEqual([
        ['B', { z: 3 }],
        ['A', { x: 1, y: 2 }],
        ['A', { x: 1 }],
      ])
      for (const h of page.deviceDesiredHistoryDTOs) {
        expect(h).toMatchObject({ deviceId: d.deviceId, gatewayId: d.deviceId, appId: session.appId })
        expect(h.timestamp).toMatch(/^\d{8}T\d{6}Z$/)
      }
    })

    it('filters by serviceId and property', async () => {
      const d = await device()
      await putDesired(d.deviceId, [{ serviceId: 'A', desired: { x: 1 } }])
      await putDesired(d.deviceId, [{ serviceId: 'A', desired: { y: 2 } }])
      await putDesired(d.deviceId, [{ serviceId: 'B', desired: { z: 3 } }])
      const byService = await historyPage({ deviceId: d.deviceId, serviceId: 'A' })
      expect(byService.totalCount).toBe(2)
      expect(byService.deviceDesiredHistoryDTOs.map((h) => h.serviceId)).toEqual(['A', 'A'])
      const byProperty = await historyPage({ deviceId: d.deviceId, property: 'y' })
      expect(byProperty.totalCount).toBe(1)
      expect(byProperty.deviceDesiredHistoryDTOs[0]).toMatchObject({
        serviceId: 'A',
        desired: { x: 1, y: 2 },
      })
      expect((await historyPage({ deviceId: d.deviceId, property: 'z', serviceId: 'A' })).totalCount).toBe(0)
      expect((await historyPage({ deviceId: d.deviceId, property: 'nope' })).totalCount).toBe(0)
    })

    it('filters by startTime and endTime', async () => {
      const d = await device()
      await putDesired(d.deviceId, [{ serviceId: 'A', desired: { step: 1 } }])
      const [firstRecord] = (await historyPage({ deviceId: d.deviceId })).deviceDesiredHistoryDTOs
      const firstSecond = parsePlatformTime(firstRecord!.timestamp)!
      // The next change lands two whole seconds later, so a one-second time filter tells them apart.
      await waitFor(() => Date.now() >= firstSecond + 2000, 'two seconds to pass', 5000)
      await putDesired(d.deviceId, [{ serviceId: 'A', desired: { step: 2 } }])
      const between = toPlatformTime(firstSecond + 1000)
      const after = await historyPage({ deviceId: d.deviceId, startTime: between })
      expect(after.deviceDesiredHistoryDTOs.map((h) => h.desired.step)).toEqual([2])
      const before = await historyPage({ deviceId: d.deviceId, endTime: between })
      expect(before.deviceDesiredHistoryDTOs.map((h) => h.desired.step)).toEqual([1])
      const all = await historyPage({
        deviceId: d.deviceId,
        startTime: '20000101T000000Z',
        endTime: toPlatformTime(Date.now() + 60_000),
      })
      expect(all.totalCount).toBe(2)
      expect(
        (await historyPage({ deviceId: d.deviceId, startTime: toPlatformTime(Date.now() + 60_000) }))
          .totalCount,
      ).toBe(0)
      expect(await history({ deviceId: d.deviceId, startTime: '2020-01-01' })).toMatchObject({
        status: 400,
        body: { error_code: '100216' },
      })
    })

    it('pages with pageNo/pageSize 1..250; 0 or 251 → 400 100216', async () => {
      const d = await device()
      for (const v of [1, 2, 3]) await putDesired(d.deviceId, [{ serviceId: 'A', desired: { v } }])
      const pages = []
      for (const pageNo of [0, 1, 2, 3])
        pages.push(await historyPage({ deviceId: d.deviceId, pageNo, pageSize: 1 }))
      expect(pages.map((p) => p.totalCount)).toEqual([3, 3, 3, 3])
      expect(pages.map((p) => p.deviceDesiredHistoryDTOs.map((h) => h.desired.v))).toEqual([
        [3],
        [2],
        [1],
        [],
      ])
      expect(pages[1]).toMatchObject({ pageNo: 1, pageSize: 1 })
      const big = await historyPage({ deviceId: d.deviceId, pageSize: 250 })
      expect(big).toMatchObject({ totalCount: 3, pageSize: 250 })
      const invalid = { error_code: '100216', error_desc: 'The application input is invalid.' }
      const bads: Record<string, string | number>[] = [
        { pageSize: 0 },
        { pageSize: 251 },
        { pageNo: -1 },
        { pageSize: 'ten' },
      ]
      for (const bad of bads) {
        expect(await history({ deviceId: d.deviceId, ...bad })).toEqual({ status: 400, body: invalid })
      }
    })

    it('neither deviceId nor gatewayId → 400 100419', async () => {
      expect(await history({ serviceId: 'A' })).toEqual({
        status: 400,
        body: { error_code: '100419', error_desc: "The deviceId and gatewayId can't be both null." },
      })
    })

    it('gatewayId alone gives every device under that gateway', async () => {
      const gateway = await device()
      const child = await device()
      const other = await device()
      // The REST subset cannot attach a child device (§4.6 is LATER): attach it as a gateway would.
      gw.gateway.store.db
        .prepare('UPDATE devices SET gateway_id = ? WHERE device_id = ?')
        .run(gateway.deviceId, child.deviceId)
      await putDesired(gateway.deviceId, [{ serviceId: 'G', desired: { g: 1 } }])
      await putDesired(child.deviceId, [{ serviceId: 'C', desired: { c: 1 } }])
      await putDesired(other.deviceId, [{ serviceId: 'O', desired: { o: 1 } }])
      const page = await historyPage({ gatewayId: gateway.deviceId })
      expect(page.totalCount).toBe(2)
      expect(page.deviceDesiredHistoryDTOs.map((h) => [h.deviceId, h.gatewayId, h.serviceId])).toEqual([
        [child.deviceId, gateway.deviceId, 'C'],
        [gateway.deviceId, gateway.deviceId, 'G'],
      ])
      // deviceId and gatewayId together: that device, only if it is under that gateway.
      expect((await historyPage({ deviceId: child.deviceId, gatewayId: gateway.deviceId })).totalCount).toBe(
        1,
      )
      expect((await historyPage({ deviceId: other.deviceId, gatewayId: gateway.deviceId })).totalCount).toBe(
        0,
      )
      expect((await historyPage({ gatewayId: 'no-such-gateway' })).totalCount).toBe(0)
    })
  })

  describe('bad requests', () => {
    it.each([
      ['empty serviceDesireds', { serviceDesireds: [] }],
      ['no serviceDesireds', {}],
      ['desired not an object', { serviceDesireds: [{ serviceId: 'A', desired: 35 }] }],
      ['desired an array', { serviceDesireds: [{ serviceId: 'A', desired: [1] }] }],
      ['desired empty', { serviceDesireds: [{ serviceId: 'A', desired: {} }] }],
      ['missing serviceId', { serviceDesireds: [{ desired: { x: 1 } }] }],
      ['empty serviceId', { serviceDesireds: [{ serviceId: '', desired: { x: 1 } }] }],
      [
        'one bad entry among good ones',
        { serviceDesireds: [{ serviceId: 'A', desired: { x: 1 } }, { serviceId: 'B' }] },
      ],
      ['a body that is not JSON', '{"serviceDesireds": ['],
    ])('%s → 400 50400 and nothing stored', async (_name, body) => {
      const d = await device()
      const sim = await online(d.login)
      const res = await api('PUT', `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`, body)
      expect(res).toEqual({ status: 400, body: { error_code: '50400', error_desc: 'The input is invalid.' } })
      expect(await shadowServices(d.deviceId)).toEqual([])
      expect((await historyPage({ deviceId: d.deviceId })).totalCount).toBe(0)
      // Nothing was sent either: the next valid PUT is the first thing the device receives.
      await putDesired(d.deviceId, [{ serviceId: 'Marker', desired: { m: 1 } }])
      await sim.waitForCommands(1)
      expect(sim.received.map((r) => r.serviceId)).toEqual(['Marker'])
    })

    it('unknown device → 404 100403 (PUT), 100418 (GET)', async () => {
      expect(await putDesired('no-such-device', [{ serviceId: 'A', desired: { x: 1 } }])).toEqual({
        status: 404,
        body: { error_code: '100403', error_desc: 'The device is not existed.' },
      })
      expect(await api('GET', '/iocm/app/shadow/v1.5.0/devices/no-such-device')).toMatchObject({
        status: 404,
        body: { error_code: '100418' },
      })
      expect(await history({ deviceId: 'no-such-device' })).toMatchObject({
        status: 404,
        body: { error_code: '100403' },
      })
    })
  })
})
