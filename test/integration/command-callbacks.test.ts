// callbackUrl notifications (spec platform-rest-api.md §7.12) over real sockets: a real gateway delivers commands
// to a simulated mqtt.js device and POSTs every status change to a node:http receiver on loopback, which answers
// as each test says (200, 500 a few times, 500 until told otherwise).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayConfig } from '../../src/config/schema.ts'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  spawnGateway,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { waitFor } from '../helpers/mqtt.ts'
import {
  type Endpoint as BaseEndpoint,
  type Hit,
  startReceiver as startBaseReceiver,
} from '../helpers/receiver.ts'
import {
  type AnswerPolicy,
  answerSuccess,
  type SimulatedDevice,
  simulateDevice,
} from '../helpers/simulator.ts'

/** §7.12 body. */
interface Notification {
  deviceId: string
  commandId: string
  result: { resultCode: string; resultDetail: Record<string, unknown> | null }
}

interface Endpoint extends BaseEndpoint<Notification> {
  /** The result codes of the POSTs that were answered 2xx, in arrival order. */
  accepted(): string[]
}

/** The shared receiver, with the §7.12 result codes of what it accepted. */
async function startReceiver() {
  const base = await startBaseReceiver<Notification>('/cmd/callbackUrl')
  return {
    ...base,
    endpoint(answer?: (previous: number) => number, userinfo?: string): Endpoint {
      const e = base.endpoint(answer, userinfo)
      return {
        ...e,
        accepted: () =>
          e
            .hits()
            .filter((h) => h.status === 200)
            .map((h) => h.body.result.resultCode),
      }
    },
  }
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>

/** REST + device helpers bound to one gateway and application. */
function client(gw: { httpUrl: string; mqttUrl: string }, session: AppSession, sims: SimulatedDevice[]) {
  let n = 0
  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  return {
    api,
    device: async () => {
      n += 1
      const d = await registerDevice(gw.httpUrl, session, `callback-node-${n}-${Date.now()}`)
      return { deviceId: d.deviceId, login: { id: d.deviceId, secret: d.secret } }
    },
    online: async (login: { id: string; secret: string }, policy: AnswerPolicy = answerSuccess) => {
      const sim = await simulateDevice(gw.mqttUrl, login, policy)
      sims.push(sim)
      return sim
    },
    /** §8.1; returns the commandId. */
    create: async (deviceId: string, extra: Record<string, unknown>, method = 'SET_LEVEL') => {
      const res = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
        deviceId,
        command: { serviceId: 'Light', method, paras: { level: 4 } },
        ...extra,
      })
      expect(res.status).toBe(201)
      return res.body.commandId as string
    },
    /** The §8.2 record of one command. */
    command: async (deviceId: string, commandId: string) => {
      const res = await api('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${deviceId}`)
      return (res.body.data as { commandId: string; status: string; result: unknown }[]).find(
        (c) => c.commandId === commandId,
      )
    },
  }
}

const note = (
  deviceId: string,
  commandId: string,
  resultCode: string,
  resultDetail: Record<string, unknown> | null = null,
): Notification => ({ deviceId, commandId, result: { resultCode, resultDetail } })

const bodies = (hits: Hit<Notification>[]) => hits.map((h) => h.body)

describe('callbackUrl: every status change of a command is POSTed (§7.12)', () => {
  let gw: RunningGateway
  let receiver: Receiver
  let c: ReturnType<typeof client>
  const sims: SimulatedDevice[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    gw = await startGateway({
      config: (cfg) => {
        cfg.commands.responseTimeoutMs = 400
        cfg.callbacks.maxAttempts = 10
        cfg.callbacks.initialBackoffMs = 20
      },
    })
    c = client(gw, await login(gw.httpUrl, firstApp(gw.dataDir)), sims)
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
    await receiver.close()
  })

  it('an answered command: SENT, DELIVERED, SUCCESSFUL in order, as JSON POSTs; the last carries the device body', async () => {
    const cb = receiver.endpoint()
    const d = await c.device()
    await c.online(d.login)
    const id = await c.create(d.deviceId, { callbackUrl: cb.url })
    const hits = await cb.received(3)
    expect(bodies(hits)).toEqual([
      note(d.deviceId, id, 'SENT'),
      note(d.deviceId, id, 'DELIVERED'),
      note(d.deviceId, id, 'SUCCESSFUL', { result: 0, echo: 'SET_LEVEL' }),
    ])
    for (const hit of hits) {
      expect(hit.method).toBe('POST')
      expect(hit.headers['content-type']).toMatch(/^application\/json/)
    }
    // The notification and the §8.2 record agree on how the command ended.
    expect((await c.command(d.deviceId, id))?.result).toEqual(hits[2]!.body.result)
  })

  it('a device answering errcode 1: SENT, DELIVERED, FAILED with the device body', async () => {
    const cb = receiver.endpoint()
    const d = await c.device()
    await c.online(d.login, () => ({ errcode: 1, body: { reason: 'jammed' } }))
    const id = await c.create(d.deviceId, { callbackUrl: cb.url })
    expect(bodies(await cb.received(3))).toEqual([
      note(d.deviceId, id, 'SENT'),
      note(d.deviceId, id, 'DELIVERED'),
      note(d.deviceId, id, 'FAILED', { reason: 'jammed' }),
    ])
  })

  it('a device that never answers: SENT, DELIVERED, then TIMEOUT with the same result §8.2 shows', async () => {
    const cb = receiver.endpoint()
    const d = await c.device()
    await c.online(d.login, () => 'silent')
    const id = await c.create(d.deviceId, { callbackUrl: cb.url })
    const hits = await cb.received(3)
    expect(hits.map((h) => h.body.result.resultCode)).toEqual(['SENT', 'DELIVERED', 'TIMEOUT'])
    expect(hits.every((h) => h.body.deviceId === d.deviceId && h.body.commandId === id)).toBe(true)
    const record = await c.command(d.deviceId, id)
    expect(record?.status).toBe('TIMEOUT')
    expect(record?.result).toEqual(hits[2]!.body.result)
  })

  it('expireTime 0 to an offline device: a single TIMEOUT notification', async () => {
    const cb = receiver.endpoint()
    const d = await c.device()
    const id = await c.create(d.deviceId, { callbackUrl: cb.url, expireTime: 0 })
    const [hit] = await cb.received(1)
    expect(hit!.body).toMatchObject({
      deviceId: d.deviceId,
      commandId: id,
      result: { resultCode: 'TIMEOUT' },
    })
    // A later command to the same URL is notified after it: nothing else was owed for this one.
    const later = await c.create(d.deviceId, { callbackUrl: cb.url, expireTime: 0 }, 'LATER')
    const hits = await cb.received(2)
    expect(hits.map((h) => [h.body.commandId, h.body.result.resultCode])).toEqual([
      [id, 'TIMEOUT'],
      [later, 'TIMEOUT'],
    ])
  })

  it('a cached command whose expireTime passes before the device connects: EXPIRED', async () => {
    const cb = receiver.endpoint()
    const d = await c.device()
    const id = await c.create(d.deviceId, { callbackUrl: cb.url, expireTime: 1 })
    const [hit] = await cb.received(1)
    expect(hit!.body).toMatchObject({
      deviceId: d.deviceId,
      commandId: id,
      result: { resultCode: 'EXPIRED' },
    })
    expect((await c.command(d.deviceId, id))?.result).toEqual(hit!.body.result)
  })

  it('cancelled by §8.3 or by a §8.5 cancel task: CANCELED, and nothing for creation (PENDING)', async () => {
    const cb = receiver.endpoint()
    const d = await c.device()
    const first = await c.create(d.deviceId, { callbackUrl: cb.url }, 'FIRST')
    const second = await c.create(d.deviceId, { callbackUrl: cb.url }, 'SECOND')
    const third = await c.create(d.deviceId, { callbackUrl: cb.url }, 'THIRD')
    const put = await c.api('PUT', `/iocm/app/cmd/v1.4.0/deviceCommands/${second}`, { status: 'CANCELED' })
    expect(put.status).toBe(200)
    const [hit] = await cb.received(1)
    expect(hit!.body).toMatchObject({ commandId: second, result: { resultCode: 'CANCELED' } })
    const task = await c.api('POST', '/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks', {
      deviceId: d.deviceId,
    })
    expect(task.status).toBe(201)
    const hits = await cb.received(3)
    expect(hits.map((h) => [h.body.commandId, h.body.result.resultCode])).toEqual([
      [second, 'CANCELED'],
      [first, 'CANCELED'],
      [third, 'CANCELED'],
    ])
    expect(hits.every((h) => h.body.deviceId === d.deviceId)).toBe(true)
  })

  it('a receiver answering 500 three times then 200 gets the same notification again, and then the rest in order', async () => {
    const cb = receiver.endpoint((previous) => (previous < 3 ? 500 : 200))
    const d = await c.device()
    await c.online(d.login)
    const id = await c.create(d.deviceId, { callbackUrl: cb.url })
    const hits = await cb.received(6)
    expect(hits.map((h) => [h.status, h.body.result.resultCode])).toEqual([
      [500, 'SENT'],
      [500, 'SENT'],
      [500, 'SENT'],
      [200, 'SENT'],
      [200, 'DELIVERED'],
      [200, 'SUCCESSFUL'],
    ])
    for (const hit of hits.slice(0, 4)) expect(hit.body).toEqual(note(d.deviceId, id, 'SENT'))
  })

  it('while the receiver fails, the command still completes and no later status overtakes the failing one', async () => {
    let up = false
    const cb = receiver.endpoint(() => (up ? 200 : 503))
    const d = await c.device()
    await c.online(d.login)
    const id = await c.create(d.deviceId, { callbackUrl: cb.url })
    // The device side does not wait for the receiver.
    await waitFor(async () => (await c.command(d.deviceId, id))?.status === 'SUCCESSFUL', 'SUCCESSFUL')
    const failing = await cb.received(3)
    expect(failing.map((h) => h.body.result.resultCode)).toEqual(['SENT', 'SENT', 'SENT'])
    up = true
    await waitFor(() => cb.accepted().length >= 3, 'the three notifications accepted')
    expect(cb.accepted()).toEqual(['SENT', 'DELIVERED', 'SUCCESSFUL'])
    // Every POST before the first accepted one was the SENT notification, retried.
    const codes = cb.hits().map((h) => h.body.result.resultCode)
    expect(codes.slice(0, codes.length - 2).every((code) => code === 'SENT')).toBe(true)
  })

  it('a failing receiver does not hold back another URL', async () => {
    let up = false
    const down = receiver.endpoint(() => (up ? 200 : 500))
    const healthy = receiver.endpoint()
    const a = await c.device()
    const b = await c.device()
    await c.online(a.login)
    await c.online(b.login)
    await c.create(a.deviceId, { callbackUrl: down.url })
    await down.received(2)
    const id = await c.create(b.deviceId, { callbackUrl: healthy.url })
    expect(bodies(await healthy.received(3))).toEqual([
      note(b.deviceId, id, 'SENT'),
      note(b.deviceId, id, 'DELIVERED'),
      note(b.deviceId, id, 'SUCCESSFUL', { result: 0, echo: 'SET_LEVEL' }),
    ])
    expect(down.accepted()).toEqual([])
    up = true
    await waitFor(() => down.accepted().length >= 3, 'the failing URL to catch up')
    expect(down.accepted()).toEqual(['SENT', 'DELIVERED', 'SUCCESSFUL'])
  })
})

describe('callbackUrl: giving up, and across a restart', () => {
  let receiver: Receiver
  const sims: SimulatedDevice[] = []
  const gateways: RunningGateway[] = []
  const dirs: string[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
    for (const g of gateways.splice(0)) await g.stop()
    for (const d of dirs.splice(0)) removeDir(d)
  })
  afterAll(async () => {
    await receiver.close()
  })

  const start = async (dataDir: string, tune: (cfg: GatewayConfig) => void) => {
    const gw = await startGateway({ dataDir, config: tune })
    gateways.push(gw)
    return gw
  }

  it('a receiver that always fails gets each notification callbacks.maxAttempts times, and the next ones still come', async () => {
    const dir = tempDir('sitegate-callbacks-')
    dirs.push(dir)
    const gw = await start(dir, (cfg) => {
      cfg.callbacks.maxAttempts = 2
      cfg.callbacks.initialBackoffMs = 20
    })
    const c = client(gw, await login(gw.httpUrl, firstApp(dir)), sims)
    const cb = receiver.endpoint(() => 500)
    const d = await c.device()
    await c.online(d.login)
    const id = await c.create(d.deviceId, { callbackUrl: cb.url })
    const hits = await cb.received(6)
    expect(hits.map((h) => h.body.result.resultCode)).toEqual([
      'SENT',
      'SENT',
      'DELIVERED',
      'DELIVERED',
      'SUCCESSFUL',
      'SUCCESSFUL',
    ])
    expect(hits.every((h) => h.body.commandId === id)).toBe(true)
  })

  it('notifications not yet accepted when the gateway stops are delivered, in order, after it starts again', async () => {
    const dir = tempDir('sitegate-callbacks-')
    dirs.push(dir)
    const tune = (cfg: GatewayConfig) => {
      cfg.callbacks.maxAttempts = 10
      cfg.callbacks.initialBackoffMs = 20
    }
    let up = false
    const cb = receiver.endpoint(() => (up ? 200 : 500))
    const first = await start(dir, tune)
    const c1 = client(first, await login(first.httpUrl, firstApp(dir)), sims)
    const d = await c1.device()
    const sim = await c1.online(d.login)
    const id = await c1.create(d.deviceId, { callbackUrl: cb.url })
    await waitFor(async () => (await c1.command(d.deviceId, id))?.status === 'SUCCESSFUL', 'SUCCESSFUL')
    await cb.received(2)
    await sim.close()
    sims.splice(sims.indexOf(sim), 1)
    gateways.splice(gateways.indexOf(first), 1)
    await first.stop()
    expect(cb.accepted()).toEqual([])

    up = true
    await start(dir, tune)
    await waitFor(() => cb.accepted().length >= 3, 'the owed notifications after the restart')
    expect(cb.accepted()).toEqual(['SENT', 'DELIVERED', 'SUCCESSFUL'])
    expect(cb.hits().at(-1)!.body).toEqual(
      note(d.deviceId, id, 'SUCCESSFUL', { result: 0, echo: 'SET_LEVEL' }),
    )
  })

  it('the CLI logs each failed attempt and the delivery, without the password of the callback URL', async () => {
    const dir = tempDir('sitegate-callbacks-')
    dirs.push(dir)
    const configFile = join(dir, 'sitegate.yaml')
    writeFileSync(configFile, 'callbacks:\n  maxAttempts: 5\n  initialBackoffMs: 20\n')
    const g = await spawnGateway([
      '--config',
      configFile,
      '--data-dir',
      dir,
      '--host',
      '127.0.0.1',
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--log-level',
      'info',
    ])
    try {
      const httpUrl = `http://127.0.0.1:${g.httpPort}`
      const c = client({ httpUrl, mqttUrl: '' }, await login(httpUrl, firstApp(dir)), sims)
      const cb = receiver.endpoint((previous) => (previous < 2 ? 500 : 200), 'site:s3cret-pw@')
      const d = await c.device()
      const id = await c.create(d.deviceId, { callbackUrl: cb.url })
      expect(
        (await c.api('PUT', `/iocm/app/cmd/v1.4.0/deviceCommands/${id}`, { status: 'CANCELED' })).status,
      ).toBe(200)
      const hits = await cb.received(3)
      expect(hits.map((h) => h.status)).toEqual([500, 500, 200])
      // The URL's credentials arrive as Basic authentication.
      expect(hits[0]!.headers.authorization).toBe(`Basic ${Buffer.from('site:s3cret-pw').toString('base64')}`)
      const lines = () =>
        g
          .output()
          .split('\n')
          .filter((l) => l.includes('"part":"callbacks"'))
          .map((l) => JSON.parse(l) as { msg: string; attempt?: number; error?: string; url?: string })
      const log = await waitFor(
        () => (lines().some((l) => l.msg === 'callback delivered') ? lines() : undefined),
        'the "callback delivered" log line',
      )
      expect(log.map((l) => [l.msg, l.attempt, l.error])).toEqual([
        ['callback attempt failed', 1, 'HTTP 500'],
        ['callback attempt failed', 2, 'HTTP 500'],
        ['callback delivered', 3, undefined],
      ])
      expect(log[0]!.url).toContain(`127.0.0.1:${receiver.port}/cmd/callbackUrl/`)
      expect(g.output()).not.toContain('s3cret-pw')
    } finally {
      g.child.kill('SIGTERM')
      await g.exited
    }
  }, 60_000)
})
