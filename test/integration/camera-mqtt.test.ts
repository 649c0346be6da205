// Cameras over MQTT (upload_type 1; device-mqtt.md Part C) against a real gateway: a simulated camera on mqtt.js
// connects with its registered credentials, is kept to `cameras/{sn}/up` and `/down`, sends heartbeats and
// snapshots, and answers the gateway's requests, which the platform's command API and shadow PUT send.
import { createHash } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { fakeJpeg, fakePng, MqttCamera, registerCamera } from '../helpers/camera-simulator.ts'
import {
  type AppSession,
  callApi,
  connectRaw,
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

describe('cameras over MQTT', () => {
  let gw: RunningGateway
  let session: AppSession
  const cams: MqttCamera[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.cameras.maxImageBytes = 64 * 1024
        c.commands.responseTimeoutMs = 5000
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const cam of cams.splice(0)) await cam.close()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const camera = async () => {
    n += 1
    const sn = `20000000${String(n).padStart(4, '0')}`
    const reg = await registerCamera(gw.httpUrl, session.headers, sn)
    const cam = new MqttCamera(sn)
    await cam.connect(gw.mqttUrl, reg.secret)
    cams.push(cam)
    return { ...reg, cam }
  }
  const command = async (deviceId: string, method: string, paras: Record<string, unknown> = {}) => {
    const res = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId,
      command: { serviceId: 'Camera', method, paras },
    })
    expect(res.status).toBe(201)
    return res.body.commandId as string
  }
  const ended = (deviceId: string, commandId: string) =>
    waitFor(async () => {
      const res = await api('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${deviceId}`)
      const c = (res.body.data as CommandView[]).find((x) => x.commandId === commandId)
      return c && ['SUCCESSFUL', 'FAILED', 'TIMEOUT'].includes(c.status) ? c : undefined
    }, `command ${commandId} ended`)
  const snapshotsOf = async (deviceId: string) =>
    (await api('GET', `/sitegate/v1/cameras/${deviceId}/snapshots`)).body as {
      totalCount: number
      snapshots: { snapshotId: string; size: number; sha256: string; contentType: string }[]
    }
  const status = async (deviceId: string) =>
    ((await api('GET', `/iocm/app/dm/v1.4.0/devices/${deviceId}`)).body.deviceInfo as { status: string })
      .status

  it('answers a heartbeat with heartbeat_rsp echoing request_id and sn, and the camera is ONLINE', async () => {
    const { deviceId, cam } = await camera()
    expect(await status(deviceId)).not.toBe('ONLINE')
    const hb = cam.request('heartbeat')
    const rsp = await cam.send(hb)
    expect(rsp).toEqual({ operate: 'heartbeat_rsp', request_id: hb.request_id, sn: cam.sn, ret: 0, msg: '' })
    expect(await status(deviceId)).toBe('ONLINE')
  })

  it('refuses a wrong password, and keeps a camera to its own topics', async () => {
    const { sn } = await camera()
    await expect(connectRaw(gw.mqttUrl, { clientId: sn, username: sn, password: 'wrong' })).rejects.toThrow()
    const other = await camera()
    const cam = cams[cams.length - 1] as MqttCamera
    // SUBACK 0x80: mqtt.js rejects the subscription.
    await expect(cam.client?.subscribeAsync(`cameras/${sn}/down`, { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    )
    // Publishing on another camera's topic closes the connection.
    const closed = new Promise<void>((resolve) => other.cam.client?.once('close', () => resolve()))
    other.cam.client?.publish(`cameras/${sn}/up`, JSON.stringify(other.cam.request('heartbeat')), { qos: 1 })
    await closed
  })

  it('refuses a stale timestamp and a message naming another sn with a non-zero ret and a clear msg', async () => {
    const { cam } = await camera()
    const stale = await cam.send(cam.request('heartbeat', {}, Math.floor(Date.now() / 1000) - 301))
    expect(stale.ret).toBe(3)
    expect(stale.msg).toMatch(/timestamp .* 300 s or more from gateway time/)
    const future = await cam.send(cam.request('heartbeat', {}, Math.floor(Date.now() / 1000) + 400))
    expect(future.ret).toBe(3)
    const foreign = { ...cam.request('heartbeat'), sn: '999999999999' }
    const unknown = await cam.send(foreign)
    expect(unknown).toMatchObject({ operate: 'heartbeat_rsp', sn: '999999999999', ret: 4 })
    expect(unknown.msg).toMatch(/unknown sn 999999999999/)
    const malformed = await cam.send(JSON.stringify({ operate: 'heartbeat', request_id: 'r1', sn: cam.sn }))
    expect(malformed).toMatchObject({ ret: 1, msg: 'timestamp must be an integer (seconds)' })
  })

  it('stores an uploaded JPEG and PNG, served back byte for byte with their content types', async () => {
    const { deviceId, cam } = await camera()
    const jpeg = fakeJpeg(30_000, 3)
    const png = fakePng(1000)
    expect((await cam.uploadSnapshot(jpeg)).ret).toBe(0)
    expect((await cam.uploadSnapshot(png)).ret).toBe(0)
    const list = await snapshotsOf(deviceId)
    expect(list.totalCount).toBe(2)
    const byType = Object.fromEntries(list.snapshots.map((s) => [s.contentType, s]))
    expect(byType['image/jpeg']?.sha256).toBe(createHash('sha256').update(jpeg).digest('hex'))
    const res = await fetch(
      `${gw.httpUrl}/sitegate/v1/cameras/${deviceId}/snapshots/${byType['image/png']?.snapshotId}`,
      {
        headers: session.headers,
      },
    )
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true)
  })

  it('refuses bad base64, a non-image and an oversize image, storing nothing', async () => {
    const { deviceId, cam } = await camera()
    const bad = await cam.uploadSnapshot('not*base64!')
    expect(bad).toMatchObject({ operate: 'upload_snapshot_rsp', ret: 5, msg: 'data is not valid base64' })
    const gif = await cam.uploadSnapshot(Buffer.from('GIF89a-not-allowed'))
    expect(gif).toMatchObject({ ret: 5, msg: 'data is not a JPEG or PNG image' })
    const big = await cam.uploadSnapshot(fakeJpeg(64 * 1024 + 1))
    expect(big.ret).toBe(6)
    expect(big.msg).toMatch(/65537 bytes, more than the 65536 allowed/)
    expect((await snapshotsOf(deviceId)).totalCount).toBe(0)
    // The camera stays connected and usable.
    expect((await cam.heartbeat()).ret).toBe(0)
  })

  it('get_dev_config through the command API: SUCCESSFUL with the config, which becomes the reported shadow', async () => {
    const { deviceId, cam } = await camera()
    const id = await command(deviceId, 'get_dev_config')
    const done = await ended(deviceId, id)
    expect(done.status).toBe('SUCCESSFUL')
    expect(done.result?.resultDetail).toMatchObject({
      ret: 0,
      mac: cam.config.mac,
      hb_interval: 60,
      run_time: 1000,
    })
    const req = cam.received.at(-1)
    expect(req).toMatchObject({ operate: 'get_dev_config', request_id: id, sn: cam.sn })
    expect(Math.abs((req?.timestamp as number) - Date.now() / 1000)).toBeLessThan(60)
    const shadow = await api('GET', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`)
    const services = shadow.body.services as { serviceId: string; reportedProps: Record<string, unknown> }[]
    expect(services.find((s) => s.serviceId === 'CameraConfig')?.reportedProps).toMatchObject({
      mac: cam.config.mac,
      upload_type: 1,
    })
  })

  it('desired CameraConfig is delivered with set_dev_config; an out-of-range hb_interval is never sent', async () => {
    const { deviceId, cam } = await camera()
    await ended(deviceId, await command(deviceId, 'get_dev_config'))
    const put = await api('PUT', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`, {
      serviceDesireds: [{ serviceId: 'CameraConfig', desired: { hb_interval: 120 } }],
    })
    expect(put.status).toBe(200)
    await waitFor(() => cam.config.hb_interval === 120, 'camera took hb_interval 120')
    expect(cam.received.at(-1)).toMatchObject({
      operate: 'set_dev_config',
      upload_type: 1,
      upload_addr: '',
      hb_interval: 120,
    })
    const bad = await command(deviceId, 'set_dev_config', { hb_interval: 10 })
    const failed = await ended(deviceId, bad)
    expect(failed.status).toBe('FAILED')
    expect(failed.result?.resultDetail?.reason).toBe('hb_interval must be an integer from 15 to 360')
    expect(cam.received.some((r) => r.request_id === bad)).toBe(false)
    expect(cam.config.hb_interval).toBe(120)
  })

  it('control_cmd take_snapshot stores the returned image; io_control sets the outputs', async () => {
    const { deviceId, cam } = await camera()
    const done = await ended(
      deviceId,
      await command(deviceId, 'control_cmd', { cmd_data: { type: 'take_snapshot' } }),
    )
    expect(done.status).toBe('SUCCESSFUL')
    const cmd = done.result?.resultDetail?.cmd_data as { type: string; snapshotId: string; data?: unknown }
    expect(cmd.type).toBe('take_snapshot')
    expect(cmd.data).toBeUndefined()
    const res = await fetch(`${gw.httpUrl}/sitegate/v1/cameras/${deviceId}/snapshots/${cmd.snapshotId}`, {
      headers: session.headers,
    })
    expect(Buffer.from(await res.arrayBuffer()).equals(cam.snapshotImage)).toBe(true)
    const io = await ended(
      deviceId,
      await command(deviceId, 'control_cmd', { cmd_data: { type: 'io_control', io0: 1, io1: 0 } }),
    )
    expect(io.status).toBe('SUCCESSFUL')
    expect(cam.io).toEqual({ io0: 1, io1: 0 })
  })

  it('a camera answering ret != 0 fails the command with its ret and msg', async () => {
    const { deviceId, cam } = await camera()
    cam.failWith = { ret: 9, msg: 'busy' }
    const done = await ended(
      deviceId,
      await command(deviceId, 'control_cmd', { cmd_data: { type: 'io_control', io0: 1 } }),
    )
    expect(done.status).toBe('FAILED')
    expect(done.result?.resultDetail).toMatchObject({ ret: 9, msg: 'busy' })
  })

  it('upgrade_dev sends a package_url on the gateway, from which the camera downloads the uploaded package', async () => {
    const { deviceId, cam } = await camera()
    const pkg = Buffer.alloc(300_000, 0x5a)
    const up = await fetch(`${gw.httpUrl}/sitegate/v1/cameras/firmware?name=cam-v2.bin`, {
      method: 'POST',
      headers: { ...session.headers, 'content-type': 'application/octet-stream' },
      body: pkg,
    })
    expect(up.status).toBe(201)
    const { packageId, sha256 } = (await up.json()) as { packageId: string; sha256: string }
    const done = await ended(deviceId, await command(deviceId, 'upgrade_dev', { packageId }))
    expect(done.status).toBe('SUCCESSFUL')
    expect(cam.upgrades).toEqual([
      { url: `${gw.httpUrl}/cameras/v1/firmware/${packageId}`, size: pkg.length, sha256 },
    ])
    const unknown = await ended(deviceId, await command(deviceId, 'upgrade_dev', { packageId: 'nope' }))
    expect(unknown.status).toBe('FAILED')
    expect(unknown.result?.resultDetail?.reason).toBe('no firmware package nope was uploaded')
  })
})
