// OneJSON thing-model devices (device-mqtt.md Part B) against a real gateway: registration (§4.2 with
// protocolType OneJSON), CONNECT with a OneNET-style token, the topic ACL (B.4 note 6), and service invocation
// through the REST API, synchronous and asynchronous (B.1–B.3), answered by a real mqtt.js device.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import {
  closed,
  commandTopic,
  connackCode,
  type DeviceClient,
  deviceOptions,
  openDevice,
  publishAcked,
  subscribeGranted,
  waitFor,
} from '../helpers/mqtt.ts'
import {
  type InvokePolicy,
  inAnHour,
  invokeFilterOf,
  invokeReplyTopicOf,
  invokeTopicOf,
  type OneJsonDevice,
  oneJsonOptions,
  registerOneJsonDevice,
  type SimulatedOneJsonDevice,
  simulateOneJsonDevice,
} from '../helpers/onejson-device.ts'

const SYNC_LIMIT_MS = 300
const REFUSED = 128
const BAD_USERNAME_OR_PASSWORD = 4

describe('OneJSON devices (device-mqtt.md Part B)', () => {
  let gw: RunningGateway
  let session: AppSession
  const sims: SimulatedOneJsonDevice[] = []
  const clients: DeviceClient[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.commands.syncCallTimeoutMs = SYNC_LIMIT_MS
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
    for (const c of clients.splice(0)) c.client.end(true)
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  const device = (pid = 'pidLamp') => registerOneJsonDevice(gw.httpUrl, session, `lamp-${++n}`, pid)
  const online = async (d: OneJsonDevice, policy?: InvokePolicy) => {
    const sim = await simulateOneJsonDevice(gw.mqttUrl, d, policy)
    sims.push(sim)
    return sim
  }
  const connect = async (d: OneJsonDevice) => {
    const c = await openDevice(gw.mqttUrl, oneJsonOptions(d))
    clients.push(c)
    return c
  }
  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const invoke = (deviceId: string, identifier: string, body: unknown, mode?: 'sync' | 'async') =>
    api(
      'POST',
      `/iocm/app/onejson/v1.0.0/devices/${deviceId}/services/${identifier}/invoke${mode ? `?mode=${mode}` : ''}`,
      body,
    )
  const invocation = (deviceId: string, id: string) =>
    api('GET', `/iocm/app/onejson/v1.0.0/devices/${deviceId}/invocations/${id}`)

  describe('registration', () => {
    it('needs productId (the pid): without it 400 50400 and nothing is registered', async () => {
      const res = await api('POST', '/iocm/app/reg/v2.0.0/deviceCredentials', {
        deviceInfo: { nodeId: 'no-pid-lamp', protocolType: 'OneJSON' },
        mqttConnect: true,
      })
      expect(res).toEqual({ status: 400, body: { error_code: '50400', error_desc: 'The input is invalid.' } })
      // The nodeId is still free.
      const d = await registerOneJsonDevice(gw.httpUrl, session, 'no-pid-lamp', 'pidLamp')
      expect(d.deviceId).toMatch(/\S/)
      expect(d.secret).toMatch(/^[0-9a-f]{20}$/)
    })

    it('refuses a pid or device name that cannot be a topic level', async () => {
      for (const [nodeId, productId] of [
        ['lamp/evil', 'pidLamp'],
        ['lamp-ok', 'pid+'],
        ['lamp#', 'pidLamp'],
      ]) {
        const res = await api('POST', '/iocm/app/reg/v2.0.0/deviceCredentials', {
          deviceInfo: { nodeId, protocolType: 'OneJSON' },
          productId,
        })
        expect(res).toMatchObject({ status: 400, body: { error_code: '50400' } })
      }
    })
  })

  describe('CONNECT', () => {
    it('accepts a valid token (md5, sha1 and sha256 signatures)', async () => {
      const d = await device()
      for (const method of ['sha256', 'sha1', 'md5'] as const) {
        expect(await connackCode(gw.mqttUrl, oneJsonOptions(d, { method }))).toBe(0)
      }
      const c = await connect(d)
      expect(c.client.connected).toBe(true)
    })

    it.each([
      ['a wrong secret', (d: OneJsonDevice) => oneJsonOptions(d, { secret: 'ffffffffffffffffffff' })],
      [
        'an expired et',
        (d: OneJsonDevice) => oneJsonOptions(d, { expiresAt: Math.floor(Date.now() / 1000) - 60 }),
      ],
      [
        'a User Name that is not its pid',
        (d: OneJsonDevice) => ({ ...oneJsonOptions(d), username: 'otherPid' }),
      ],
      ['a token signed for another pid', (d: OneJsonDevice) => oneJsonOptions(d, { pid: 'otherPid' })],
      ['no password', (d: OneJsonDevice) => ({ ...oneJsonOptions(d), password: undefined })],
      [
        'a garbled token',
        (d: OneJsonDevice) => ({ ...oneJsonOptions(d), password: 'version=2018-10-31&sign=x' }),
      ],
      [
        'platform-style credentials (A.3)',
        (d: OneJsonDevice) => deviceOptions({ id: d.deviceId, secret: d.secret, signType: 0 }),
      ],
    ])('refuses %s with CONNACK 4', async (_name, options) => {
      const d = await device()
      expect(await connackCode(gw.mqttUrl, options(d))).toBe(BAD_USERNAME_OR_PASSWORD)
    })

    it('a platform device cannot log in the OneJSON way', async () => {
      const p = await registerDevice(gw.httpUrl, session, `platform-${++n}`)
      const asOneJson = { deviceId: p.deviceId, secret: p.secret, pid: 'pidLamp', name: p.nodeId }
      expect(await connackCode(gw.mqttUrl, oneJsonOptions(asOneJson))).not.toBe(0)
    })
  })

  describe('ACL (B.4 note 6)', () => {
    it('may subscribe to its own invokes only', async () => {
      const d = await device()
      const other = await device()
      const c = await connect(d)
      expect(await subscribeGranted(c.client, invokeFilterOf(d))).toEqual([1])
      expect(await subscribeGranted(c.client, invokeTopicOf(d, 'SetPower'))).toEqual([1])
      for (const filter of [
        invokeFilterOf(other),
        invokeTopicOf(other, 'SetPower'),
        `$sys/${d.pid}/+/thing/service/+/invoke`,
        `$sys/${d.pid}/${d.name}/#`,
        '#',
        invokeReplyTopicOf(d, 'SetPower'),
        commandTopic(d.deviceId),
      ]) {
        expect(await subscribeGranted(c.client, filter), filter).toEqual([REFUSED])
      }
    })

    it('may publish its own invoke_reply (acknowledged)', async () => {
      const d = await device()
      const c = await connect(d)
      await publishAcked(c.client, invokeReplyTopicOf(d, 'SetPower'), JSON.stringify({ id: '1', code: 200 }))
      expect(c.client.connected).toBe(true)
    })

    it.each([
      ["another device's invoke", (_d: OneJsonDevice, v: OneJsonDevice) => invokeTopicOf(v, 'SetPower')],
      [
        "another device's invoke_reply",
        (_d: OneJsonDevice, v: OneJsonDevice) => invokeReplyTopicOf(v, 'SetPower'),
      ],
      ['its own invoke (posing as the gateway)', (d: OneJsonDevice) => invokeTopicOf(d, 'SetPower')],
      ['a platform data topic', (d: OneJsonDevice) => `/huawei/v1/devices/${d.deviceId}/data/json`],
    ])('publishing to %s closes its connection and reaches nobody', async (_name, topicOf) => {
      const d = await device()
      const victim = await device()
      const victimSim = await online(victim)
      const c = await connect(d)
      const poison = JSON.stringify({ id: '4242', version: '1.0', params: { injected: true } })
      await expect(publishAcked(c.client, topicOf(d, victim), poison)).rejects.toThrow()
      await closed(c.client)
      // A real invoke reaches the victim; the poison before it never did.
      const res = await invoke(victim.deviceId, 'Ping', { params: {} })
      expect(res.status).toBe(200)
      expect(victimSim.received.map((r) => r.identifier)).toEqual(['Ping'])
    })
  })

  describe('invoke (B.1–B.3)', () => {
    it('sync: the device gets the invoke and the REST call answers its reply {id, code, msg, data}', async () => {
      const d = await device()
      const sim = await online(d, (req) => ({ code: 200, msg: 'done', data: { result1: req.params.Power1 } }))
      const res = await invoke(d.deviceId, 'SetPower', { params: { Power1: 'on', WF1: '2' } }, 'sync')
      expect(res.status).toBe(200)
      const [req] = sim.received
      expect(req).toMatchObject({
        identifier: 'SetPower',
        topic: invokeTopicOf(d, 'SetPower'),
        version: '1.0',
        params: { Power1: 'on', WF1: '2' },
      })
      expect(req!.id).toMatch(/^\d{1,13}$/)
      expect(res.body).toEqual({ id: req!.id, code: 200, msg: 'done', data: { result1: 'on' } })
    })

    it('sync is the default mode; version is passed through; a failure code is passed back', async () => {
      const d = await device()
      const sim = await online(d, () => ({ code: 500, msg: 'relay stuck' }))
      const res = await invoke(d.deviceId, 'SetPower', { params: { Power1: 'off' }, version: '2.1' })
      expect(res.status).toBe(200)
      expect(sim.received[0]).toMatchObject({ version: '2.1', params: { Power1: 'off' } })
      expect(res.body).toEqual({ id: sim.received[0]!.id, code: 500, msg: 'relay stuck' })
      expect((await invocation(d.deviceId, sim.received[0]!.id)).body.status).toBe('FAILED')
    })

    it('sync: a device that does not answer → 504 after the limit; its late reply is kept', async () => {
      const d = await device()
      const sim = await online(d, () => 'silent')
      const started = Date.now()
      const res = await invoke(d.deviceId, 'Slow', { params: { x: 1 } }, 'sync')
      const elapsed = Date.now() - started
      expect(res.status).toBe(504)
      const [req] = sim.received
      expect(res.body).toMatchObject({ id: req!.id, code: 504 })
      expect(res.body.msg).toEqual(expect.any(String))
      expect(res.body).not.toHaveProperty('data')
      expect(elapsed).toBeGreaterThanOrEqual(SYNC_LIMIT_MS - 20)
      expect(elapsed).toBeLessThan(5000)
      await sim.reply('Slow', { id: req!.id, code: 200, msg: 'late', data: { y: 2 } })
      const later = await waitFor(async () => {
        const r = await invocation(d.deviceId, req!.id)
        return r.body.status === 'SUCCESSFUL' ? r : undefined
      }, 'the late reply to be recorded')
      expect(later).toEqual({
        status: 200,
        body: { id: req!.id, code: 200, msg: 'late', data: { y: 2 }, status: 'SUCCESSFUL' },
      })
    })

    it('async: answers at once without data; the reply is queryable later with status SUCCESSFUL', async () => {
      const d = await device()
      const sim = await online(d, () => 'silent')
      const res = await invoke(d.deviceId, 'Report', { params: { what: 'all' } }, 'async')
      expect(res.status).toBe(200)
      expect(res.body).toEqual({
        id: expect.stringMatching(/^\d{1,13}$/),
        code: 200,
        msg: expect.any(String),
      })
      const id = res.body.id as string
      const [req] = await sim.waitForInvokes(1)
      expect(req).toMatchObject({ id, identifier: 'Report', params: { what: 'all' } })
      const before = await invocation(d.deviceId, id)
      expect(before.status).toBe(200)
      expect(before.body.status).toMatch(/^(SENT|DELIVERED)$/)
      expect(before.body).not.toHaveProperty('data')
      await sim.reply('Report', { id, code: 200, msg: 'ok', data: { temp: 21.5 } })
      const after = await waitFor(async () => {
        const r = await invocation(d.deviceId, id)
        return r.body.status === 'SUCCESSFUL' ? r.body : undefined
      }, 'the async reply to be recorded')
      expect(after).toEqual({ id, code: 200, msg: 'ok', data: { temp: 21.5 }, status: 'SUCCESSFUL' })
    })

    it('a numeric id in the reply is accepted as its digits', async () => {
      const d = await device()
      const sim = await online(d, () => 'silent')
      const { body } = await invoke(d.deviceId, 'Report', { params: {} }, 'async')
      await sim.waitForInvokes(1)
      await sim.reply('Report', { id: Number(body.id), code: 200 })
      await waitFor(
        async () => (await invocation(d.deviceId, body.id as string)).body.status === 'SUCCESSFUL',
        'the reply with a numeric id',
      )
    })

    it('a malformed invoke_reply is acknowledged and changes nothing', async () => {
      const d = await device()
      const sim = await online(d, () => 'silent')
      const { body } = await invoke(d.deviceId, 'Report', { params: {} }, 'async')
      const id = body.id as string
      await sim.waitForInvokes(1)
      for (const bad of [
        { id: `${id}a`, code: 200, data: { wrong: 1 } },
        { id, msg: 'no code', data: { wrong: 2 } },
        { id, code: '200', data: { wrong: 3 } },
        { id, code: 200, data: 'not an object' },
        { id: '12345678901234', code: 200 },
      ]) {
        await sim.reply('Report', bad)
      }
      await sim.reply('Report', 'not json at all')
      expect(sim.client.connected).toBe(true)
      const still = await invocation(d.deviceId, id)
      expect(still.body.status).toMatch(/^(SENT|DELIVERED)$/)
      expect(still.body).not.toHaveProperty('data')
      // The call is still open: a proper reply settles it.
      await sim.reply('Report', { id, code: 200, data: { right: true } })
      await waitFor(
        async () => (await invocation(d.deviceId, id)).body.status === 'SUCCESSFUL',
        'the good reply',
      )
      expect((await invocation(d.deviceId, id)).body.data).toEqual({ right: true })
    })

    it('a reply nobody awaits is acknowledged and ignored', async () => {
      const d = await device()
      const c = await connect(d)
      await publishAcked(c.client, invokeReplyTopicOf(d, 'X'), JSON.stringify({ id: '999', code: 200 }))
      expect(c.client.connected).toBe(true)
      expect(await invocation(d.deviceId, '999')).toMatchObject({
        status: 404,
        body: { error_code: '100434' },
      })
    })

    it('a non-OneJSON device → 400 50400', async () => {
      const p = await registerDevice(gw.httpUrl, session, `platform-${++n}`)
      expect(await invoke(p.deviceId, 'SetPower', { params: {} })).toMatchObject({
        status: 400,
        body: { error_code: '50400' },
      })
    })

    it('an offline device → 409 100428 (nothing is cached for later)', async () => {
      const d = await device()
      expect(await invoke(d.deviceId, 'SetPower', { params: {} })).toEqual({
        status: 409,
        body: { error_code: '100428', error_desc: 'The device is not online.' },
      })
      const sim = await online(d)
      await invoke(d.deviceId, 'Marker', { params: {} })
      expect(sim.received.map((r) => r.identifier)).toEqual(['Marker'])
    })

    it('an unknown device → 404 100418; bad body or identifier → 400 50400', async () => {
      expect(await invoke('no-such-device', 'SetPower', { params: {} })).toMatchObject({
        status: 404,
        body: { error_code: '100418' },
      })
      const d = await device()
      await online(d)
      for (const body of [{}, { params: 'on' }, { params: [] }, { params: {}, version: '' }]) {
        expect(await invoke(d.deviceId, 'SetPower', body)).toMatchObject({
          status: 400,
          body: { error_code: '50400' },
        })
      }
      expect(await invoke(d.deviceId, 'Set+Power', { params: {} })).toMatchObject({
        status: 400,
        body: { error_code: '50400' },
      })
      expect(
        await api('POST', `/iocm/app/onejson/v1.0.0/devices/${d.deviceId}/services/X/invoke?mode=later`, {
          params: {},
        }),
      ).toMatchObject({ status: 400, body: { error_code: '50400' } })
    })

    it('GET invocations: an unknown id → 404 100434, a non-numeric id → 400', async () => {
      const d = await device()
      expect(await invocation(d.deviceId, '424242')).toMatchObject({
        status: 404,
        body: { error_code: '100434' },
      })
      expect((await invocation(d.deviceId, 'abc')).status).toBe(400)
    })
  })

  it('a token that expires later still connects now', async () => {
    const d = await device()
    expect(await connackCode(gw.mqttUrl, oneJsonOptions(d, { expiresAt: inAnHour() + 86_400 }))).toBe(0)
  })
})
