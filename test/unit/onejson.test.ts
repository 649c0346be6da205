import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  decodeInvokeReply,
  encodeInvoke,
  invokeFilter,
  invokeReplyFilter,
  invokeTopic,
  isSuccessCode,
  oneJsonMayPublish,
  oneJsonMaySubscribe,
  oneJsonToken,
  parseOneJsonTopic,
  verifyOneJsonToken,
} from '../../src/protocols/onejson.ts'

const PID = 'pid123'
const NAME = 'lamp-01'
const SESSION = { pid: PID, deviceName: NAME }

describe('OneJSON topics (B.2/B.3)', () => {
  it('builds the invoke topic and the filters', () => {
    expect(invokeTopic(PID, NAME, 'SetPower')).toBe('$sys/pid123/lamp-01/thing/service/SetPower/invoke')
    expect(invokeFilter(PID, NAME)).toBe('$sys/pid123/lamp-01/thing/service/+/invoke')
    expect(invokeReplyFilter(PID, NAME)).toBe('$sys/pid123/lamp-01/thing/service/+/invoke_reply')
  })

  it('round-trips invoke and invoke_reply topics', () => {
    expect(parseOneJsonTopic(invokeTopic(PID, NAME, 'SetPower'))).toEqual({
      pid: PID,
      deviceName: NAME,
      identifier: 'SetPower',
      kind: 'invoke',
    })
    expect(parseOneJsonTopic('$sys/pid123/lamp-01/thing/service/SetPower/invoke_reply')).toEqual({
      pid: PID,
      deviceName: NAME,
      identifier: 'SetPower',
      kind: 'invoke_reply',
    })
  })

  it('refuses to build a topic from a non-concrete level', () => {
    expect(() => invokeTopic(PID, NAME, '+')).toThrow(/identifier/)
    expect(() => invokeTopic(PID, 'a/b', 'x')).toThrow(/deviceName/)
    expect(() => invokeTopic('', NAME, 'x')).toThrow(/pid/)
    expect(() => invokeFilter(PID, '#')).toThrow(/deviceName/)
  })

  it.each([
    ['$sys/pid123/lamp-01/thing/service/+/invoke', 'wildcard identifier'],
    ['$sys/pid123/+/thing/service/x/invoke', 'wildcard device name'],
    ['$sys/+/lamp-01/thing/service/x/invoke', 'wildcard pid'],
    ['$sys/pid123/lamp-01/thing/service/#', 'multi-level wildcard'],
    ['$sys/pid123/lamp-01/thing/service/a#/invoke', 'wildcard character inside a level'],
    ['$sys/pid123//thing/service/x/invoke', 'empty device name'],
    ['$sys/pid123/lamp-01/thing/service//invoke', 'empty identifier'],
    ['$sys/pid123/lamp-01/thing/service/x/invoke/', 'trailing slash'],
    ['$sys/pid123/lamp-01/thing/service/x/y/invoke', 'too many levels'],
    ['$sys/pid123/lamp-01/thing/service/invoke', 'too few levels'],
    ['$sys/pid123/lamp-01/thing/service/x/set', 'unknown kind'],
    ['$sys/pid123/lamp-01/thing/property/x/invoke', 'not a service topic'],
    ['sys/pid123/lamp-01/thing/service/x/invoke', 'missing $'],
    ['/huawei/v1/devices/d/data/json', 'platform topic'],
    ['', 'empty topic'],
  ])('rejects %s (%s)', (topic) => {
    expect(parseOneJsonTopic(topic)).toBeUndefined()
  })
})

describe('OneJSON ACL (B.4 note 6)', () => {
  it('allows publishing its own invoke_reply', () => {
    expect(oneJsonMayPublish(SESSION, '$sys/pid123/lamp-01/thing/service/SetPower/invoke_reply')).toBe(true)
  })

  it.each([
    ['$sys/pid123/lamp-01/thing/service/SetPower/invoke', 'invoke is the downlink direction'],
    ['$sys/pid123/lamp-02/thing/service/SetPower/invoke_reply', 'another device'],
    ['$sys/pid999/lamp-01/thing/service/SetPower/invoke_reply', 'another pid'],
    ['$sys/pid123/lamp-01/thing/service/+/invoke_reply', 'wildcard identifier'],
    ['$sys/pid123/lamp-01/thing/service/#', 'multi-level wildcard'],
    ['$sys/pid123/lamp-01/thing/property/post', 'other $sys topic'],
  ])('denies publishing %s (%s)', (topic) => {
    expect(oneJsonMayPublish(SESSION, topic)).toBe(false)
  })

  it.each([
    '$sys/pid123/lamp-01/thing/service/+/invoke',
    '$sys/pid123/lamp-01/thing/service/SetPower/invoke',
  ])('allows subscribing to %s', (filter) => {
    expect(oneJsonMaySubscribe(SESSION, filter)).toBe(true)
  })

  it.each([
    ['$sys/pid123/lamp-01/thing/service/+/invoke_reply', 'invoke_reply is the uplink direction'],
    ['$sys/pid123/lamp-01/thing/service/SetPower/invoke_reply', 'concrete invoke_reply'],
    ['$sys/pid123/lamp-02/thing/service/+/invoke', 'another device'],
    ['$sys/pid999/lamp-01/thing/service/+/invoke', 'another pid'],
    ['$sys/pid123/+/thing/service/+/invoke', 'wildcard device name'],
    ['$sys/+/lamp-01/thing/service/+/invoke', 'wildcard pid'],
    ['$sys/pid123/lamp-01/thing/service/#', '# under its own service tree'],
    ['$sys/pid123/lamp-01/#', '# under its own device'],
    ['#', 'everything'],
    ['$sys/pid123/lamp-01/thing/service/#/invoke', '# as identifier'],
    ['$sys/pid123/lamp-01/thing/service/a+/invoke', 'partial wildcard identifier'],
    ['$sys/pid123/lamp-01/thing/service//invoke', 'empty identifier'],
    ['$sys/pid123/lamp-01/thing/service/+/+', 'wildcard kind'],
    ['$share/g/$sys/pid123/lamp-01/thing/service/+/invoke', 'shared subscription'],
  ])('denies subscribing to %s (%s)', (filter) => {
    expect(oneJsonMaySubscribe(SESSION, filter)).toBe(false)
  })

  it('denies everything to a session whose own names are not concrete', () => {
    const odd = { pid: PID, deviceName: '+' }
    expect(oneJsonMaySubscribe(odd, '$sys/pid123/+/thing/service/+/invoke')).toBe(false)
    expect(
      oneJsonMayPublish({ pid: '', deviceName: NAME }, '$sys//lamp-01/thing/service/x/invoke_reply'),
    ).toBe(false)
  })
})

describe('encodeInvoke (B.2)', () => {
  it('encodes id, version and params, version defaulting to 1.0', () => {
    const text = encodeInvoke({ id: '123', params: { Power1: 'on', WF1: '2' } })
    expect(JSON.parse(text)).toEqual({ id: '123', version: '1.0', params: { Power1: 'on', WF1: '2' } })
    expect(text).toBe('{"id":"123","version":"1.0","params":{"Power1":"on","WF1":"2"}}')
  })

  it('keeps an explicit version and accepts 13 digits', () => {
    expect(JSON.parse(encodeInvoke({ id: '1234567890123', version: '2.1', params: {} }))).toEqual({
      id: '1234567890123',
      version: '2.1',
      params: {},
    })
  })

  it.each([
    ['12345678901234', '14 digits'],
    ['12a', 'letters'],
    ['', 'empty'],
    [' 12', 'whitespace'],
    ['-1', 'sign'],
  ])('rejects id %j (%s)', (id) => {
    expect(() => encodeInvoke({ id, params: {} })).toThrow(/id must be a string of 1-13 digits/)
  })

  it('rejects a numeric id at runtime', () => {
    expect(() => encodeInvoke({ id: 123 as unknown as string, params: {} })).toThrow(/id/)
  })

  it.each<[unknown, string]>([
    [null, 'null'],
    [[1, 2], 'array'],
    ['x', 'string'],
    [new Date(0), 'Date'],
  ])('rejects params %j (%s)', (params) => {
    expect(() => encodeInvoke({ id: '1', params: params as unknown as Record<string, unknown> })).toThrow(
      /params must be a plain JSON object/,
    )
  })

  it('rejects an empty version', () => {
    expect(() => encodeInvoke({ id: '1', version: '', params: {} })).toThrow(/version/)
  })
})

describe('decodeInvokeReply (B.3)', () => {
  it('decodes the spec example', () => {
    const text = '{"id":"123","code":200,"msg":"xxxx","data":{"result1":"on","result2":"2"}}'
    expect(decodeInvokeReply(Buffer.from(text))).toEqual({
      ok: true,
      value: { id: '123', code: 200, msg: 'xxxx', data: { result1: 'on', result2: '2' } },
    })
  })

  it('leaves msg and data undefined when absent or null', () => {
    expect(decodeInvokeReply('{"id":"1","code":500}')).toEqual({
      ok: true,
      value: { id: '1', code: 500, msg: undefined, data: undefined },
    })
    expect(decodeInvokeReply('{"id":"1","code":500,"msg":null,"data":null}')).toEqual({
      ok: true,
      value: { id: '1', code: 500, msg: undefined, data: undefined },
    })
  })

  it('accepts a numeric id of at most 13 digits and converts it to a string', () => {
    expect(decodeInvokeReply('{"id":123,"code":200}')).toMatchObject({ ok: true, value: { id: '123' } })
    expect(decodeInvokeReply('{"id":0,"code":200}')).toMatchObject({ ok: true, value: { id: '0' } })
    expect(decodeInvokeReply('{"id":9999999999999,"code":200}')).toMatchObject({
      ok: true,
      value: { id: '9999999999999' },
    })
  })

  it.each([
    ['not json', 'payload is not JSON'],
    ['[1]', 'payload is not a JSON object'],
    ['null', 'payload is not a JSON object'],
    ['{"code":200}', 'invoke_reply.id must be a string of 1-13 digits'],
    ['{"id":"","code":200}', 'invoke_reply.id'],
    ['{"id":"12345678901234","code":200}', 'invoke_reply.id'],
    ['{"id":"12a","code":200}', 'invoke_reply.id'],
    ['{"id":10000000000000,"code":200}', 'invoke_reply.id'],
    ['{"id":-1,"code":200}', 'invoke_reply.id'],
    ['{"id":1.5,"code":200}', 'invoke_reply.id'],
    ['{"id":"1"}', 'invoke_reply.code must be an integer'],
    ['{"id":"1","code":"200"}', 'invoke_reply.code must be an integer'],
    ['{"id":"1","code":200.5}', 'invoke_reply.code must be an integer'],
    ['{"id":"1","code":200,"msg":5}', 'invoke_reply.msg must be a string'],
    ['{"id":"1","code":200,"data":[1]}', 'invoke_reply.data must be a JSON object'],
    ['{"id":"1","code":200,"data":"x"}', 'invoke_reply.data must be a JSON object'],
  ])('rejects %s', (text, error) => {
    const result = decodeInvokeReply(text)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error).toContain(error)
  })
})

describe('isSuccessCode (B.4 note 1)', () => {
  it('is true only for 200', () => {
    expect(isSuccessCode(200)).toBe(true)
    expect(isSuccessCode(0)).toBe(false)
    expect(isSuccessCode(201)).toBe(false)
    expect(isSuccessCode(500)).toBe(false)
  })
})

describe('OneJSON device token', () => {
  const SECRET = 'device-secret-1'
  const NOW = 1_700_000_000
  const EXP = NOW + 3600
  const token = (over: Partial<Parameters<typeof oneJsonToken>[0]> = {}): string =>
    oneJsonToken({ pid: PID, deviceName: NAME, secret: SECRET, expiresAt: EXP, ...over })
  const verify = (
    t: string | Buffer | undefined,
    over: Partial<Parameters<typeof verifyOneJsonToken>[0]> = {},
  ) => verifyOneJsonToken({ token: t, pid: PID, deviceName: NAME, secret: SECRET, nowSeconds: NOW, ...over })
  const expectFail = (result: ReturnType<typeof verifyOneJsonToken>, reason: RegExp): void => {
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toMatch(reason)
  }

  it('matches a known-answer vector built by hand', () => {
    const et = 1893456000
    const res = 'products/AbC123/devices/dev_1'
    const stringToSign = `${et}\nsha256\n${res}\n2018-10-31`
    const sign = createHmac('sha256', Buffer.from('s3cr3t', 'utf8')).update(stringToSign).digest('base64')
    // Pinned, also computed with: printf '1893456000\nsha256\nproducts/AbC123/devices/dev_1\n2018-10-31' |
    //   openssl dgst -sha256 -hmac s3cr3t -binary | base64
    expect(sign).toBe('npEd1Mo0dI4OXvTtizVj/UjpkHDwAn/3+BhuEcG5oM4=')
    const expected =
      `version=2018-10-31&res=products%2FAbC123%2Fdevices%2Fdev_1&et=${et}&method=sha256` +
      `&sign=${encodeURIComponent(sign)}`
    expect(oneJsonToken({ pid: 'AbC123', deviceName: 'dev_1', secret: 's3cr3t', expiresAt: et })).toBe(
      expected,
    )
    expect(
      verifyOneJsonToken({
        token: expected,
        pid: 'AbC123',
        deviceName: 'dev_1',
        secret: 's3cr3t',
        nowSeconds: NOW,
      }),
    ).toEqual({ ok: true })
  })

  it.each(['md5', 'sha1', 'sha256'] as const)(
    'a generated %s token verifies (string and Buffer)',
    (method) => {
      const t = token({ method })
      expect(t).toContain(`&method=${method}&`)
      expect(verify(t)).toEqual({ ok: true })
      expect(verify(Buffer.from(t))).toEqual({ ok: true })
    },
  )

  it('accepts a sign whose + was not URL-encoded', () => {
    // Find a token whose signature contains '+', then undo its URL encoding.
    let t = ''
    for (let exp = EXP; !t.includes('%2B'); exp++) t = token({ expiresAt: exp })
    expect(verify(t.replaceAll('%2B', '+'))).toEqual({ ok: true })
  })

  it('fails once expired (et must be later than now)', () => {
    expectFail(verify(token(), { nowSeconds: EXP }), /expired/)
    expectFail(verify(token(), { nowSeconds: EXP + 1 }), /expired/)
    expect(verify(token(), { nowSeconds: EXP - 1 })).toEqual({ ok: true })
  })

  it('fails with the wrong secret', () => {
    expectFail(verify(token(), { secret: 'other' }), /signature/)
  })

  it('fails for another device or pid', () => {
    expectFail(verify(token(), { deviceName: 'lamp-02' }), /res/)
    expectFail(verify(token(), { pid: 'pid999' }), /res/)
  })

  it('fails with a tampered sign or a tampered et', () => {
    const t = token()
    const sign = new URLSearchParams(t).get('sign')!
    const flipped = `${sign[0] === 'A' ? 'B' : 'A'}${sign.slice(1)}`
    expectFail(verify(t.replace(/sign=.*$/, `sign=${encodeURIComponent(flipped)}`)), /signature/)
    expectFail(verify(t.replace(/sign=.*$/, 'sign=short')), /signature/)
    expectFail(verify(t.replace(`et=${EXP}`, `et=${EXP + 1}`)), /signature/)
    expectFail(verify(t.replace('method=sha256', 'method=sha1')), /signature/)
  })

  it('fails with an unknown method or version', () => {
    expectFail(verify(token().replace('method=sha256', 'method=sha512')), /method/)
    expectFail(verify(token().replace('version=2018-10-31', 'version=2020-01-01')), /version/)
  })

  it.each([
    ['', /no version/],
    ['garbage', /no version/],
    ['%%%&&&==', /no version/],
    ['version=2018-10-31&res=x', /no et/],
  ])('fails on garbage %j', (t, reason) => {
    expectFail(verify(t), reason)
  })

  it('fails on a missing token, duplicated keys and a non-integer et', () => {
    expectFail(verify(undefined), /no token/)
    expectFail(verify(`${token()}&sign=abc`), /sign more than once/)
    expectFail(verify(token().replace(`et=${EXP}`, 'et=1.5e9')), /et must be an integer/)
    expectFail(verify(token().replace(`et=${EXP}`, 'et=-5')), /et must be an integer/)
  })

  it('refuses to generate a token with bad options', () => {
    expect(() => token({ expiresAt: 1.5 })).toThrow(/expiresAt/)
    expect(() => token({ method: 'sha512' as 'sha256' })).toThrow(/method/)
    expect(() => token({ deviceName: '' })).toThrow(/deviceName/)
  })
})
