import { describe, expect, it } from 'vitest'
import { commandTopic, dataTopic, decodeUplink, parseDeviceTopic } from '../../src/protocols/platform-mqtt.ts'

const RECEIVED_AT = Date.parse('2026-01-02T03:04:05Z')
const decode = (doc: unknown) => decodeUplink(JSON.stringify(doc), RECEIVED_AT)
const req = (data: unknown) => decode({ msgType: 'deviceReq', data })
const rsp = (fields: Record<string, unknown>) => decode({ msgType: 'deviceRsp', ...fields })

describe('decodeUplink deviceReq (A.4)', () => {
  it('decodes the spec example with its eventTime', () => {
    const result = req([
      { serviceId: 'Battery', serviceData: { batteryLevel: 75 }, eventTime: '20160503T121540Z' },
      { serviceId: 'Flow', serviceData: { flow: '565656', nested: { a: [1] } } },
    ])
    expect(result).toEqual({
      ok: true,
      value: {
        msgType: 'deviceReq',
        data: [
          {
            serviceId: 'Battery',
            serviceData: { batteryLevel: 75 },
            eventTime: Date.parse('2016-05-03T12:15:40Z'),
            eventTimeSource: 'device',
          },
          {
            serviceId: 'Flow',
            serviceData: { flow: '565656', nested: { a: [1] } },
            eventTime: RECEIVED_AT,
            eventTimeSource: 'absent',
          },
        ],
      },
    })
  })

  it('accepts bytes as well as text', () => {
    const payload = Buffer.from(
      JSON.stringify({ msgType: 'deviceReq', data: [{ serviceId: 's', serviceData: {} }] }),
    )
    expect(decodeUplink(payload, RECEIVED_AT).ok).toBe(true)
  })

  it.each([
    ['malformed', '2016-05-03T12:15:40Z'],
    ['not a real date', '20160231T121540Z'],
    ['not a string', 20160503],
  ])('uses the receive time when eventTime is %s, and flags it', (_what, eventTime) => {
    const result = req([{ serviceId: 's', serviceData: { v: 1 }, eventTime }])
    expect(result).toMatchObject({
      ok: true,
      value: { data: [{ eventTime: RECEIVED_AT, eventTimeSource: 'malformed' }] },
    })
  })

  it('treats eventTime null as absent', () => {
    const result = req([{ serviceId: 's', serviceData: {}, eventTime: null }])
    expect(result).toMatchObject({
      ok: true,
      value: { data: [{ eventTime: RECEIVED_AT, eventTimeSource: 'absent' }] },
    })
  })

  it.each([
    ['data missing', undefined, 'data'],
    ['data not an array', { serviceId: 's', serviceData: {} }, 'data'],
    ['data empty', [], 'empty'],
    [
      'more than 100 services',
      Array.from({ length: 101 }, () => ({ serviceId: 's', serviceData: {} })),
      '101',
    ],
    ['an entry not an object', ['s'], 'data[0]'],
    ['an entry an array', [[]], 'data[0]'],
    ['serviceId missing', [{ serviceData: {} }], 'serviceId'],
    ['serviceId empty', [{ serviceId: '', serviceData: {} }], 'serviceId'],
    ['serviceId a number', [{ serviceId: 7, serviceData: {} }], 'serviceId'],
    ['serviceId over 256 characters', [{ serviceId: 'x'.repeat(257), serviceData: {} }], 'serviceId'],
    ['serviceData missing', [{ serviceId: 's' }], 'serviceData'],
    ['serviceData an array', [{ serviceId: 's', serviceData: [1] }], 'serviceData'],
    ['serviceData a string', [{ serviceId: 's', serviceData: '{}' }], 'serviceData'],
    ['serviceData null', [{ serviceId: 's', serviceData: null }], 'serviceData'],
    ['the second entry bad', [{ serviceId: 's', serviceData: {} }, { serviceId: 's' }], 'data[1]'],
  ])('rejects %s', (_what, data, mentions) => {
    const result = req(data)
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error).toContain(mentions)
  })

  it('accepts exactly 100 services and a 256-character serviceId', () => {
    expect(req(Array.from({ length: 100 }, () => ({ serviceId: 'x'.repeat(256), serviceData: {} }))).ok).toBe(
      true,
    )
  })
})

describe('decodeUplink deviceRsp (A.6)', () => {
  it('decodes the spec example', () => {
    expect(rsp({ mid: 1, errcode: 0, body: { result: 0 } })).toEqual({
      ok: true,
      value: { msgType: 'deviceRsp', mid: 1, errcode: 0, body: { result: 0 } },
    })
  })

  it('body is optional (absent or null)', () => {
    expect(rsp({ mid: 65535, errcode: 1 })).toEqual({
      ok: true,
      value: { msgType: 'deviceRsp', mid: 65535, errcode: 1, body: undefined },
    })
    expect(rsp({ mid: 2, errcode: 0, body: null })).toMatchObject({ ok: true, value: { body: undefined } })
  })

  it.each([
    ['mid missing', { errcode: 0 }, 'mid'],
    ['mid 0', { mid: 0, errcode: 0 }, 'mid'],
    ['mid 65536', { mid: 65536, errcode: 0 }, 'mid'],
    ['mid fractional', { mid: 1.5, errcode: 0 }, 'mid'],
    ['mid a string', { mid: '1', errcode: 0 }, 'mid'],
    ['errcode missing', { mid: 1 }, 'errcode'],
    ['errcode a string', { mid: 1, errcode: '0' }, 'errcode'],
    ['errcode fractional', { mid: 1, errcode: 0.5 }, 'errcode'],
    ['body an array', { mid: 1, errcode: 0, body: [] }, 'body'],
    ['body a string', { mid: 1, errcode: 0, body: 'ok' }, 'body'],
  ])('rejects %s', (_what, fields, mentions) => {
    const result = rsp(fields)
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error).toContain(mentions)
  })
})

describe('decodeUplink envelope', () => {
  it.each([
    ['not JSON', '{"msgType":'],
    ['empty', ''],
    ['a JSON array', '[]'],
    ['a JSON string', '"deviceReq"'],
    ['JSON null', 'null'],
    ['msgType missing', '{"data":[]}'],
    [
      'msgType cloudReq (downlink only)',
      '{"msgType":"cloudReq","serviceId":"s","cmd":"c","paras":{},"mid":1}',
    ],
    ['msgType in another case', '{"msgType":"DeviceReq","data":[{"serviceId":"s","serviceData":{}}]}'],
  ])('rejects %s', (_what, payload) => {
    const result = decodeUplink(payload, RECEIVED_AT)
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error.length).toBeGreaterThan(0)
  })
})

describe('device topics (A.2)', () => {
  it('builds and parses data and command topics', () => {
    expect(dataTopic('dev-1')).toBe('/huawei/v1/devices/dev-1/data/json')
    expect(commandTopic('dev-1', 'binary')).toBe('/huawei/v1/devices/dev-1/command/binary')
    expect(parseDeviceTopic(dataTopic('dev-1'))).toEqual({ id: 'dev-1', kind: 'data', codec: 'json' })
    expect(parseDeviceTopic(commandTopic('n_1', 'binary'))).toEqual({
      id: 'n_1',
      kind: 'command',
      codec: 'binary',
    })
  })

  it.each([
    '/huawei/v1/devices/+/data/json',
    '/huawei/v1/devices/#/data/json',
    '/huawei/v1/devices/#',
    '/huawei/v1/devices//data/json',
    '/huawei/v1/devices/dev/data',
    '/huawei/v1/devices/dev/data/json/extra',
    '/huawei/v1/devices/dev/data/xml',
    '/huawei/v1/devices/dev/event/json',
    '/huawei/v1/devices/dev/data/JSON',
    'huawei/v1/devices/dev/data/json',
    '/huawei/v2/devices/dev/data/json',
    'sensors/dev/data/json',
  ])('rejects %j', (topic) => {
    expect(parseDeviceTopic(topic)).toBeUndefined()
  })
})
