import { describe, expect, it } from 'vitest'
import { backoffMs } from '../../src/sync/link.ts'
import { OneJsonProfile } from '../../src/sync/onejson-profile.ts'
import { PlatformProfile } from '../../src/sync/platform-profile.ts'
import { RateMeter } from '../../src/sync/rate-meter.ts'

const platform = new PlatformProfile('gw-1', 'a1b2c3d4e5f60718293a')
const cloudReq = (doc: Record<string, unknown>) => Buffer.from(JSON.stringify(doc))

describe('platform profile (device-mqtt.md Part A)', () => {
  it('signs in as a device connecting by deviceId with the A.3 password', () => {
    const at = Date.UTC(2018, 6, 24, 17, 56, 20)
    // The spec's worked example: secret a1b2c3d4e5f60718293a, timestamp 2018072417.
    expect(platform.identity(at)).toEqual({
      clientId: 'gw-1_0_1_2018072417',
      username: 'gw-1',
      password: '6c8310c88bc64593ad324f686eadbdc6edec12ca9d7309e1e0bdb384d90c66f7',
    })
  })

  it('uses its own data topic, binary when deflated, and listens on its command topic', () => {
    expect(platform.batchTopic(false)).toBe('/huawei/v1/devices/gw-1/data/json')
    expect(platform.batchTopic(true)).toBe('/huawei/v1/devices/gw-1/data/binary')
    expect(platform.subscriptions()).toEqual(['/huawei/v1/devices/gw-1/command/json'])
    const { prefix, suffix } = platform.batchFrame()
    expect(JSON.parse(`${prefix}{"a":1}${suffix}`)).toEqual({ msgType: 'deviceReq', data: [{ a: 1 }] })
  })

  it('answers with a deviceRsp carrying the cloud mid (A.6)', () => {
    const msg = platform.reply({ ref: { id: '42' }, success: false, body: { error_code: '100403' } })
    expect(JSON.parse(String(msg.payload))).toEqual({
      msgType: 'deviceRsp',
      mid: 42,
      errcode: 1,
      body: { error_code: '100403' },
    })
  })

  it('reads a cloudReq for a local device, and SET_DESIRED as a desired change', () => {
    const base = { msgType: 'cloudReq', deviceId: 'd1', serviceId: 'S', paras: { v: 1 }, mid: 7 }
    expect(platform.decodeRequest('', cloudReq({ ...base, cmd: 'ON' }))).toEqual({
      kind: 'command',
      ref: { id: '7' },
      deviceId: 'd1',
      serviceId: 'S',
      method: 'ON',
      paras: { v: 1 },
    })
    expect(platform.decodeRequest('', cloudReq({ ...base, cmd: 'SET_DESIRED' }))).toMatchObject({
      kind: 'desired',
      desired: { v: 1 },
    })
  })

  it.each([
    [{ mid: 0 }, undefined, 'mid must be an integer from 1 to 65535'],
    [{ mid: 65536 }, undefined, 'mid must be'],
    [{ mid: '7' }, undefined, 'mid must be'],
    [{ msgType: 'deviceReq' }, '7', 'msgType must be "cloudReq"'],
    [{ deviceId: '' }, '7', 'deviceId must be a non-empty string'],
    [{ cmd: 5 }, '7', 'cmd must be'],
    [{ paras: [1] }, '7', 'paras must be a JSON object'],
    [{ serviceId: 'x'.repeat(257) }, '7', 'serviceId must be'],
  ])('refuses %j', (change, refId, error) => {
    const doc = {
      msgType: 'cloudReq',
      deviceId: 'd1',
      serviceId: 'S',
      cmd: 'ON',
      paras: {},
      mid: 7,
      ...change,
    }
    const out = platform.decodeRequest('', cloudReq(doc))
    expect(out).toMatchObject({ error: expect.stringContaining(error) })
    expect('ref' in out ? out.ref?.id : undefined).toBe(refId)
  })

  it('refuses bytes that are not a JSON object', () => {
    expect(platform.decodeRequest('', Buffer.from([0xff, 0xfe]))).toEqual({
      ref: undefined,
      error: 'payload is not JSON',
    })
    expect(platform.decodeRequest('', Buffer.from('[1]'))).toMatchObject({
      error: 'payload is not a JSON object',
    })
  })
})

describe('OneJSON profile (device-mqtt.md Part B)', () => {
  const onejson = new OneJsonProfile('pid1', 'gw', 'key')
  const invoke = (identifier: string) => `$sys/pid1/gw/thing/service/${identifier}/invoke`

  it('signs in with the OneNET token as the device of its product', () => {
    const id = onejson.identity(Date.UTC(2026, 0, 1))
    expect(id.clientId).toBe('gw')
    expect(id.username).toBe('pid1')
    expect(id.password).toMatch(
      /^version=2018-10-31&res=products%2Fpid1%2Fdevices%2Fgw&et=\d+&method=sha256&sign=/,
    )
    expect(onejson.canCompress).toBe(false)
    expect(onejson.subscriptions()).toEqual(['$sys/pid1/gw/thing/service/+/invoke'])
  })

  it('frames records as a property post with a digits-only id, increasing', () => {
    const a = JSON.parse(`${onejson.batchFrame().prefix}{"x":1}${onejson.batchFrame().suffix}`)
    const b = JSON.parse(`${onejson.batchFrame().prefix}${onejson.batchFrame().suffix}`)
    expect(a).toMatchObject({ version: '1.0', params: { records: { value: [{ x: 1 }] } } })
    expect(a.id).toMatch(/^\d{1,13}$/)
    expect(Number(b.id)).toBeGreaterThan(Number(a.id))
  })

  it('reads an invoke: identifier = command, params name device, service and parameters', () => {
    const doc = { id: '12', params: { deviceId: 'd', serviceId: 'S', paras: { a: 1 } } }
    expect(onejson.decodeRequest(invoke('Open'), Buffer.from(JSON.stringify(doc)))).toEqual({
      kind: 'command',
      ref: { id: '12', identifier: 'Open' },
      deviceId: 'd',
      serviceId: 'S',
      method: 'Open',
      paras: { a: 1 },
    })
    const reply = onejson.reply({
      ref: { id: '12', identifier: 'Open' },
      success: true,
      body: { status: 'SUCCESSFUL' },
    })
    expect(reply.topic).toBe('$sys/pid1/gw/thing/service/Open/invoke_reply')
    expect(JSON.parse(String(reply.payload))).toEqual({
      id: '12',
      code: 200,
      msg: 'success',
      data: { status: 'SUCCESSFUL' },
    })
  })

  it.each([
    ['$sys/pid1/gw/thing/service/Open/invoke_reply', { id: '1', params: {} }, 'not an invoke topic'],
    [invoke('Open'), { id: '12345678901234', params: {} }, 'id must be a string of 1 to 13 digits'],
    [invoke('Open'), { id: 12, params: {} }, 'id must be'],
    [invoke('Open'), { id: '1', params: 'x' }, 'params must be a JSON object'],
    [
      invoke('Open'),
      { id: '1', params: { deviceId: 'd', serviceId: 'S', paras: 3 } },
      'params.paras must be',
    ],
  ])('refuses %s %j', (topic, doc, error) => {
    expect(onejson.decodeRequest(topic, Buffer.from(JSON.stringify(doc)))).toMatchObject({
      error: expect.stringContaining(error),
    })
  })
})

describe('reconnect backoff', () => {
  it('doubles from the first wait, within ±20 %, and never exceeds the cap', () => {
    expect(backoffMs(1, 1000, 30_000, () => 0.5)).toBe(1000)
    expect(backoffMs(2, 1000, 30_000, () => 0.5)).toBe(2000)
    expect(backoffMs(3, 1000, 30_000, () => 0)).toBe(3200)
    expect(backoffMs(3, 1000, 30_000, () => 1)).toBe(4800)
    for (const attempt of [6, 10, 50, 10_000]) expect(backoffMs(attempt, 1000, 30_000, () => 1)).toBe(30_000)
  })
})

describe('drain rate', () => {
  it('averages the full seconds of its window', () => {
    const meter = new RateMeter(10_000)
    const t0 = 1_000_000_000
    for (let s = 0; s < 10; s++) meter.add(100, t0 + s * 1000)
    expect(meter.perSecond(t0 + 10_000)).toBe(100)
    expect(meter.perSecond(t0 + 25_000)).toBe(0)
  })
})
