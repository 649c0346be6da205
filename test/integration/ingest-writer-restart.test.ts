// The writer thread dying must not take ingest down: it is restarted and later messages are stored again.
import type { Worker } from 'node:worker_threads'
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

describe('ingest writer thread', () => {
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startGateway()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  it('is restarted after it dies, and reports are stored again', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'crane-load-1')
    const ingest = gw.gateway.ingest as unknown as { worker: Worker | undefined }
    const first = ingest.worker!
    await first.terminate()
    // Wait (bounded) until a new writer thread has replaced the one that died.
    for (let i = 0; i < 200 && (ingest.worker === undefined || ingest.worker === first); i++) {
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(ingest.worker).toBeDefined()
    expect(ingest.worker).not.toBe(first)

    const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
    await client.publishAsync(
      `/huawei/v1/devices/${device.deviceId}/data/json`,
      deviceReq([{ serviceId: 'Load', serviceData: { tonnes: 2.5 } }]),
      { qos: 1 },
    )
    await client.endAsync()
    expect(gw.gateway.store.telemetry.countForDevice(device.deviceId)).toBe(1)
    expect(JSON.parse(gw.gateway.store.shadows.get(device.deviceId, 'Load')!.reported_json)).toEqual({
      tonnes: 2.5,
    })
  })
})
