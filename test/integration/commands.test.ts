// The command ledger over real sockets (spec §8.1–8.3, device-mqtt.md A.5–A.7): a simulated device on mqtt.js
// receives cloudReq and answers deviceRsp; the REST API shows every status the ledger went through.
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
import { waitFor } from '../helpers/mqtt.ts'
import { answerSuccess, type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'

interface CommandView {
  commandId: string
  deviceId: string
  status: string
  command: { serviceId: string; method: string; paras: Record<string, unknown> }
  result?: { resultCode: string; resultDetail: Record<string, unknown> | null } | null
  issuedTimes: number | null
  platformIssuedTime: string | null
  deliveredTime: string | null
  executeTime: string | null
  expireTime: number | null
}

describe('command ledger', () => {
  let gw: RunningGateway
  let session: AppSession
  const sims: SimulatedDevice[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway({
      config: (c) => {
        c.commands.responseTimeoutMs = 400
      },
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const device = async () => {
    n += 1
    const d = await registerDevice(gw.httpUrl, session, `cmd-node-${n}`)
    return { ...d, login: { id: d.deviceId, secret: d.secret } }
  }
  const online = async (login: { id: string; secret: string }, policy = answerSuccess) => {
    const sim = await simulateDevice(gw.mqttUrl, login, policy)
    sims.push(sim)
    return sim
  }
  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const create = (deviceId: string, extra: Record<string, unknown> = {}, method = 'SET_LEVEL') =>
    api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId,
      command: { serviceId: 'Light', method, paras: { level: 4 } },
      ...extra,
    })
  const list = async (deviceId: string) => {
    const res = await api('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${deviceId}`)
    return res.body.data as CommandView[]
  }
  const commandOf = async (deviceId: string, commandId: string) =>
    (await list(deviceId)).find((c) => c.commandId === commandId)
  const statusBecomes = (deviceId: string, commandId: string, status: string) =>
    waitFor(async () => {
      const c = await commandOf(deviceId, commandId)
      return c?.status === status ? c : undefined
    }, `command ${commandId} ${status}`)

  it('an online device gets the cloudReq; its deviceRsp makes the command SUCCESSFUL with the body as result', async () => {
    const d = await device()
    const sim = await online(d.login)
    const created = await create(d.deviceId)
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ deviceId: d.deviceId, appId: session.appId })
    // Created, and already sent when its turn came in the same commit.
    expect(['PENDING', 'SENT']).toContain(created.body.status)
    expect(created.body).not.toHaveProperty('result')
    const [req] = await sim.waitForCommands(1)
    expect(req).toMatchObject({
      msgType: 'cloudReq',
      serviceId: 'Light',
      cmd: 'SET_LEVEL',
      paras: { level: 4 },
    })
    expect(req!.mid).toBeGreaterThanOrEqual(1)
    const done = await statusBecomes(d.deviceId, created.body.commandId as string, 'SUCCESSFUL')
    expect(done.result).toEqual({ resultCode: 'SUCCESSFUL', resultDetail: { result: 0, echo: 'SET_LEVEL' } })
    expect(done.issuedTimes).toBe(1)
    expect(done.platformIssuedTime).toMatch(/^\d{8}T\d{6}Z$/)
    expect(done.deliveredTime).toMatch(/^\d{8}T\d{6}Z$/)
    expect(done.executeTime).toMatch(/^\d{8}T\d{6}Z$/)
  })

  it('errcode ≠ 0 → FAILED with the body kept', async () => {
    const d = await device()
    await online(d.login, () => ({ errcode: 1, body: { reason: 'jammed' } }))
    const created = await create(d.deviceId)
    const done = await statusBecomes(d.deviceId, created.body.commandId as string, 'FAILED')
    expect(done.result).toEqual({ resultCode: 'FAILED', resultDetail: { reason: 'jammed' } })
  })

  it('cached while offline, delivered on connect in creation order, one at a time', async () => {
    const d = await device()
    const ids: string[] = []
    for (const method of ['FIRST', 'SECOND', 'THIRD']) {
      ids.push((await create(d.deviceId, {}, method)).body.commandId as string)
    }
    for (const id of ids) expect((await commandOf(d.deviceId, id))?.status).toBe('PENDING')
    // The device answers only after a pause: the next command must wait for that answer.
    const inFlight: number[] = []
    let outstanding = 0
    const sim = await online(d.login, () => 'silent')
    sim.client.on('message', (_topic, payload) => {
      outstanding += 1
      inFlight.push(outstanding)
      const req = JSON.parse(payload.toString()) as { mid: number }
      setTimeout(() => {
        outstanding -= 1
        sim.client.publish(
          `/huawei/v1/devices/${d.deviceId}/data/json`,
          JSON.stringify({ msgType: 'deviceRsp', mid: req.mid, errcode: 0 }),
          { qos: 1 },
        )
      }, 50)
    })
    await sim.waitForCommands(3)
    expect(sim.received.map((r) => r.cmd)).toEqual(['FIRST', 'SECOND', 'THIRD'])
    expect(Math.max(...inFlight)).toBe(1)
    for (const id of ids) await statusBecomes(d.deviceId, id, 'SUCCESSFUL')
  })

  it('no answer: retransmitted maxRetransmit times with the same mid, then TIMEOUT; the next command goes', async () => {
    const d = await device()
    const sim = await online(d.login, (req) => (req.cmd === 'NEXT' ? { errcode: 0 } : 'silent'))
    const first = await create(d.deviceId, { maxRetransmit: 2 }, 'NEVER_ANSWERED')
    const second = await create(d.deviceId, {}, 'NEXT')
    const timedOut = await statusBecomes(d.deviceId, first.body.commandId as string, 'TIMEOUT')
    expect(timedOut.issuedTimes).toBe(3)
    const sends = sim.received.filter((r) => r.cmd === 'NEVER_ANSWERED')
    expect(sends).toHaveLength(3)
    expect(new Set(sends.map((r) => r.mid)).size).toBe(1)
    await statusBecomes(d.deviceId, second.body.commandId as string, 'SUCCESSFUL')
  })

  it('a PENDING command can be cancelled (CANCELED, never sent); a finished one cannot (100435)', async () => {
    const d = await device()
    const created = await create(d.deviceId)
    const id = created.body.commandId as string
    const cancel = await api('PUT', `/iocm/app/cmd/v1.4.0/deviceCommands/${id}`, { status: 'CANCELED' })
    expect(cancel.status).toBe(200)
    expect(cancel.body).toMatchObject({ commandId: id, status: 'CANCELED' })
    const sim = await online(d.login)
    const again = await api('PUT', `/iocm/app/cmd/v1.4.0/deviceCommands/${id}`, { status: 'CANCELED' })
    expect(again).toEqual({
      status: 409,
      body: {
        error_code: '100435',
        error_desc: 'The device command already canceled, expired or executed, Cannot cancel.',
      },
    })
    const unknown = await api('PUT', '/iocm/app/cmd/v1.4.0/deviceCommands/nope', { status: 'CANCELED' })
    expect(unknown.body.error_code).toBe('100434')
    const wrong = await api('PUT', `/iocm/app/cmd/v1.4.0/deviceCommands/${id}`, { status: 'SENT' })
    expect(wrong).toMatchObject({ status: 400, body: { error_code: '100022' } })
    // Give a wrongly sent command time to arrive before concluding it was not sent.
    await create(d.deviceId, {}, 'AFTER')
    await sim.waitForCommands(1)
    expect(sim.received.map((r) => r.cmd)).toEqual(['AFTER'])
  })

  it('at most 20 PENDING per device: the 21st is refused with 100223 and stores nothing', async () => {
    const d = await device()
    for (let i = 0; i < 20; i++) expect((await create(d.deviceId)).status).toBe(201)
    const refused = await create(d.deviceId)
    expect(refused).toEqual({
      status: 400,
      body: { error_code: '100223', error_desc: 'Command counts has reached the upLimit.' },
    })
    expect(await list(d.deviceId)).toHaveLength(20)
  })

  it('expireTime 0 to an offline device ends in TIMEOUT at once and is never cached', async () => {
    const d = await device()
    const created = await create(d.deviceId, { expireTime: 0 })
    expect(created.status).toBe(201)
    const c = await commandOf(d.deviceId, created.body.commandId as string)
    expect(c?.status).toBe('TIMEOUT')
    const sim = await online(d.login)
    await create(d.deviceId, {}, 'LATER')
    await sim.waitForCommands(1)
    expect(sim.received.map((r) => r.cmd)).toEqual(['LATER'])
  })

  it('a cached command whose expireTime passes before the device connects is EXPIRED', async () => {
    const d = await device()
    const created = await create(d.deviceId, { expireTime: 1 })
    await statusBecomes(d.deviceId, created.body.commandId as string, 'EXPIRED')
    const sim = await online(d.login)
    await create(d.deviceId, {}, 'FRESH')
    await sim.waitForCommands(1)
    expect(sim.received.map((r) => r.cmd)).toEqual(['FRESH'])
  })

  it('bad input stores nothing: unknown device 100418, maxRetransmit 4, negative expireTime, missing paras', async () => {
    const d = await device()
    expect((await create('no-such-device')).body.error_code).toBe('100418')
    for (const extra of [{ maxRetransmit: 4 }, { expireTime: -1 }, { callbackUrl: 'ftp://x' }]) {
      expect(await create(d.deviceId, extra)).toMatchObject({ status: 400, body: { error_code: '100022' } })
    }
    const noParas = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId: d.deviceId,
      command: { serviceId: 'Light', method: 'X' },
    })
    expect(noParas).toMatchObject({ status: 400, body: { error_code: '100022' } })
    expect(await list(d.deviceId)).toHaveLength(0)
  })

  it('an unknown mid in a deviceRsp is acknowledged and changes nothing', async () => {
    const d = await device()
    const sim = await online(d.login, () => 'silent')
    const created = await create(d.deviceId, { maxRetransmit: 0 })
    const [req] = await sim.waitForCommands(1)
    await new Promise<void>((resolve, reject) =>
      sim.client.publish(
        `/huawei/v1/devices/${d.deviceId}/data/json`,
        JSON.stringify({ msgType: 'deviceRsp', mid: ((req!.mid + 7) % 65535) + 1, errcode: 0 }),
        { qos: 1 },
        (err) => (err ? reject(err) : resolve()),
      ),
    )
    // Still awaiting its own mid; the device's PUBACK of the cloudReq made it DELIVERED.
    const c = await statusBecomes(d.deviceId, created.body.commandId as string, 'DELIVERED')
    expect(c.deliveredTime).toMatch(/^\d{8}T\d{6}Z$/)
    expect(c.executeTime).toBeNull()
  })
})
