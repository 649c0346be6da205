// The OneJSON upstream profile (device-mqtt.md Part B) against a real mosquitto: records go up as property
// reports, service invocations from the cloud reach local devices and are answered on invoke_reply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CloudSimulator, simulateCloud } from '../helpers/cloud-simulator.ts'
import {
  type AppSession,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.ts'
import { dataTopic, publishAcked } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'
import { upstreamConfig } from '../helpers/upstream.ts'

const PID = 'pidGateway01'
const NAME = 'site-gw-onejson'
const service = (identifier: string) => `$sys/${PID}/${NAME}/thing/service/${identifier}`

describe.runIf(requireProgram('mosquitto'))('upstream sync, OneJSON profile', () => {
  let broker: Mosquitto
  let cloud: CloudSimulator
  let gw: RunningGateway
  let session: AppSession
  let device: SimulatedDevice
  let deviceId: string

  beforeAll(async () => {
    broker = await startMosquitto()
    cloud = await simulateCloud(broker.url, 'cloud-onejson')
    gw = await startGateway({
      config: upstreamConfig(broker.url, {
        profile: 'onejson',
        productId: PID,
        deviceId: NAME,
        secret: 'k3y-onejson',
      }),
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const d = await registerDevice(gw.httpUrl, session, 'onejson-up-node')
    deviceId = d.deviceId
    device = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
  })
  afterAll(async () => {
    await device.close()
    await cloud.close()
    await gw.stop()
    await broker.dispose()
    removeDir(gw.dataDir)
  })

  it('reports records as the records property of a property post, JSON, never deflated', async () => {
    const payload = JSON.stringify({
      msgType: 'deviceReq',
      data: [{ serviceId: 'Noise', serviceData: { db: 71 } }],
    })
    await publishAcked(device.client, dataTopic(deviceId), payload)
    const [record] = await cloud.waitForUnique(1, 'telemetry')
    expect(record).toMatchObject({ deviceId, serviceId: 'Noise', serviceData: { db: 71 }, kind: 'telemetry' })
    expect(cloud.messages.every((m) => m.topic === `$sys/${PID}/${NAME}/thing/property/post`)).toBe(true)
  })

  it('carries an invoke to the local device and answers it on invoke_reply with its id', async () => {
    await cloud.send(
      `${service('Reboot')}/invoke`,
      JSON.stringify({
        id: '1234567',
        version: '1.0',
        params: { deviceId, serviceId: 'Power', paras: { delay: 5 } },
      }),
    )
    const [req] = await device.waitForCommands(1)
    expect(req).toMatchObject({ serviceId: 'Power', cmd: 'Reboot', paras: { delay: 5 } })
    const reply = await cloud.waitForReply((r) => r.body.id === '1234567')
    expect(reply.topic).toBe(`${service('Reboot')}/invoke_reply`)
    expect(reply.body).toMatchObject({ code: 200, data: { deviceId, status: 'SUCCESSFUL' } })
  })

  it('refuses an invoke with a bad id or params, answering where it can', async () => {
    await cloud.send(`${service('Reboot')}/invoke`, JSON.stringify({ id: '77', params: { deviceId } }))
    const reply = await cloud.waitForReply((r) => r.body.id === '77')
    expect(reply.body).toMatchObject({
      code: 500,
      msg: 'params.serviceId must be a non-empty string of at most 256 characters',
    })
    // An id that is not digits cannot be answered (B.2): dropped, and the link carries on.
    await cloud.send(`${service('Reboot')}/invoke`, JSON.stringify({ id: 'abc', params: {} }))
    await cloud.send(
      `${service('Ping')}/invoke`,
      JSON.stringify({ id: '78', params: { deviceId: 'nobody', serviceId: 'S', paras: {} } }),
    )
    expect((await cloud.waitForReply((r) => r.body.id === '78')).body).toMatchObject({ code: 500 })
    expect(cloud.replies.some((r) => r.body.id === 'abc')).toBe(false)
    expect(device.received).toHaveLength(1)
  })
})
