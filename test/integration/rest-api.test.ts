// The platform REST subset over real HTTP on loopback (spec platform-rest-api.md §1, §3, §4.2, §4.5, §4.9, §5.1).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  connectDevice,
  deviceReq,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'

// Two applications from the config file (gateway config `apps`).
const APP_A = { appId: 'site-a', secret: 'secret-of-site-a' }
const APP_B = { appId: 'site-b', secret: 'secret-of-site-b' }
const BODY_LIMIT = 4096

// error_desc strings of spec §12.
const SPEC_DESC: Record<string, string> = {
  '50400': 'The input is invalid.',
  '100025': 'AppId for auth not exist.',
  '100208': 'AppId or secret is not right.',
  '100217': "The application hasn't been authorized.",
  '100225': 'The resource is not found',
  '100403': 'The device is not existed.',
  '100405': 'The request parameter is invalid.',
  '100418': 'The deviceData is not existed.',
  '100426': 'The nodeId is duplicated.',
  '102202': 'Required Parameter is null or empty.',
  '600002': 'The product not existed.',
  '1010005': 'Invalid access token or appId.',
}

const PLATFORM_TIME = /^\d{8}T\d{6}Z$/
const LOGIN = '/iocm/app/sec/v1.1.0/login'
const REFRESH = '/iocm/app/sec/v1.1.0/refreshToken'
const REGISTER = '/iocm/app/reg/v2.0.0/deviceCredentials'
const devicePath = (deviceId: string) => `/iocm/app/dm/v1.4.0/devices/${deviceId}`
const shadowPath = (deviceId: string) => `/iocm/app/shadow/v1.5.0/devices/${deviceId}`

interface Reply {
  status: number
  contentType: string | null
  text: string
  body: unknown
}

interface Tokens {
  scope: string
  tokenType: string
  expiresIn: number
  accessToken: string
  refreshToken: string
}

interface DeviceView {
  deviceId: string
  gatewayId: string
  nodeType: string
  createTime: string
  lastModifiedTime: string
  deviceInfo: Record<string, unknown>
  services: Record<string, unknown>[]
}

let gw: RunningGateway
let nodes = 0
/** A nodeId no other test uses. */
const newNodeId = (prefix = 'node') => `${prefix}-${++nodes}`

beforeAll(async () => {
  gw = await startGateway({
    config: (c) => {
      c.apps = [
        { ...APP_A, name: 'Site A' },
        { ...APP_B, name: 'Site B' },
      ]
      c.http.bodyLimitBytes = BODY_LIMIT
    },
  })
})

afterAll(async () => {
  await gw.stop()
  removeDir(gw.dataDir)
})

/** One HTTP request; never throws on an error status. */
async function call(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; json?: unknown; raw?: string } = {},
): Promise<Reply> {
  const headers = { ...opts.headers }
  let body: string | undefined = opts.raw
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.json)
  }
  const res = await fetch(`${gw.httpUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = text
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, body: parsed }
}

/** Asserts a platform error answer: status, `{error_code, error_desc}` of spec §1.3/§12, nothing else. */
function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, body: reply.body }).toEqual({
    status,
    body: { error_code: code, error_desc: SPEC_DESC[code] },
  })
  expect(reply.contentType).toMatch(/^application\/json/)
}

const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  raw: new URLSearchParams(fields).toString(),
})

const loginReply = (fields: Record<string, string>) => call('POST', LOGIN, form(fields))

/** app_key + Bearer headers for a token, without the JSON content type. */
const authHeaders = (appId: string, accessToken: string) => ({
  app_key: appId,
  authorization: `Bearer ${accessToken}`,
})

const getDevice = (session: Pick<AppSession, 'headers'>, deviceId: string, query = '') =>
  call('GET', `${devicePath(deviceId)}${query}`, { headers: session.headers })

const getShadow = (session: Pick<AppSession, 'headers'>, deviceId: string) =>
  call('GET', shadowPath(deviceId), { headers: session.headers })

const register = (session: AppSession, body: unknown) =>
  call('POST', REGISTER, { headers: session.headers, json: body })

/** Logs in and registers one device for the app: the common start of the device tests. */
async function sessionWithDevice(app = APP_A, nodeId = newNodeId()) {
  const session = await login(gw.httpUrl, app)
  const device = await registerDevice(gw.httpUrl, session, nodeId)
  return { session, device }
}

describe('§3.1 login', () => {
  it('answers the token pair with the fixed scope, tokenType and lifetime', async () => {
    const reply = await loginReply(APP_A)
    expect(reply.status).toBe(200)
    expect(reply.contentType).toMatch(/^application\/json/)
    const tokens = reply.body as Tokens
    expect(Object.keys(tokens).sort()).toEqual([
      'accessToken',
      'expiresIn',
      'refreshToken',
      'scope',
      'tokenType',
    ])
    expect(tokens.scope).toBe('default')
    expect(tokens.tokenType).toBe('Bearer ')
    expect(tokens.expiresIn).toBe(3600)
    expect(tokens.accessToken.length).toBeGreaterThan(16)
    expect(tokens.refreshToken.length).toBeGreaterThan(16)
    expect(tokens.accessToken).not.toBe(tokens.refreshToken)
  })

  it('a config-file application logs in with its configured secret and its token works', async () => {
    const tokens = (await loginReply(APP_B)).body as Tokens
    const reply = await getDevice({ headers: authHeaders(APP_B.appId, tokens.accessToken) }, 'nobody')
    expectError(reply, 404, '100403') // authenticated: the device, not the token, is what is missing
  })

  it('with applications in the config, no first application is created', () => {
    expect(existsSync(join(gw.dataDir, 'first-app.json'))).toBe(false)
  })

  it.each([
    ['a wrong secret', { appId: APP_A.appId, secret: 'not-the-secret' }],
    ['the secret of another app', { appId: APP_A.appId, secret: APP_B.secret }],
    ['an unknown appId', { appId: 'no-such-app', secret: APP_A.secret }],
  ])('refuses %s with 401 100208', async (_what, fields) => {
    expectError(await loginReply(fields), 401, '100208')
  })

  it.each([
    ['no secret', { appId: APP_A.appId }],
    ['no appId', { secret: APP_A.secret }],
    ['an empty secret', { appId: APP_A.appId, secret: '' }],
    ['an empty form', {}],
  ])('refuses %s with 400 102202', async (_what, fields) => {
    expectError(await loginReply(fields), 400, '102202')
  })

  it('refuses a request without any body with 400 102202', async () => {
    expectError(await call('POST', LOGIN), 400, '102202')
  })

  it('accepts a JSON body as well as the form', async () => {
    const reply = await call('POST', LOGIN, { json: APP_A })
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ scope: 'default', tokenType: 'Bearer ', expiresIn: 3600 })
  })

  it('refuses malformed JSON or wrongly typed fields with a 400, never a 500', async () => {
    const broken = await call('POST', LOGIN, {
      headers: { 'content-type': 'application/json' },
      raw: '{"appId":',
    })
    expectError(broken, 400, '50400')
    expectError(await call('POST', LOGIN, { json: { appId: 1, secret: 2 } }), 400, '102202')
  })

  it('a second login voids the first accessToken (spec §1.4)', async () => {
    const { session: first, device } = await sessionWithDevice()
    const second = await login(gw.httpUrl, APP_A)
    expectError(await getDevice(first, device.deviceId), 403, '1010005')
    expect((await getDevice(second, device.deviceId)).status).toBe(200)
  })

  it("one app's login does not void another app's token", async () => {
    const { session, device } = await sessionWithDevice(APP_A)
    await login(gw.httpUrl, APP_B)
    expect((await getDevice(session, device.deviceId)).status).toBe(200)
  })
})

describe('§3.2 refreshToken', () => {
  const refresh = (fields: Record<string, unknown>) => call('POST', REFRESH, { json: fields })

  it('returns a new pair; the old accessToken stops working and the new one works', async () => {
    const { device } = await sessionWithDevice()
    const first = (await loginReply(APP_A)).body as Tokens
    const reply = await refresh({ ...APP_A, refreshToken: first.refreshToken })
    expect(reply.status).toBe(200)
    const next = reply.body as Tokens
    expect(next).toMatchObject({ scope: 'default', tokenType: 'Bearer ', expiresIn: 3600 })
    expect(next.accessToken).not.toBe(first.accessToken)
    expect(next.refreshToken).not.toBe(first.refreshToken)

    const withToken = (token: string) => ({ headers: authHeaders(APP_A.appId, token) })
    expectError(await getDevice(withToken(first.accessToken), device.deviceId), 403, '1010005')
    expect((await getDevice(withToken(next.accessToken), device.deviceId)).status).toBe(200)
  })

  it('a refreshToken that was already used is refused with 400 50400', async () => {
    const first = (await loginReply(APP_A)).body as Tokens
    expect((await refresh({ ...APP_A, refreshToken: first.refreshToken })).status).toBe(200)
    expectError(await refresh({ ...APP_A, refreshToken: first.refreshToken }), 400, '50400')
  })

  it('a wrong refreshToken is 400 50400 and leaves the current accessToken working', async () => {
    const { session, device } = await sessionWithDevice()
    expectError(await refresh({ ...APP_A, refreshToken: 'not-a-refresh-token' }), 400, '50400')
    expect((await getDevice(session, device.deviceId)).status).toBe(200)
  })

  it("another app's refreshToken is 400 50400", async () => {
    const b = (await loginReply(APP_B)).body as Tokens
    expectError(await refresh({ ...APP_A, refreshToken: b.refreshToken }), 400, '50400')
  })

  it('a wrong secret is 401 100208', async () => {
    const tokens = (await loginReply(APP_A)).body as Tokens
    expectError(
      await refresh({ appId: APP_A.appId, secret: 'wrong-secret', refreshToken: tokens.refreshToken }),
      401,
      '100208',
    )
  })

  it('a missing field is 400 102202', async () => {
    expectError(await refresh({ ...APP_A }), 400, '102202')
    expectError(await refresh({ appId: APP_A.appId, refreshToken: 'x' }), 400, '102202')
  })
})

describe('§1.2 authentication of the other APIs', () => {
  it('a missing app_key is 401 100025', async () => {
    const { session, device } = await sessionWithDevice()
    const reply = await call('GET', devicePath(device.deviceId), {
      headers: { authorization: `Bearer ${session.accessToken}` },
    })
    expectError(reply, 401, '100025')
  })

  it('x-app-key is accepted as an alias of app_key', async () => {
    const { session, device } = await sessionWithDevice()
    const reply = await call('GET', devicePath(device.deviceId), {
      headers: { 'x-app-key': APP_A.appId, authorization: `Bearer ${session.accessToken}` },
    })
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ deviceId: device.deviceId })
  })

  it.each([
    ['no Authorization', undefined],
    ['a garbage token', 'Bearer garbage'],
    ['an empty Bearer', 'Bearer '],
    ['the token without "Bearer"', 'TOKEN'],
    ['another scheme', 'Basic TOKEN'],
  ])('%s is 403 1010005', async (_what, authorization) => {
    const { session, device } = await sessionWithDevice()
    const headers: Record<string, string> = { app_key: APP_A.appId }
    if (authorization !== undefined)
      headers.authorization = authorization.replace('TOKEN', session.accessToken)
    expectError(await call('GET', devicePath(device.deviceId), { headers }), 403, '1010005')
  })

  it("app A's token with app B's app_key is 403 1010005", async () => {
    const { session, device } = await sessionWithDevice(APP_A)
    await login(gw.httpUrl, APP_B)
    const reply = await getDevice({ headers: authHeaders(APP_B.appId, session.accessToken) }, device.deviceId)
    expectError(reply, 403, '1010005')
  })

  it('an appId query naming another application is 403 100217; naming itself is fine', async () => {
    const { session, device } = await sessionWithDevice()
    expectError(await getDevice(session, device.deviceId, `?appId=${APP_B.appId}`), 403, '100217')
    expect((await getDevice(session, device.deviceId, `?appId=${APP_A.appId}`)).status).toBe(200)
  })
})

describe('§4.2 register device (password mode)', () => {
  it('answers {deviceId, psk, secret} and echoes the given secret', async () => {
    const session = await login(gw.httpUrl, APP_A)
    const secret = 'a1b2c3d4e5f60718293a'
    const reply = await register(session, { deviceInfo: { nodeId: newNodeId() }, mqttConnect: true, secret })
    expect(reply.status).toBe(200)
    const body = reply.body as { deviceId: string; psk: string; secret: string }
    expect(Object.keys(body).sort()).toEqual(['deviceId', 'psk', 'secret'])
    expect(body.secret).toBe(secret)
    expect(body.deviceId.length).toBeGreaterThan(0)
    expect(body.psk).toMatch(/^[0-9a-fA-F]{8,32}$/)
  })

  it('generates a secret of 20 lowercase hex digits, different for each device', async () => {
    const session = await login(gw.httpUrl, APP_A)
    const one = (await register(session, { deviceInfo: { nodeId: newNodeId() } })).body as Record<
      string,
      string
    >
    const two = (await register(session, { deviceInfo: { nodeId: newNodeId() } })).body as Record<
      string,
      string
    >
    expect(one.secret).toMatch(/^[0-9a-f]{20}$/)
    expect(two.secret).toMatch(/^[0-9a-f]{20}$/)
    expect(one.secret).not.toBe(two.secret)
    expect(one.deviceId).not.toBe(two.deviceId)
  })

  it('a device registered with an upper-case secret connects with exactly that secret', async () => {
    const session = await login(gw.httpUrl, APP_A)
    const secret = 'A1B2C3D4E5F60718293A'
    const device = await registerDevice(gw.httpUrl, session, newNodeId(), secret)
    expect(device.secret).toBe(secret)
    const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret })
    await client.endAsync()
  })

  it('a duplicate nodeId is 400 100426', async () => {
    const { session, device } = await sessionWithDevice()
    expectError(await register(session, { deviceInfo: { nodeId: device.nodeId } }), 400, '100426')
  })

  it.each([
    ['19 digits', 'a1b2c3d4e5f60718293'],
    ['21 digits', 'a1b2c3d4e5f60718293a0'],
    ['non-hex characters', 'g1b2c3d4e5f60718293a'],
    ['empty', ''],
    ['a number', 1234567890],
  ])('a secret of %s is 400 50400', async (_what, secret) => {
    const session = await login(gw.httpUrl, APP_A)
    expectError(await register(session, { deviceInfo: { nodeId: newNodeId() }, secret }), 400, '50400')
  })

  it.each([
    ['no deviceInfo', { mqttConnect: true }],
    ['deviceInfo without nodeId', { deviceInfo: { name: 'x' } }],
    ['an empty nodeId', { deviceInfo: { nodeId: '' } }],
    ['a nodeId of 257 characters', { deviceInfo: { nodeId: 'n'.repeat(257) } }],
    ['deviceInfo a string', { deviceInfo: 'node-x' }],
    ['a JSON array', [{ deviceInfo: { nodeId: 'node-x' } }]],
    ['mqttConnect "yes"', { deviceInfo: { nodeId: 'node-x' }, mqttConnect: 'yes' }],
    ['mqttConnect "true"', { deviceInfo: { nodeId: 'node-x' }, mqttConnect: 'true' }],
  ])('%s is 400 50400', async (_what, body) => {
    const session = await login(gw.httpUrl, APP_A)
    expectError(await register(session, body), 400, '50400')
  })

  it('a body over http.bodyLimitBytes is 400 50400, never 500', async () => {
    const session = await login(gw.httpUrl, APP_A)
    const body = { deviceInfo: { nodeId: newNodeId(), name: 'n'.repeat(BODY_LIMIT) } }
    expectError(await register(session, body), 400, '50400')
  })

  it('a numeric nodeId is 400 50400 and is not coerced into a registration', async () => {
    const session = await login(gw.httpUrl, APP_A)
    expectError(await register(session, { deviceInfo: { nodeId: 987654 } }), 400, '50400')
    expect((await register(session, { deviceInfo: { nodeId: '987654' } })).status).toBe(200)
  })

  it('a productId is 403 600002 (no product exists) and registers nothing', async () => {
    const session = await login(gw.httpUrl, APP_A)
    const nodeId = newNodeId()
    expectError(await register(session, { deviceInfo: { nodeId }, productId: 'p-1' }), 403, '600002')
    expect((await register(session, { deviceInfo: { nodeId } })).status).toBe(200)
  })

  it.each([
    ['malformed JSON', 'application/json', '{"deviceInfo":'],
    ['an empty JSON body', 'application/json', ''],
    ['plain text', 'text/plain', 'nodeId=x'],
    ['a form', 'application/x-www-form-urlencoded', 'deviceInfo=x'],
    ['an unsupported content type', 'application/xml', '<deviceInfo/>'],
  ])('%s is 400 50400, never 500', async (_what, contentType, raw) => {
    const session = await login(gw.httpUrl, APP_A)
    const headers = { ...authHeaders(APP_A.appId, session.accessToken), 'content-type': contentType }
    expectError(await call('POST', REGISTER, { headers, raw }), 400, '50400')
  })
})

describe('§5.1 query one device', () => {
  it('answers the device with status INACTIVE and no services before any data', async () => {
    const session = await login(gw.httpUrl, APP_A)
    const nodeId = newNodeId('meter')
    const registeredAt = Math.floor(Date.now() / 1000) * 1000
    const reg = await register(session, {
      deviceInfo: {
        nodeId,
        name: 'Meter 1',
        manufacturerName: 'Acme',
        deviceType: 'WaterMeter',
        model: 'W1',
      },
      mqttConnect: true,
    })
    const { deviceId } = reg.body as { deviceId: string }
    const reply = await getDevice(session, deviceId)
    expect(reply.status).toBe(200)
    const view = reply.body as DeviceView
    expect(view).toMatchObject({
      deviceId,
      gatewayId: deviceId,
      nodeType: 'ENDPOINT',
      deviceInfo: {
        nodeId,
        name: 'Meter 1',
        manufacturerName: 'Acme',
        deviceType: 'WaterMeter',
        model: 'W1',
        status: 'INACTIVE',
      },
      services: [],
    })
    expect(view.createTime).toMatch(PLATFORM_TIME)
    expect(view.lastModifiedTime).toMatch(PLATFORM_TIME)
    expect(platformTimeMs(view.createTime)).toBeGreaterThanOrEqual(registeredAt)
    expect(platformTimeMs(view.createTime)).toBeLessThanOrEqual(Date.now())
    expect(view.deviceInfo).not.toHaveProperty('imsi')
  })

  it('select=imsi adds deviceInfo.imsi; another select value is 400 100405', async () => {
    const { session, device } = await sessionWithDevice()
    const view = (await getDevice(session, device.deviceId, '?select=imsi')).body as DeviceView
    expect(view.deviceInfo).toHaveProperty('imsi')
    expectError(await getDevice(session, device.deviceId, '?select=secret'), 400, '100405')
  })

  it('an unknown device is 404 100403', async () => {
    const session = await login(gw.httpUrl, APP_A)
    expectError(await getDevice(session, 'no-such-device'), 404, '100403')
  })

  it("another application's device is 404 100403", async () => {
    const { device } = await sessionWithDevice(APP_A)
    const b = await login(gw.httpUrl, APP_B)
    expectError(await getDevice(b, device.deviceId), 404, '100403')
  })

  it('never shows the device secret', async () => {
    const { session, device } = await sessionWithDevice()
    const reply = await getDevice(session, device.deviceId, '?select=imsi')
    expect(reply.text).not.toContain(device.secret)
  })
})

describe('§4.9 query device shadow', () => {
  it('an unknown device is 404 100418', async () => {
    const session = await login(gw.httpUrl, APP_A)
    expectError(await getShadow(session, 'no-such-device'), 404, '100418')
  })

  it("another application's device is 404 100418", async () => {
    const { device } = await sessionWithDevice(APP_A)
    const b = await login(gw.httpUrl, APP_B)
    expectError(await getShadow(b, device.deviceId), 404, '100418')
  })

  it('shows the reported data of a published deviceReq, merged per service', async () => {
    const { session, device } = await sessionWithDevice()
    const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
    try {
      const topic = `/huawei/v1/devices/${device.deviceId}/data/json`
      await client.publishAsync(
        topic,
        deviceReq([
          { serviceId: 'Water', serviceData: { flow: 12.5, valve: 'open' }, eventTime: '20260301T080000Z' },
        ]),
        { qos: 1 },
      )
      await client.publishAsync(
        topic,
        deviceReq([
          { serviceId: 'Water', serviceData: { flow: 13 }, eventTime: '20260301T080500Z' },
          { serviceId: 'Battery', serviceData: { batteryLevel: 75 }, eventTime: '20260301T080500Z' },
        ]),
        { qos: 1 },
      )

      const reply = await getShadow(session, device.deviceId)
      expect(reply.status).toBe(200)
      const shadow = reply.body as DeviceView
      expect(shadow).toMatchObject({
        deviceId: device.deviceId,
        gatewayId: device.deviceId,
        nodeType: 'ENDPOINT',
        deviceInfo: { nodeId: device.nodeId, status: 'ONLINE' },
      })
      expect(shadow.createTime).toMatch(PLATFORM_TIME)
      expect(shadow.lastModifiedTime).toMatch(PLATFORM_TIME)
      const byService = Object.fromEntries(shadow.services.map((s) => [s.serviceId, s]))
      expect(byService).toEqual({
        Water: {
          serviceId: 'Water',
          serviceType: 'Water',
          reportedProps: { flow: 13, valve: 'open' },
          desiredProps: {},
          eventTime: '20260301T080500Z',
        },
        Battery: {
          serviceId: 'Battery',
          serviceType: 'Battery',
          reportedProps: { batteryLevel: 75 },
          desiredProps: {},
          eventTime: '20260301T080500Z',
        },
      })

      // §5.1 shows the same latest data as services[].data.
      const view = (await getDevice(session, device.deviceId)).body as DeviceView
      expect(view.services).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ serviceId: 'Water', data: { flow: 13, valve: 'open' } }),
          expect.objectContaining({ serviceId: 'Battery', data: { batteryLevel: 75 } }),
        ]),
      )
    } finally {
      await client.endAsync()
    }
  })
})

describe('§4.5 delete device', () => {
  const remove = (session: Pick<AppSession, 'headers'>, deviceId: string) =>
    call('DELETE', devicePath(deviceId), { headers: session.headers })

  it('answers 204; afterwards the device is gone everywhere and a second delete is 404 100403', async () => {
    const { session, device } = await sessionWithDevice()
    const reply = await remove(session, device.deviceId)
    expect(reply.status).toBe(204)
    expect(reply.text).toBe('')
    expectError(await getDevice(session, device.deviceId), 404, '100403')
    expectError(await getShadow(session, device.deviceId), 404, '100418')
    expectError(await remove(session, device.deviceId), 404, '100403')
  })

  it('works without a Content-Type header too', async () => {
    const { session, device } = await sessionWithDevice()
    expect(
      (await remove({ headers: authHeaders(APP_A.appId, session.accessToken) }, device.deviceId)).status,
    ).toBe(204)
  })

  it('the nodeId can be registered again, as a new device', async () => {
    const { session, device } = await sessionWithDevice()
    expect((await remove(session, device.deviceId)).status).toBe(204)
    const again = await registerDevice(gw.httpUrl, session, device.nodeId)
    expect(again.deviceId).not.toBe(device.deviceId)
    expect((await getDevice(session, again.deviceId)).body).toMatchObject({
      deviceInfo: { nodeId: device.nodeId },
    })
  })

  it('deleting a connected device closes its MQTT session, and it can no longer connect', async () => {
    const { session, device } = await sessionWithDevice()
    const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    try {
      expect((await remove(session, device.deviceId)).status).toBe(204)
      await closed
    } finally {
      client.end(true)
    }
    const refused = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret }).then(
      (c) => {
        c.end(true)
        return undefined
      },
      (err: { code?: number }) => err,
    )
    expect(refused?.code).toBe(4) // CONNACK 0x04: the id is unknown now (device-mqtt.md A.3 gateway note)
  })

  it('another application cannot delete the device (404 100403) and it stays', async () => {
    const { device } = await sessionWithDevice(APP_A)
    const b = await login(gw.httpUrl, APP_B)
    expectError(await remove(b, device.deviceId), 404, '100403')
    const a = await login(gw.httpUrl, APP_A)
    expect((await getDevice(a, device.deviceId)).status).toBe(200)
  })
})

describe('unknown routes', () => {
  it.each([
    ['GET', '/iocm/app/dm/v1.4.0/nothing'],
    ['PATCH', devicePath('x')],
    ['GET', '/no/such/page'],
  ])('%s %s is 404 100225', async (method, path) => {
    const session = await login(gw.httpUrl, APP_A)
    expectError(
      await call(method, path, { headers: authHeaders(APP_A.appId, session.accessToken) }),
      404,
      '100225',
    )
  })
})

/** `20151212T121212Z` → epoch ms, read independently of src/time.ts. */
function platformTimeMs(text: string): number {
  const d = text.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')
  return Date.parse(d)
}
