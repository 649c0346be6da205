// The camera JSON protocol's codec and checks (device-mqtt.md Part C), the command → request plans, and the
// camera MQTT access decisions.
import { describe, expect, it } from 'vitest'
import { decideConnect, mayPublish, maySubscribe } from '../../src/broker/access.ts'
import { deviceCredentials } from '../../src/broker/credentials.ts'
import { planRequest } from '../../src/cameras/requests.ts'
import type { DeviceIdentity } from '../../src/devices/registry.ts'
import {
  checkCmdData,
  checkDevConfig,
  decodeImage,
  encodeServerRequest,
  parseCameraMessage,
} from '../../src/protocols/camera.ts'
import type { CommandRow } from '../../src/store/repos/commands.ts'

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0)
const TOL = 300_000
const nowS = NOW / 1000
const parse = (doc: unknown) =>
  parseCameraMessage(typeof doc === 'string' ? doc : JSON.stringify(doc), NOW, TOL)
const hb = (extra: Record<string, unknown> = {}) => ({
  operate: 'heartbeat',
  request_id: 'r-1',
  timestamp: nowS,
  sn: '200000000001',
  ...extra,
})

describe('parseCameraMessage', () => {
  it('accepts a heartbeat and an upload_snapshot with every field', () => {
    expect(parse(hb())).toEqual({ kind: 'request', request: hb() })
    const up = parse({ ...hb({ operate: 'upload_snapshot' }), data: 'AAAA' })
    expect(up).toMatchObject({ kind: 'request', request: { operate: 'upload_snapshot', data: 'AAAA' } })
  })

  it('refuses a timestamp five minutes or more away, in either direction, with ret 3', () => {
    for (const ts of [nowS - 300, nowS + 300, 123456789]) {
      const r = parse(hb({ timestamp: ts }))
      expect(r).toMatchObject({
        kind: 'invalid',
        ret: 3,
        reply: { operate: 'heartbeat_rsp', request_id: 'r-1', ret: 3 },
      })
    }
    expect(parse(hb({ timestamp: nowS - 299 })).kind).toBe('request')
  })

  it('refuses missing or mistyped fields with ret 1 and an unknown operate with ret 2', () => {
    expect(parse('nope')).toMatchObject({ kind: 'invalid', ret: 1, reply: undefined })
    expect(parse([1])).toMatchObject({ kind: 'invalid', ret: 1, reply: undefined })
    expect(parse(hb({ request_id: 5 }))).toMatchObject({
      ret: 1,
      reason: 'request_id must be a non-empty string',
    })
    expect(parse(hb({ sn: '' }))).toMatchObject({ ret: 1, reason: 'sn must be a non-empty string' })
    expect(parse(hb({ timestamp: '1' }))).toMatchObject({ ret: 1 })
    expect(parse(hb({ operate: 'upload_snapshot' }))).toMatchObject({
      ret: 1,
      reason: 'data must be a base64 string',
    })
    expect(parse(hb({ operate: 'reboot' }))).toMatchObject({ ret: 2, reply: { operate: 'reboot_rsp' } })
  })

  it('parses a reply to a gateway request (no timestamp), never answering a reply', () => {
    const rsp = { operate: 'get_dev_config_rsp', request_id: 'c1', sn: 's', ret: 0, msg: '', mac: 'aa' }
    expect(parse(rsp)).toEqual({ kind: 'reply', reply: rsp })
    expect(parse({ ...rsp, ret: 'x' })).toMatchObject({ kind: 'invalid', ret: 1, reply: undefined })
    expect(parse({ ...rsp, operate: 'heartbeat_rsp' })).toMatchObject({
      kind: 'invalid',
      ret: 2,
      reply: undefined,
    })
  })
})

describe('decodeImage', () => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0])
  it('accepts JPEG and PNG by magic bytes, base64 with line breaks too', () => {
    expect(decodeImage(jpeg.toString('base64'), 100)).toMatchObject({ ok: true, contentType: 'image/jpeg' })
    const wrapped = png.toString('base64').replace(/(.{4})/g, '$1\r\n')
    const r = decodeImage(wrapped, 100)
    expect(r.ok && r.bytes.equals(png)).toBe(true)
  })
  it('refuses invalid base64, other formats and oversize images', () => {
    expect(decodeImage('abc', 100)).toMatchObject({ ok: false, ret: 5, msg: 'data is not valid base64' })
    expect(decodeImage('ab$=', 100)).toMatchObject({ ok: false, ret: 5 })
    expect(decodeImage(Buffer.from('GIF89a').toString('base64'), 100)).toMatchObject({ ok: false, ret: 5 })
    expect(decodeImage(jpeg.toString('base64'), 6)).toMatchObject({ ok: false, ret: 6 })
    expect(decodeImage(jpeg.toString('base64'), 7).ok).toBe(true)
  })
})

describe('server requests', () => {
  it('are stamped with the gateway time in seconds', () => {
    expect(encodeServerRequest('get_dev_config', 'id', 'sn', NOW + 999, {})).toEqual({
      operate: 'get_dev_config',
      request_id: 'id',
      timestamp: nowS,
      sn: 'sn',
    })
  })
  it('check set_dev_config ranges and control_cmd shapes', () => {
    expect(checkDevConfig({ upload_type: 1, upload_addr: '', hb_interval: 15 }).ok).toBe(true)
    expect(checkDevConfig({ upload_type: 1, upload_addr: '', hb_interval: 361 }).ok).toBe(false)
    expect(checkDevConfig({ upload_type: 2, upload_addr: '', hb_interval: 60 }).ok).toBe(false)
    expect(checkCmdData({ type: 'io_control', io0: 1 })).toEqual({
      ok: true,
      fields: { cmd_data: { type: 'io_control', io0: 1 } },
    })
    expect(checkCmdData({ type: 'io_control', io0: 2 }).ok).toBe(false)
    expect(checkCmdData({ type: 'io_control' }).ok).toBe(false)
    expect(checkCmdData({ type: 'reboot' }).ok).toBe(false)
  })

  const row = (method: string, paras: Record<string, unknown>, serviceId = 'Camera') =>
    ({ method, paras_json: JSON.stringify(paras), service_id: serviceId }) as CommandRow
  const ctx = {
    reportedConfig: { upload_type: 0, upload_addr: 'http://gw/cameras/v1/upload', hb_interval: 60 },
    packageUrl: (id: string) => (id === 'p1' ? 'http://gw/cameras/v1/firmware/p1' : undefined),
  }
  it('plan desired state and partial set_dev_config over the reported config', () => {
    expect(planRequest(row('SET_DESIRED', { hb_interval: 90 }, 'CameraConfig'), ctx)).toEqual({
      ok: true,
      operate: 'set_dev_config',
      fields: { upload_type: 0, upload_addr: 'http://gw/cameras/v1/upload', hb_interval: 90 },
    })
    expect(planRequest(row('SET_DESIRED', { hb_interval: 90 }, 'Other'), ctx).ok).toBe(false)
    expect(planRequest(row('set_dev_config', { hb_interval: 90 }), { ...ctx, reportedConfig: {} }).ok).toBe(
      false,
    )
  })
  it('plan upgrade_dev from an uploaded package or a given URL, and refuse unknown methods', () => {
    expect(planRequest(row('upgrade_dev', { packageId: 'p1' }), ctx)).toMatchObject({
      ok: true,
      fields: { package_url: 'http://gw/cameras/v1/firmware/p1' },
    })
    expect(planRequest(row('upgrade_dev', { packageId: 'p2' }), ctx).ok).toBe(false)
    expect(planRequest(row('upgrade_dev', { package_url: 'http://x/app.bin' }), ctx).ok).toBe(true)
    expect(planRequest(row('reboot', {}), ctx)).toMatchObject({ ok: false })
  })
})

describe('camera MQTT access', () => {
  const identity: DeviceIdentity = {
    deviceId: 'dev-1',
    nodeId: '200000000001',
    appId: 'a',
    secret: 's3cret',
    gatewayId: 'dev-1',
    mute: false,
    protocol: 'platform',
    productId: null,
    deviceType: 'Camera',
  }
  const connect = (clientId: string, username: string, password: string) =>
    decideConnect({
      clientId,
      username,
      password: Buffer.from(password),
      lookup: (id, by) =>
        (by === 'nodeId' ? identity.nodeId : identity.deviceId) === id ? identity : undefined,
      now: NOW,
      toleranceHours: 1,
    })
  it('lets a camera in with sn / sn / secret, onto its own topics only', () => {
    const ok = connect('200000000001', '200000000001', 's3cret')
    expect(ok).toEqual({ ok: true, session: { protocol: 'camera', deviceId: 'dev-1', sn: '200000000001' } })
    if (!ok.ok) return
    expect(mayPublish(ok.session, 'cameras/200000000001/up')).toBe(true)
    expect(mayPublish(ok.session, 'cameras/200000000002/up')).toBe(false)
    expect(mayPublish(ok.session, '/huawei/v1/devices/200000000001/data/json')).toBe(false)
    expect(maySubscribe(ok.session, 'cameras/200000000001/down')).toBe(true)
    expect(maySubscribe(ok.session, 'cameras/+/down')).toBe(false)
  })
  it('treats a Camera that signs its CONNECT the platform way as a platform device', () => {
    const creds = deviceCredentials({ id: '200000000001', secret: 's3cret', authType: 2, now: NOW })
    const r = connect(creds.clientId, creds.username, creds.password)
    expect(r).toMatchObject({ ok: true, session: { protocol: 'platform', topicId: '200000000001' } })
  })
  it('refuses a wrong password or user name with CONNACK 4, a frozen camera with 5', () => {
    expect(connect('200000000001', '200000000001', 'nope')).toMatchObject({ ok: false, code: 4 })
    expect(connect('200000000001', 'other', 's3cret')).toMatchObject({ ok: false, code: 4 })
    identity.mute = true
    expect(connect('200000000001', '200000000001', 's3cret')).toMatchObject({ ok: false, code: 5 })
    identity.mute = false
  })
})
