// Cameras over HTTP (upload_type 0; device-mqtt.md C.5) against a real gateway: a simulated camera POSTs its
// messages to the gateway's upload endpoint with Basic sn:secret, gets each `_rsp` in the response, and receives
// the gateway's requests in the responses to its next POSTs; heartbeat loss makes it OFFLINE, a heartbeat ONLINE.
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fakeJpeg, HttpCamera, registerCamera } from '../helpers/camera-simulator.ts'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { waitFor } from '../helpers/mqtt.ts'

interface CommandView {
  commandId: string
  status: string
  result?: { resultCode: string; resultDetail: Record<string, unknown> | null } | null
}

describe('cameras over HTTP', () => {
  let gw: RunningGateway
  let session: AppSession
  let uploadUrl: string
  let n = 0

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.cameras.maxImageBytes = 200 * 1024
        // A camera whose interval is not known yet is OFFLINE after 2 × 3 s of silence.
        c.cameras.defaultHbIntervalSeconds = 3
        c.cameras.missedHeartbeats = 2
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    uploadUrl = `${gw.httpUrl}/cameras/v1/upload`
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const camera = async () => {
    n += 1
    const sn = `29020000${String(n).padStart(4, '0')}`
    const reg = await registerCamera(gw.httpUrl, session.headers, sn)
    return { ...reg, cam: new HttpCamera(sn, uploadUrl, reg.secret) }
  }
  const command = async (deviceId: string, method: string, paras: Record<string, unknown> = {}) => {
    const res = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId,
      command: { serviceId: 'Camera', method, paras },
    })
    expect(res.status).toBe(201)
    return res.body.commandId as string
  }
  const commandOf = async (deviceId: string, commandId: string) => {
    const res = await api('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${deviceId}`)
    return (res.body.data as CommandView[]).find((x) => x.commandId === commandId)
  }
  /** The camera keeps calling (as it does every hb_interval) until the command has the status. */
  const heartbeatUntil = (cam: HttpCamera, deviceId: string, commandId: string, wanted = 'SUCCESSFUL') =>
    waitFor(async () => {
      const c = await commandOf(deviceId, commandId)
      if (c?.status === wanted) return c
      await cam.heartbeat()
      return undefined
    }, `command ${commandId} ${wanted}`)
  const status = async (deviceId: string) =>
    ((await api('GET', `/iocm/app/dm/v1.4.0/devices/${deviceId}`)).body.deviceInfo as { status: string })
      .status
  const snapshotCount = async (deviceId: string) =>
    (await api('GET', `/sitegate/v1/cameras/${deviceId}/snapshots`)).body.totalCount as number

  it('answers a heartbeat POST with heartbeat_rsp; the camera is ONLINE', async () => {
    const { deviceId, cam } = await camera()
    const hb = cam.request('heartbeat')
    const res = await cam.post(hb)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      operate: 'heartbeat_rsp',
      request_id: hb.request_id,
      sn: cam.sn,
      ret: 0,
      msg: '',
    })
    expect(await status(deviceId)).toBe('ONLINE')
  })

  it('refuses wrong credentials, an unknown sn, a stale timestamp and a body that is not JSON', async () => {
    const { deviceId, cam } = await camera()
    const intruder = new HttpCamera(cam.sn, uploadUrl, 'not-the-secret')
    expect((await intruder.heartbeat()).body).toMatchObject({ operate: 'heartbeat_rsp', ret: 8 })
    const anonymous = new HttpCamera(cam.sn, uploadUrl, undefined)
    expect((await anonymous.heartbeat()).body).toMatchObject({
      ret: 8,
      msg: 'HTTP Basic credentials must be the sn and its registered secret',
    })
    expect(await status(deviceId)).not.toBe('ONLINE')
    const stranger = new HttpCamera('123456789012', uploadUrl, 'x')
    expect((await stranger.heartbeat()).body).toMatchObject({
      ret: 4,
      msg: 'unknown sn 123456789012: no camera is registered with it',
    })
    const stale = await cam.post(cam.request('heartbeat', {}, Math.floor(Date.now() / 1000) - 3600))
    expect(stale.body.ret).toBe(3)
    const garbage = await cam.post('{"operate": "heartbeat",', { 'content-type': 'text/plain' })
    expect(garbage).toEqual({ status: 200, body: { ret: 1, msg: 'the message is not JSON' } })
    const unknownOp = await cam.post(cam.request('reboot'))
    expect(unknownOp.body).toMatchObject({ operate: 'reboot_rsp', ret: 2, msg: 'unknown operate reboot' })
  })

  it('reads a POST without a content type (camera firmware often sends none)', async () => {
    const { cam, secret } = await camera()
    const hb = cam.request('heartbeat')
    const text = JSON.stringify(hb)
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        uploadUrl,
        {
          method: 'POST',
          headers: {
            'content-length': Buffer.byteLength(text),
            authorization: `Basic ${Buffer.from(`${cam.sn}:${secret}`).toString('base64')}`,
          },
        },
        (res) => {
          let out = ''
          res.on('data', (chunk: Buffer) => {
            out += chunk.toString()
          })
          res.on('end', () => resolve(out))
        },
      )
      req.on('error', reject)
      req.end(text)
    })
    expect(JSON.parse(body)).toEqual({
      operate: 'heartbeat_rsp',
      request_id: hb.request_id,
      sn: cam.sn,
      ret: 0,
      msg: '',
    })
  })

  it('stores an uploaded snapshot; bad base64 and an oversize image get a non-zero ret and store nothing', async () => {
    const { deviceId, cam } = await camera()
    expect((await cam.uploadSnapshot(fakeJpeg(150_000))).body).toMatchObject({
      operate: 'upload_snapshot_rsp',
      ret: 0,
    })
    expect((await cam.uploadSnapshot('@@@@')).body).toMatchObject({ ret: 5, msg: 'data is not valid base64' })
    expect((await cam.uploadSnapshot(fakeJpeg(200 * 1024 + 10))).body).toMatchObject({ ret: 6 })
    expect((await cam.uploadSnapshot('')).body).toMatchObject({ ret: 5, msg: 'data is empty' })
    expect(await snapshotCount(deviceId)).toBe(1)
  })

  it('delivers queued commands in the responses to its POSTs and settles them from the _rsp it POSTs', async () => {
    const { deviceId, cam } = await camera()
    const get = await command(deviceId, 'get_dev_config')
    // Not reachable until it calls: the command waits.
    expect((await commandOf(deviceId, get))?.status).toBe('PENDING')
    const done = await heartbeatUntil(cam, deviceId, get)
    expect(cam.received).toEqual([
      expect.objectContaining({ operate: 'get_dev_config', request_id: get, sn: cam.sn }),
    ])
    expect(done.result?.resultDetail).toMatchObject({
      upload_type: 0,
      upload_addr: uploadUrl,
      hb_interval: 60,
    })

    const snap = await command(deviceId, 'control_cmd', { cmd_data: { type: 'take_snapshot' } })
    const io = await command(deviceId, 'control_cmd', { cmd_data: { type: 'io_control', io1: 1 } })
    // One at a time, in creation order.
    await heartbeatUntil(cam, deviceId, io)
    expect((await commandOf(deviceId, snap))?.status).toBe('SUCCESSFUL')
    expect(cam.received.map((r) => (r.cmd_data as { type?: string } | undefined)?.type)).toEqual([
      undefined,
      'take_snapshot',
      'io_control',
    ])
    expect(cam.io.io1).toBe(1)
    expect(await snapshotCount(deviceId)).toBe(1)
  })

  it('desired config reaches an HTTP camera as set_dev_config on its next POST', async () => {
    const { deviceId, cam } = await camera()
    await api('PUT', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`, {
      serviceDesireds: [
        { serviceId: 'CameraConfig', desired: { upload_type: 0, upload_addr: uploadUrl, hb_interval: 30 } },
      ],
    })
    await waitFor(async () => {
      await cam.heartbeat()
      return cam.config.hb_interval === 30
    }, 'camera took hb_interval 30')
    const shadow = await waitFor(async () => {
      const res = await api('GET', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`)
      const services = res.body.services as { serviceId: string; reportedProps: Record<string, unknown> }[]
      return services.find((s) => s.reportedProps.hb_interval === 30)
    }, 'reported hb_interval 30')
    expect(shadow.serviceId).toBe('CameraConfig')
  })

  it('upgrade_dev: the camera downloads the package from the package_url on the address it calls', async () => {
    const { deviceId, cam } = await camera()
    const pkg = Buffer.from('firmware v3 '.repeat(10_000))
    const up = await fetch(`${gw.httpUrl}/sitegate/v1/cameras/firmware?name=v3.bin`, {
      method: 'POST',
      headers: { ...session.headers, 'content-type': 'application/octet-stream' },
      body: pkg,
    })
    const { packageId, sha256 } = (await up.json()) as { packageId: string; sha256: string }
    const id = await command(deviceId, 'upgrade_dev', { packageId })
    await heartbeatUntil(cam, deviceId, id)
    expect(cam.upgrades).toEqual([
      { url: `${gw.httpUrl}/cameras/v1/firmware/${packageId}`, size: pkg.length, sha256 },
    ])
    const list = await api('GET', '/sitegate/v1/cameras/firmware')
    expect(list.body.packages).toContainEqual(
      expect.objectContaining({ packageId, name: 'v3.bin', size: pkg.length }),
    )
  })

  it('goes OFFLINE after missed heartbeats, and ONLINE again with the next one', async () => {
    const { deviceId, cam } = await camera()
    await cam.heartbeat()
    expect(await status(deviceId)).toBe('ONLINE')
    await waitFor(async () => (await status(deviceId)) === 'OFFLINE', 'camera OFFLINE after silence', 20_000)
    await cam.heartbeat()
    expect(await status(deviceId)).toBe('ONLINE')
  })
})
