// Activation status (spec §4.7) and refreshing a device's key / unique ID (§4.3).
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
import { closed, connackCode, deviceOptions, waitFor } from '../helpers/mqtt.ts'

describe('deviceCredentials (§4.3, §4.7)', () => {
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

  const device = () => registerDevice(gw.httpUrl, session, `cred-node-${++n}`)
  const path = (id: string) => `/iocm/app/reg/v1.1.0/deviceCredentials/${id}`
  const activation = async (id: string) => (await callApi(gw.httpUrl, session, 'GET', path(id))).body
  const refresh = (id: string, body: unknown) => callApi(gw.httpUrl, session, 'PUT', path(id), body)
  /** Connects, then disconnects and waits until the gateway has it OFFLINE. */
  const activate = async (d: { deviceId: string; secret: string }) => {
    const client = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    const gone = closed(client)
    client.end(true)
    await gone
    await waitFor(
      async () =>
        (
          (await callApi(gw.httpUrl, session, 'GET', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`)).body
            .deviceInfo as {
            status: string
          }
        ).status === 'OFFLINE',
      'OFFLINE',
    )
  }

  it('activated is false until the first connection, and stays true afterwards', async () => {
    const d = await device()
    expect(await activation(d.deviceId)).toEqual({ deviceId: d.deviceId, activated: false, name: d.nodeId })
    await activate(d)
    expect(await activation(d.deviceId)).toMatchObject({ activated: true })
    expect((await callApi(gw.httpUrl, session, 'GET', path('nope'))).body.error_code).toBe('100403')
  })

  it('a new nodeId: the device connects by it (authType 2), the old one is refused', async () => {
    const d = await device()
    await activate(d)
    const res = await refresh(d.deviceId, {
      nodeId: `${d.nodeId}-replaced`,
      timeout: 0,
      verifyCode: 'AE10-1',
    })
    expect(res).toEqual({ status: 200, body: { verifyCode: 'AE10-1', timeout: 0 } })
    const byNode = (nodeId: string) => deviceOptions({ id: nodeId, secret: d.secret, authType: 2 })
    expect(await connackCode(gw.mqttUrl, byNode(`${d.nodeId}-replaced`))).toBe(0)
    expect(await connackCode(gw.mqttUrl, byNode(d.nodeId))).toBe(4)
  })

  it('refused while never activated (100610), while online (100611), for a taken nodeId (100426)', async () => {
    const fresh = await device()
    expect((await refresh(fresh.deviceId, {})).body.error_code).toBe('100610')
    const d = await device()
    const client = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    expect((await refresh(d.deviceId, {})).body.error_code).toBe('100611')
    client.end(true)
    await activate(d)
    expect((await refresh(d.deviceId, { nodeId: fresh.nodeId })).body.error_code).toBe('100426')
    // Defaults: the verifyCode is the nodeId, the timeout 180 s.
    expect((await refresh(d.deviceId, {})).body).toEqual({ verifyCode: d.nodeId, timeout: 180 })
    expect((await refresh(d.deviceId, { timeout: -1 })).body.error_code).toBe('50400')
  })
})
