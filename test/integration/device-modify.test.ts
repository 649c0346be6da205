// Modify device information (spec §4.4) over real HTTP: what §5.1 shows afterwards, freezing, bad input, and the
// deviceInfoChanged notification (§7.3) queued with the change.
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
import { closed, connackCode, deviceOptions } from '../helpers/mqtt.ts'

describe('PUT /iocm/app/dm/v1.4.0/devices/{deviceId} (§4.4)', () => {
  let gw: RunningGateway
  let session: AppSession
  let n = 0

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const device = () => registerDevice(gw.httpUrl, session, `modify-node-${++n}`)
  const modify = (deviceId: string, body: unknown) =>
    callApi(gw.httpUrl, session, 'PUT', `/iocm/app/dm/v1.4.0/devices/${deviceId}`, body)
  const info = async (deviceId: string) =>
    (await callApi(gw.httpUrl, session, 'GET', `/iocm/app/dm/v1.4.0/devices/${deviceId}`)).body
      .deviceInfo as Record<string, unknown>

  it('changes what the device query shows; 204 with no body', async () => {
    const d = await device()
    const res = await modify(d.deviceId, {
      name: 'Tower crane 2',
      location: 'Block B, level 14',
      model: 'TC-7000',
      manufacturerName: 'Liebherr',
      deviceType: 'CraneMonitor',
      region: 'north',
      deviceConfig: { dataConfig: { dataAgingTime: 30 } },
    })
    expect(res).toEqual({ status: 204, body: undefined })
    expect(await info(d.deviceId)).toMatchObject({
      name: 'Tower crane 2',
      location: 'Block B, level 14',
      model: 'TC-7000',
      manufacturerName: 'Liebherr',
      deviceType: 'CraneMonitor',
    })
  })

  it('mute TRUE closes its connection and refuses it (CONNACK 5) until mute FALSE', async () => {
    const d = await device()
    const login = { id: d.deviceId, secret: d.secret }
    const client = await connectDevice(gw.mqttUrl, login)
    const gone = closed(client)
    expect((await modify(d.deviceId, { mute: 'TRUE' })).status).toBe(204)
    await gone
    expect(await connackCode(gw.mqttUrl, deviceOptions(login))).toBe(5)
    expect((await info(d.deviceId)).mute).toBe('TRUE')
    expect((await modify(d.deviceId, { mute: 'FALSE' })).status).toBe(204)
    expect(await connackCode(gw.mqttUrl, deviceOptions(login))).toBe(0)
  })

  it('queues deviceInfoChanged for a subscribed application, in the same commit', async () => {
    const sub = await callApi(gw.httpUrl, session, 'POST', '/iocm/app/sub/v1.2.0/subscriptions', {
      notifyType: 'deviceInfoChanged',
      // Nobody listens there: the notification stays queued, which is what this test reads.
      callbackUrl: 'http://127.0.0.1:9/never',
    })
    expect(sub.status).toBe(201)
    const d = await device()
    await modify(d.deviceId, { name: 'Hoist 1' })
    const queued = gw.gateway.store.callbacks
      .all()
      .map(
        (r) => JSON.parse(r.body) as { notifyType: string; deviceId: string; deviceInfo: { name: string } },
      )
      .filter((b) => b.notifyType === 'deviceInfoChanged' && b.deviceId === d.deviceId)
    expect(queued).toEqual([
      expect.objectContaining({
        gatewayId: d.deviceId,
        deviceInfo: expect.objectContaining({ name: 'Hoist 1' }),
      }),
    ])
  })

  it.each([
    ['mute not TRUE/FALSE', { mute: 'yes' }],
    ['psk not 8-32 hex', { psk: 'xyz' }],
    ['dataAgingTime over 90', { deviceConfig: { dataConfig: { dataAgingTime: 91 } } }],
    ['an empty name', { name: '' }],
    ['isSecure not a boolean', { isSecure: 'true' }],
  ])('%s → 400 100022, nothing changed', async (_what, body) => {
    const d = await device()
    const before = await info(d.deviceId)
    expect(await modify(d.deviceId, body)).toMatchObject({ status: 400, body: { error_code: '100022' } })
    expect(await info(d.deviceId)).toEqual(before)
  })

  it('an unknown device is 404 100403; a productId no model knows is 600002', async () => {
    expect((await modify('nope', { name: 'x' })).body).toEqual({
      error_code: '100403',
      error_desc: 'The device is not existed.',
    })
    const d = await device()
    expect((await modify(d.deviceId, { productId: 'p1' })).body.error_code).toBe('600002')
  })
})
