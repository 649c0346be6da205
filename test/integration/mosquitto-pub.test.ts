// The README's integrator example, run for real: mosquitto_pub with the credentials the CLI prints.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DeviceCredentials, deviceCredentials } from '../../src/broker/credentials.ts'
import {
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { requireProgram } from '../helpers/programs.ts'

const run = promisify(execFile)

/** mosquitto_pub at QoS 1 (it waits for the PUBACK) as a device, to its data topic. */
function mosquittoPub(port: number, creds: DeviceCredentials, deviceId: string, payload: string) {
  return run('mosquitto_pub', [
    ...['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-q', '1'],
    ...['-i', creds.clientId, '-u', creds.username, '-P', creds.password],
    ...['-t', `/huawei/v1/devices/${deviceId}/data/json`, '-m', payload],
  ])
}

describe.runIf(requireProgram('mosquitto_pub'))('mosquitto_pub, as in the README', () => {
  let gw: RunningGateway
  beforeAll(async () => {
    gw = await startGateway()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  it('publishes a deviceReq at QoS 1 that lands in the shadow', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'tower-crane-wind-1')
    const creds = deviceCredentials({ id: device.deviceId, secret: device.secret })
    const payload = '{"msgType":"deviceReq","data":[{"serviceId":"Wind","serviceData":{"speed":7.2}}]}'
    await mosquittoPub(gw.mqttPort, creds, device.deviceId, payload)
    const row = gw.gateway.store.shadows.get(device.deviceId, 'Wind')
    expect(JSON.parse(row?.reported_json ?? '{}')).toEqual({ speed: 7.2 })
  })

  it('is refused with a wrong password', async () => {
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const device = await registerDevice(gw.httpUrl, session, 'tower-crane-wind-2')
    const creds = deviceCredentials({ id: device.deviceId, secret: '0000000000aaaaaaaaaa' })
    const attempt = mosquittoPub(gw.mqttPort, creds, device.deviceId, '{}')
    await expect(attempt).rejects.toThrow()
    expect(gw.gateway.store.telemetry.countForDevice(device.deviceId)).toBe(0)
  })
})
