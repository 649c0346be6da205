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
} from '../helpers/gateway.ts'

describe('device → broker → SQLite → shadow API', () => {
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startGateway()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  it('a deviceReq published at QoS 1 is in the shadow once PUBACKed', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'noise-01')
    const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
    await client.publishAsync(
      `/huawei/v1/devices/${device.deviceId}/data/json`,
      deviceReq([{ serviceId: 'Noise', serviceData: { db: 71.5 }, eventTime: '20261123T101500Z' }]),
      { qos: 1 },
    )
    await client.endAsync()
    const res = await fetch(`${gw.httpUrl}/iocm/app/shadow/v1.5.0/devices/${device.deviceId}`, {
      headers: session.headers,
    })
    expect(res.status).toBe(200)
    const shadow = (await res.json()) as {
      services: { serviceId: string; reportedProps: unknown; eventTime: string }[]
    }
    expect(shadow.services).toEqual([
      expect.objectContaining({
        serviceId: 'Noise',
        reportedProps: { db: 71.5 },
        eventTime: '20261123T101500Z',
      }),
    ])
  })
})
