// Remote calls (rpc-and-calls.md Part A) against a real gateway: the async call answers at once with a msgid,
// the device gets a cloudReq (or a OneJSON invoke), its answer is matched by msgid and served by the result
// query; the sync call waits for it up to the configured limit. Authentication is the apikey query parameter.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, publishAcked, waitFor } from '../helpers/mqtt.ts'
import {
  type InvokePolicy,
  invokeTopicOf,
  type OneJsonDevice,
  registerOneJsonDevice,
  type SimulatedOneJsonDevice,
  simulateOneJsonDevice,
} from '../helpers/onejson-device.ts'
import { type AnswerPolicy, type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'

const SYNC_LIMIT_MS = 300
const PRODUCT = 'krPVmHSxi35cjzp1'
const METHOD = 'raw.async.private.rpc'

interface Envelope {
  code: number
  msg: string
  type: number
  data?: Record<string, unknown>
  ts: number
}

describe('remote calls (rpc-and-calls.md Part A)', () => {
  let gw: RunningGateway
  let session: AppSession
  let apiKey: string
  const sims: (SimulatedDevice | SimulatedOneJsonDevice)[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.commands.syncCallTimeoutMs = SYNC_LIMIT_MS
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    apiKey = (JSON.parse(readFileSync(join(gw.dataDir, 'first-app.json'), 'utf8')) as { apiKey: string })
      .apiKey
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  const platformDevice = async (policy?: AnswerPolicy) => {
    const d = await registerDevice(gw.httpUrl, session, `rpc-node-${++n}`)
    const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret }, policy)
    sims.push(sim)
    return { ...d, sim }
  }
  const oneJsonDevice = async (policy?: InvokePolicy) => {
    const d: OneJsonDevice = await registerOneJsonDevice(gw.httpUrl, session, `rpc-lamp-${++n}`, PRODUCT)
    const sim = await simulateOneJsonDevice(gw.mqttUrl, d, policy)
    sims.push(sim)
    return { ...d, sim }
  }
  const query = (q: Record<string, string | undefined>) =>
    new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined)).toString()
  const call = async (
    kind: 'async' | 'sync',
    deviceId: string,
    body: unknown,
    q: Record<string, string | undefined> = {},
  ) => {
    const res = await fetch(
      `${gw.httpUrl}/iot/v1/application/device/rpc/${kind}?${query({
        apikey: apiKey,
        product_uuid: PRODUCT,
        device_uuid: deviceId,
        method: METHOD,
        ...q,
      })}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      },
    )
    return { status: res.status, body: (await res.json()) as Envelope }
  }
  const result = async (msgid: string, key = apiKey) => {
    const res = await fetch(
      `${gw.httpUrl}/iot/v1/application/device/rpc/result?${query({ apikey: key, msgid })}`,
    )
    return { status: res.status, body: (await res.json()) as Envelope }
  }
  const resultBecomes = (msgid: string, status: string) =>
    waitFor(async () => {
      const r = await result(msgid)
      return r.body.data?.status === status ? r.body : undefined
    }, `call ${msgid} ${status}`)
  /** An error answer: the call's own envelope, code = HTTP status, a message, no data. */
  const expectError = (res: { status: number; body: Envelope }, code: number) => {
    expect(res.status).toBe(code)
    expect(res.body).toEqual({ code, msg: expect.any(String), type: 34, ts: expect.any(Number) })
    expect(res.body.msg.length).toBeGreaterThan(0)
  }

  it('async to a platform device: answered at once; the device gets cloudReq; its deviceRsp is the result', async () => {
    const d = await platformDevice(() => 'silent')
    const before = Date.now()
    const res = await call('async', d.deviceId, {
      cmd: 'SET_LEVEL',
      groupid: '12',
      para: { key1: 9, key2: 70 },
    })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      code: 200,
      msg: 'OK',
      type: 34,
      data: { msgid: expect.stringMatching(/^[A-Za-z0-9]{12}$/), topic: expect.any(String) },
      ts: expect.any(Number),
    })
    expect(res.body.ts).toBeGreaterThanOrEqual(before)
    expect(res.body.ts).toBeLessThanOrEqual(Date.now())
    const msgid = res.body.data!.msgid as string
    const [req] = await d.sim.waitForCommands(1)
    expect(req).toMatchObject({
      msgType: 'cloudReq',
      serviceId: '12',
      cmd: 'SET_LEVEL',
      paras: { key1: 9, key2: 70 },
    })
    const pending = await result(msgid)
    expect(pending.status).toBe(200)
    expect(pending.body.data).toMatchObject({ msgid, device_uuid: d.deviceId })
    expect(pending.body.data!.status).toMatch(/^(SENT|DELIVERED)$/)
    await publishAcked(
      d.sim.client,
      dataTopic(d.deviceId),
      JSON.stringify({ msgType: 'deviceRsp', mid: req!.mid, errcode: 0, body: { level: 4 } }),
    )
    const done = await resultBecomes(msgid, 'SUCCESSFUL')
    expect(done).toMatchObject({
      code: 200,
      msg: 'OK',
      data: {
        msgid,
        device_uuid: d.deviceId,
        status: 'SUCCESSFUL',
        result: { resultCode: 'SUCCESSFUL', resultDetail: { level: 4 } },
      },
    })
  })

  it('a numeric cmd goes as its string; a string para is carried as {data: para}', async () => {
    const d = await platformDevice()
    const res = await call('async', d.deviceId, { cmd: 82, groupid: '3', para: 'AA01FF' })
    expect(res.status).toBe(200)
    const [req] = await d.sim.waitForCommands(1)
    expect(req).toMatchObject({ serviceId: '3', cmd: '82', paras: { data: 'AA01FF' } })
    await resultBecomes(res.body.data!.msgid as string, 'SUCCESSFUL')
  })

  it('a failing device answer (errcode 1) is the result, status FAILED', async () => {
    const d = await platformDevice(() => ({ errcode: 1, body: { reason: 'jammed' } }))
    const res = await call('async', d.deviceId, { cmd: 'OPEN', groupid: '1', para: {} })
    const done = await resultBecomes(res.body.data!.msgid as string, 'FAILED')
    expect(done.data!.result).toEqual({ resultCode: 'FAILED', resultDetail: { reason: 'jammed' } })
  })

  it('sync: returns the device result within the limit', async () => {
    const d = await platformDevice((req) => ({ errcode: 0, body: { got: req.paras } }))
    const res = await call('sync', d.deviceId, { cmd: 'READ', groupid: '7', para: { reg: 40001 } })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      code: 200,
      msg: 'OK',
      type: 34,
      data: {
        msgid: expect.stringMatching(/^[A-Za-z0-9]{12}$/),
        status: 'SUCCESSFUL',
        result: { resultCode: 'SUCCESSFUL', resultDetail: { got: { reg: 40001 } } },
      },
    })
  })

  it('sync: a silent device → 504 with the msgid; the late answer is retrievable', async () => {
    const d = await platformDevice(() => 'silent')
    const started = Date.now()
    const res = await call('sync', d.deviceId, { cmd: 'READ', groupid: '7', para: {} })
    const elapsed = Date.now() - started
    expect(res.status).toBe(504)
    expect(res.body).toMatchObject({ code: 504, msg: expect.any(String), type: 34 })
    const msgid = res.body.data?.msgid as string
    expect(msgid).toMatch(/^[A-Za-z0-9]{12}$/)
    expect(elapsed).toBeGreaterThanOrEqual(SYNC_LIMIT_MS - 20)
    expect(elapsed).toBeLessThan(5000)
    const [req] = await d.sim.waitForCommands(1)
    await publishAcked(
      d.sim.client,
      dataTopic(d.deviceId),
      JSON.stringify({ msgType: 'deviceRsp', mid: req!.mid, errcode: 0, body: { value: 17 } }),
    )
    const done = await resultBecomes(msgid, 'SUCCESSFUL')
    expect(done.data!.result).toEqual({ resultCode: 'SUCCESSFUL', resultDetail: { value: 17 } })
  })

  it('to a OneJSON device the call goes as an invoke of identifier = cmd, params = para', async () => {
    const d = await oneJsonDevice((req) => ({ code: 200, msg: 'ok', data: { state: req.params.Power1 } }))
    const res = await call('sync', d.deviceId, { cmd: 'SetPower', groupid: '1', para: { Power1: 'on' } })
    expect(res.status).toBe(200)
    const [req] = d.sim.received
    expect(req).toMatchObject({
      topic: invokeTopicOf(d, 'SetPower'),
      version: '1.0',
      params: { Power1: 'on' },
    })
    expect(res.body.data).toMatchObject({
      status: 'SUCCESSFUL',
      result: { resultCode: 'SUCCESSFUL', resultDetail: { code: 200, msg: 'ok', data: { state: 'on' } } },
    })
    const again = await result(res.body.data!.msgid as string)
    expect(again.body.data).toMatchObject({ status: 'SUCCESSFUL', device_uuid: d.deviceId })
  })

  it('a device registered with a product must be called under it: wrong product_uuid → 404', async () => {
    const d = await oneJsonDevice()
    expectError(
      await call('async', d.deviceId, { cmd: 'SetPower', groupid: '1', para: {} }, { product_uuid: 'other' }),
      404,
    )
    expect(d.sim.received).toHaveLength(0)
    expect((await call('sync', d.deviceId, { cmd: 'SetPower', groupid: '1', para: {} })).status).toBe(200)
    expect(d.sim.received).toHaveLength(1)
  })

  it('a bad apikey → 401 envelope, for calls and results', async () => {
    const d = await platformDevice()
    expectError(
      await call('async', d.deviceId, { cmd: 'X', groupid: '1', para: {} }, { apikey: 'wrong-key' }),
      401,
    )
    const ok = await call('async', d.deviceId, { cmd: 'X', groupid: '1', para: {} })
    expectError(await result(ok.body.data!.msgid as string, 'wrong-key'), 401)
    await d.sim.waitForCommands(1)
    expect(d.sim.received).toHaveLength(1)
  })

  it('an unknown device_uuid → 404; an unknown msgid → 404; an offline device → 409', async () => {
    expectError(await call('async', 'no-such-device', { cmd: 'X', groupid: '1', para: {} }), 404)
    expectError(await result('NoSuchMsgId1'), 404)
    const offline = await registerDevice(gw.httpUrl, session, `rpc-offline-${++n}`)
    expectError(await call('async', offline.deviceId, { cmd: 'X', groupid: '1', para: {} }), 409)
  })

  it('a missing query parameter or a bad body → 400 envelope without data; nothing is sent', async () => {
    const d = await platformDevice()
    for (const missing of ['apikey', 'product_uuid', 'device_uuid', 'method']) {
      expectError(
        await call('async', d.deviceId, { cmd: 'X', groupid: '1', para: {} }, { [missing]: undefined }),
        400,
      )
    }
    for (const body of [
      { groupid: '1', para: {} },
      { cmd: 'X', para: {} },
      { cmd: 'X', groupid: '1' },
      { cmd: { nested: true }, groupid: '1', para: {} },
      { cmd: 'X', groupid: 12, para: {} },
      { cmd: 'X', groupid: '1', para: [1, 2] },
      { cmd: 'A/B', groupid: '1', para: {} },
      { cmd: '', groupid: '1', para: {} },
      '{"cmd": ',
    ]) {
      expectError(await call('async', d.deviceId, body), 400)
      expectError(await call('sync', d.deviceId, body), 400)
    }
    expectError(
      await (async () => {
        const res = await fetch(
          `${gw.httpUrl}/iot/v1/application/device/rpc/result?${query({ apikey: apiKey })}`,
        )
        return { status: res.status, body: (await res.json()) as Envelope }
      })(),
      400,
    )
    // Nothing reached the device: the next good call is the first command it sees.
    await call('async', d.deviceId, { cmd: 'MARKER', groupid: '1', para: {} })
    await d.sim.waitForCommands(1)
    expect(d.sim.received.map((r) => r.cmd)).toEqual(['MARKER'])
  })
})

describe('remote calls when the response timeout ends the call before the sync limit', () => {
  let gw: RunningGateway
  let session: AppSession
  let apiKey: string

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.commands.responseTimeoutMs = 200
        c.commands.syncCallTimeoutMs = 5000
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    apiKey = (JSON.parse(readFileSync(join(gw.dataDir, 'first-app.json'), 'utf8')) as { apiKey: string })
      .apiKey
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  it('sync: a silent device is a 504 with the msgid, not a 200 OK; the result says TIMEOUT', async () => {
    const d = await registerDevice(gw.httpUrl, session, 'rpc-timeout-node')
    const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret }, () => 'silent')
    try {
      const qs = new URLSearchParams({
        apikey: apiKey,
        product_uuid: PRODUCT,
        device_uuid: d.deviceId,
        method: METHOD,
      })
      const res = await fetch(`${gw.httpUrl}/iot/v1/application/device/rpc/sync?${qs}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cmd: 'READ', groupid: '7', para: {} }),
      })
      const body = (await res.json()) as Envelope
      expect(res.status).toBe(504)
      expect(body).toMatchObject({ code: 504, msg: expect.any(String), type: 34 })
      const msgid = body.data?.msgid as string
      expect(msgid).toMatch(/^[A-Za-z0-9]{12}$/)
      const later = await fetch(
        `${gw.httpUrl}/iot/v1/application/device/rpc/result?${new URLSearchParams({ apikey: apiKey, msgid })}`,
      )
      expect(((await later.json()) as Envelope).data).toMatchObject({ msgid, status: 'TIMEOUT' })
    } finally {
      await sim.close()
    }
  })
})
