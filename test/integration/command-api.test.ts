// The command REST API beyond create/cancel (spec platform-rest-api.md §8.2 query, §8.5/§8.6 command-cancel
// tasks, §8.7 direct dispatch), against a real gateway with two applications from its config: paging, filters
// and time windows, what another application can and cannot see, and what a simulated device receives.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { deviceStatus, waitFor } from '../helpers/mqtt.ts'
import {
  type AnswerPolicy,
  answerSuccess,
  type SimulatedDevice,
  simulateDevice,
} from '../helpers/simulator.ts'

const APP_A = { appId: 'site_app_a', secret: 'secret-of-app-a-0001' }
const APP_B = { appId: 'site_app_b', secret: 'secret-of-app-b-0002' }

interface CommandView {
  commandId: string
  appId: string
  deviceId: string
  status: string
  command: { serviceId: string; method: string; paras: Record<string, unknown> }
  result: { resultCode: string; resultDetail: Record<string, unknown> | null } | null
}

interface Page<T> {
  pagination: { pageNo: number; pageSize: number; totalSize: number }
  data: T[]
}

interface CancelTask {
  taskId: string
  appId: string
  deviceId: string
  status: string
  totalCount: number
  deviceCommands: CommandView[]
}

const INVALID = { error_code: '100022', error_desc: 'The input is invalid.' }
const PLATFORM_TIME = /^\d{8}T\d{6}Z$/

/** epoch ms → `yyyyMMddTHHmmssZ`. */
const platformTime = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '')

let gw: RunningGateway
let a: ReturnType<typeof rest>
let b: ReturnType<typeof rest>
const sims: SimulatedDevice[] = []
let nodes = 0

beforeAll(async () => {
  gw = await startGateway({
    config: (c) => {
      c.apps = [APP_A, APP_B]
    },
  })
  a = rest(await login(gw.httpUrl, APP_A))
  b = rest(await login(gw.httpUrl, APP_B))
})
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.close()
})
afterAll(async () => {
  await gw.stop()
  removeDir(gw.dataDir)
})

/** REST calls as one application. */
function rest(session: AppSession) {
  const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
    callApi<T>(gw.httpUrl, session, method, path, body)
  return {
    appId: session.appId,
    api,
    status: (deviceId: string) => deviceStatus(gw.httpUrl, session, deviceId),
    device: async () => {
      nodes += 1
      const d = await registerDevice(gw.httpUrl, session, `api-node-${nodes}`)
      return { deviceId: d.deviceId, login: { id: d.deviceId, secret: d.secret } }
    },
    /** §8.1 to a device (cached); returns the commandId. */
    create: async (deviceId: string, method = 'SET_LEVEL') => {
      const res = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
        deviceId,
        command: { serviceId: 'Light', method, paras: { level: 4 } },
      })
      expect(res.status).toBe(201)
      return res.body.commandId as string
    },
    /** §8.2 with a query string. */
    query: (qs: string) => api<Page<CommandView>>('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?${qs}`),
    /** §8.5. */
    cancelTask: (deviceId: string) =>
      api<CancelTask>('POST', '/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks', { deviceId }),
    /** §8.6 with a query string. */
    cancelTasks: (qs: string) =>
      api<Page<CancelTask>>('GET', `/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks?${qs}`),
    /** §8.7. */
    send: (deviceId: string, serviceId: string, body: unknown) =>
      api('POST', `/iocm/app/signaltrans/v1.1.0/devices/${deviceId}/services/${serviceId}/sendCommand`, body),
  }
}

async function online(login: { id: string; secret: string }, policy: AnswerPolicy = answerSuccess) {
  const sim = await simulateDevice(gw.mqttUrl, login, policy)
  sims.push(sim)
  return sim
}

const ids = (page: { data: { commandId: string }[] }) => page.data.map((c) => c.commandId)

describe('§8.2 query device commands', () => {
  it('pages newest first with pageNo/pageSize; totalSize counts every match', async () => {
    const d = await a.device()
    const created: string[] = []
    for (let i = 1; i <= 5; i++) created.push(await a.create(d.deviceId, `M${i}`))
    const newestFirst = [...created].reverse()

    const all = await a.query(`deviceId=${d.deviceId}`)
    expect(all.status).toBe(200)
    expect(all.body.pagination).toEqual({ pageNo: 0, pageSize: 1000, totalSize: 5 })
    expect(ids(all.body)).toEqual(newestFirst)
    expect(all.body.data.map((c) => c.command.method)).toEqual(['M5', 'M4', 'M3', 'M2', 'M1'])

    const pages: string[][] = []
    for (const pageNo of [0, 1, 2, 3]) {
      const page = await a.query(`deviceId=${d.deviceId}&pageNo=${pageNo}&pageSize=2`)
      expect(page.status).toBe(200)
      expect(page.body.pagination).toEqual({ pageNo, pageSize: 2, totalSize: 5 })
      pages.push(ids(page.body))
    }
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4), []])
  })

  it('deviceId narrows to one device; without it, every command of the application', async () => {
    const x = await a.device()
    const y = await a.device()
    const onX = [await a.create(x.deviceId, 'X1'), await a.create(x.deviceId, 'X2')]
    const onY = [await a.create(y.deviceId, 'Y1')]

    const justY = await a.query(`deviceId=${y.deviceId}`)
    expect(ids(justY.body)).toEqual(onY)
    expect(justY.body.pagination.totalSize).toBe(1)
    expect(justY.body.data[0]).toMatchObject({ deviceId: y.deviceId, appId: APP_A.appId, status: 'PENDING' })

    const everything = await a.query('')
    expect(everything.body.pagination.totalSize).toBe(everything.body.data.length)
    expect(ids(everything.body)).toEqual(expect.arrayContaining([...onX, ...onY]))
    expect(everything.body.data.every((c) => c.appId === APP_A.appId)).toBe(true)
    // Newest first across devices too.
    const positions = [...onX, ...onY].map((id) => ids(everything.body).indexOf(id))
    expect(positions).toEqual([...positions].sort((p, q) => q - p))

    expect((await a.query('deviceId=no-such-device')).status).toBe(404)
    expect((await a.query('deviceId=no-such-device')).body).toMatchObject({ error_code: '100418' })
  })

  it('startTime/endTime select the commands created in between', async () => {
    const d = await a.device()
    const early = await a.create(d.deviceId, 'EARLY')
    // The next whole second after the early command; the later ones are created after it.
    const boundary = Math.ceil((Date.now() + 1) / 1000) * 1000
    await new Promise((resolve) => setTimeout(resolve, boundary - Date.now() + 20))
    const late = [await a.create(d.deviceId, 'LATE1'), await a.create(d.deviceId, 'LATE2')]
    const hour = 3_600_000

    const after = await a.query(
      `deviceId=${d.deviceId}&startTime=${platformTime(boundary)}&endTime=${platformTime(boundary + hour)}`,
    )
    expect(after.status).toBe(200)
    expect(ids(after.body)).toEqual([...late].reverse())
    expect(after.body.pagination.totalSize).toBe(2)

    const before = await a.query(
      `deviceId=${d.deviceId}&startTime=${platformTime(boundary - hour)}&endTime=${platformTime(boundary)}`,
    )
    expect(ids(before.body)).toEqual([early])
    expect(before.body.pagination.totalSize).toBe(1)

    const later = await a.query(
      `deviceId=${d.deviceId}&startTime=${platformTime(boundary + hour)}&endTime=${platformTime(boundary + 2 * hour)}`,
    )
    expect(later.body).toEqual({ pagination: { pageNo: 0, pageSize: 1000, totalSize: 0 }, data: [] })
  })

  it('a window needs both ends, end after start, in the platform format; paging within bounds (400 100022)', async () => {
    const now = platformTime(Date.now())
    const hourAgo = platformTime(Date.now() - 3_600_000)
    for (const qs of [
      `startTime=${hourAgo}`,
      `endTime=${now}`,
      `startTime=${now}&endTime=${now}`,
      `startTime=${now}&endTime=${hourAgo}`,
      `startTime=yesterday&endTime=${now}`,
      `startTime=${hourAgo}&endTime=2026-01-01T00:00:00Z`,
      'pageSize=0',
      'pageSize=1001',
      'pageNo=-1',
      'pageNo=first',
    ]) {
      expect({ qs, ...(await a.query(qs)) }).toEqual({ qs, status: 400, body: INVALID })
    }
  })
})

describe('another application', () => {
  it('cannot see, cancel or dispatch to the commands and devices of the first', async () => {
    const d = await a.device()
    const sim = await online(d.login, () => 'silent')
    const mine = await a.create(d.deviceId, 'A_ONLY')
    await sim.waitForCommands(1)
    const pending = await a.create(d.deviceId, 'A_PENDING')
    const own = await b.device()
    const theirs = await b.create(own.deviceId, 'B_ONLY')

    // Queries: only B's own commands; A's device does not exist for B.
    const listed = await b.query('')
    expect(ids(listed.body)).toEqual([theirs])
    expect(listed.body.pagination.totalSize).toBe(1)
    expect(await b.query(`deviceId=${d.deviceId}`)).toMatchObject({
      status: 404,
      body: { error_code: '100418' },
    })

    // Cancels: the command does not exist for B, nor the device for a cancel task.
    const put = await b.api('PUT', `/iocm/app/cmd/v1.4.0/deviceCommands/${pending}`, { status: 'CANCELED' })
    expect(put).toEqual({
      status: 404,
      body: { error_code: '100434', error_desc: 'The device command is not existed.' },
    })
    expect(await b.cancelTask(d.deviceId)).toMatchObject({ status: 404, body: { error_code: '100418' } })
    expect((await b.cancelTasks('')).body).toEqual({
      pagination: { pageNo: 0, pageSize: 1000, totalSize: 0 },
      data: [],
    })

    // Creating or dispatching to A's device: 100418, and the device gets nothing.
    const create = await b.api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId: d.deviceId,
      command: { serviceId: 'Light', method: 'B_CREATE', paras: {} },
    })
    expect(create).toMatchObject({ status: 404, body: { error_code: '100418' } })
    const send = await b.send(d.deviceId, 'Light', { header: { mode: 'ACK', method: 'B_SEND' } })
    expect(send).toMatchObject({ status: 404, body: { error_code: '100418' } })

    const seen = await waitFor(async () => {
      const page = await a.query(`deviceId=${d.deviceId}`)
      return page.body.data.some((c) => c.status === 'DELIVERED') ? page : undefined
    }, 'A_ONLY DELIVERED')
    expect(seen.body.data.map((c) => [c.commandId, c.status])).toEqual([
      [pending, 'PENDING'],
      [mine, 'DELIVERED'],
    ])
    expect(sim.received.map((r) => r.cmd)).toEqual(['A_ONLY'])
  })
})

describe('§8.5 / §8.6 command-cancel tasks', () => {
  it('a task cancels every PENDING command of the device (201, SUCCESS); finished ones stay, none is delivered', async () => {
    const d = await a.device()
    const first = await online(d.login)
    const done = await a.create(d.deviceId, 'DONE')
    await first.waitForCommands(1)
    await waitFor(async () => {
      const page = await a.query(`deviceId=${d.deviceId}`)
      return page.body.data.find((c) => c.commandId === done)?.status === 'SUCCESSFUL'
    }, 'DONE answered')
    await first.close()
    sims.splice(sims.indexOf(first), 1)
    // Offline for the gateway too before the next commands, so they stay PENDING.
    await waitFor(async () => (await a.status(d.deviceId)) === 'OFFLINE', 'the device OFFLINE')
    const pending = [
      await a.create(d.deviceId, 'P1'),
      await a.create(d.deviceId, 'P2'),
      await a.create(d.deviceId, 'P3'),
    ]

    const task = await a.cancelTask(d.deviceId)
    expect(task.status).toBe(201)
    expect(task.body).toMatchObject({
      appId: APP_A.appId,
      deviceId: d.deviceId,
      status: 'SUCCESS',
      totalCount: 3,
    })
    expect(task.body.taskId).toMatch(/^\S{1,64}$/)
    expect(task.body.deviceCommands.map((c) => c.commandId).sort()).toEqual([...pending].sort())
    for (const c of task.body.deviceCommands) {
      expect(c).toMatchObject({
        deviceId: d.deviceId,
        status: 'CANCELED',
        result: { resultCode: 'CANCELED' },
      })
    }

    const after = await a.query(`deviceId=${d.deviceId}`)
    expect(after.body.data.map((c) => [c.command.method, c.status])).toEqual([
      ['P3', 'CANCELED'],
      ['P2', 'CANCELED'],
      ['P1', 'CANCELED'],
      ['DONE', 'SUCCESSFUL'],
    ])

    // Nothing left to cancel: an empty task.
    const again = await a.cancelTask(d.deviceId)
    expect(again.status).toBe(201)
    expect(again.body).toMatchObject({ status: 'SUCCESS', totalCount: 0, deviceCommands: [] })
    expect(again.body.taskId).not.toBe(task.body.taskId)

    // The device comes back: only what was created after the cancel reaches it.
    const sim = await online(d.login)
    await a.create(d.deviceId, 'AFTER')
    await sim.waitForCommands(1)
    expect(sim.received.map((r) => r.cmd)).toEqual(['AFTER'])
  })

  it('refuses an unknown device (404 100418) and a body without deviceId (400 100022)', async () => {
    expect(await a.cancelTask('no-such-device')).toEqual({
      status: 404,
      body: { error_code: '100418', error_desc: 'The deviceData is not existed.' },
    })
    const noDevice = await a.api('POST', '/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks', {})
    expect(noDevice).toEqual({ status: 400, body: INVALID })
  })

  it('the query filters by device, task and status; totalSize is the number of commands in the matched tasks', async () => {
    const u = await a.device()
    const v = await a.device()
    for (const m of ['U1', 'U2', 'U3']) await a.create(u.deviceId, m)
    const uFull = (await a.cancelTask(u.deviceId)).body
    const uEmpty = (await a.cancelTask(u.deviceId)).body
    for (const m of ['V1', 'V2']) await a.create(v.deviceId, m)
    const vTask = (await a.cancelTask(v.deviceId)).body

    const ofU = await a.cancelTasks(`deviceId=${u.deviceId}`)
    expect(ofU.status).toBe(200)
    expect(ofU.body.pagination).toEqual({ pageNo: 0, pageSize: 1000, totalSize: 3 })
    expect(ofU.body.data.map((t) => t.taskId).sort()).toEqual([uFull.taskId, uEmpty.taskId].sort())
    const full = ofU.body.data.find((t) => t.taskId === uFull.taskId)!
    expect(full).toMatchObject({ appId: APP_A.appId, deviceId: u.deviceId, status: 'SUCCESS', totalCount: 3 })
    expect(full.deviceCommands.map((c) => c.status)).toEqual(['CANCELED', 'CANCELED', 'CANCELED'])
    expect(full.deviceCommands.map((c) => c.commandId).sort()).toEqual(
      uFull.deviceCommands.map((c) => c.commandId).sort(),
    )

    const one = await a.cancelTasks(`taskId=${vTask.taskId}`)
    expect(one.body.pagination.totalSize).toBe(2)
    expect(one.body.data).toHaveLength(1)
    expect(one.body.data[0]).toMatchObject({ taskId: vTask.taskId, deviceId: v.deviceId, totalCount: 2 })

    const all = await a.cancelTasks('')
    expect(all.body.data.map((t) => t.taskId)).toEqual(
      expect.arrayContaining([uFull.taskId, uEmpty.taskId, vTask.taskId]),
    )
    expect(all.body.pagination.totalSize).toBe(all.body.data.reduce((n, t) => n + t.totalCount, 0))

    // Pages of one task each; totalSize still counts the commands of every matched task.
    const paged: string[] = []
    for (const pageNo of [0, 1, 2]) {
      const page = await a.cancelTasks(`deviceId=${u.deviceId}&pageNo=${pageNo}&pageSize=1`)
      expect(page.body.pagination).toEqual({ pageNo, pageSize: 1, totalSize: 3 })
      expect(page.body.data).toHaveLength(pageNo < 2 ? 1 : 0)
      paged.push(...page.body.data.map((t) => t.taskId))
    }
    expect(paged.sort()).toEqual([uFull.taskId, uEmpty.taskId].sort())

    expect((await a.cancelTasks(`deviceId=${u.deviceId}&status=SUCCESS`)).body.data).toHaveLength(2)
    expect((await a.cancelTasks(`deviceId=${u.deviceId}&status=FAILED`)).body).toEqual({
      pagination: { pageNo: 0, pageSize: 1000, totalSize: 0 },
      data: [],
    })

    const hour = 3_600_000
    const window = (from: number, to: number) =>
      a.cancelTasks(`deviceId=${v.deviceId}&startTime=${platformTime(from)}&endTime=${platformTime(to)}`)
    expect((await window(Date.now() - hour, Date.now() + hour)).body.data.map((t) => t.taskId)).toEqual([
      vTask.taskId,
    ])
    expect((await window(Date.now() + hour, Date.now() + 2 * hour)).body.data).toEqual([])
    expect(await a.cancelTasks(`startTime=${platformTime(Date.now())}`)).toEqual({
      status: 400,
      body: INVALID,
    })
    expect(await a.cancelTasks('pageSize=0')).toEqual({ status: 400, body: INVALID })

    // The other application sees none of these tasks.
    expect((await b.cancelTasks('')).body.data.map((t) => t.taskId)).not.toContain(vTask.taskId)
  })
})

describe('§8.7 sendCommand (direct dispatch)', () => {
  it('202 {requestId, status sent, timestamp}; the device gets a cloudReq with cmd = method, the path serviceId, paras = body', async () => {
    const d = await a.device()
    const sim = await online(d.login)
    const requestId = `req-${d.deviceId}`
    const res = await a.send(d.deviceId, 'Maintenance', {
      header: { requestId, mode: 'ACK', from: '/users/site-ops', method: 'REBOOT' },
      body: { delay: 5, reason: 'update' },
    })
    expect(res).toEqual({
      status: 202,
      body: { requestId, status: 'sent', timestamp: expect.stringMatching(PLATFORM_TIME) },
    })
    const [req] = await sim.waitForCommands(1)
    expect(req).toEqual({
      msgType: 'cloudReq',
      serviceId: 'Maintenance',
      cmd: 'REBOOT',
      paras: { delay: 5, reason: 'update' },
      mid: expect.any(Number),
    })
    expect(req!.mid).toBeGreaterThanOrEqual(1)
    expect(req!.mid).toBeLessThanOrEqual(65535)
  })

  it('without requestId or body: a requestId is assigned (a new one each time), paras is {}', async () => {
    const d = await a.device()
    const sim = await online(d.login)
    const first = await a.send(d.deviceId, 'Light', { header: { mode: 'NOACK', method: 'BLINK' } })
    const second = await a.send(d.deviceId, 'Light', { header: { mode: 'ACK', method: 'BLINK' } })
    for (const res of [first, second]) {
      expect(res.status).toBe(202)
      expect(res.body).toMatchObject({ status: 'sent', timestamp: expect.stringMatching(PLATFORM_TIME) })
      expect(res.body.requestId).toEqual(expect.stringMatching(/^\S{1,128}$/))
    }
    expect(first.body.requestId).not.toBe(second.body.requestId)
    const reqs = await sim.waitForCommands(2)
    expect(reqs.map((r) => [r.serviceId, r.cmd, r.paras])).toEqual([
      ['Light', 'BLINK', {}],
      ['Light', 'BLINK', {}],
    ])
  })

  it('an offline device: 409 100428 and nothing is kept (its requestId is free once the device is online)', async () => {
    const d = await a.device()
    const body = { header: { requestId: `offline-${d.deviceId}`, mode: 'ACK', method: 'OPEN' } }
    expect(await a.send(d.deviceId, 'Gate', body)).toEqual({
      status: 409,
      body: { error_code: '100428', error_desc: 'The device is not online.' },
    })
    const sim = await online(d.login)
    const res = await a.send(d.deviceId, 'Gate', body)
    expect(res.status).toBe(202)
    expect(res.body.requestId).toBe(body.header.requestId)
    await sim.waitForCommands(1)
    expect(sim.received.map((r) => r.cmd)).toEqual(['OPEN'])
  })

  it('unknown device 100418; bad mode, missing method or header, a used requestId: 400 100022 and nothing sent', async () => {
    expect(await a.send('no-such-device', 'Gate', { header: { mode: 'ACK', method: 'OPEN' } })).toEqual({
      status: 404,
      body: { error_code: '100418', error_desc: 'The deviceData is not existed.' },
    })
    const d = await a.device()
    const sim = await online(d.login)
    const requestId = `once-${d.deviceId}`
    expect(
      (await a.send(d.deviceId, 'Gate', { header: { requestId, mode: 'ACK', method: 'FIRST' } })).status,
    ).toBe(202)
    for (const body of [
      { header: { mode: 'MAYBE', method: 'BAD_MODE' } },
      { header: { method: 'NO_MODE' } },
      { header: { mode: 'ACK' } },
      { header: { mode: 'ACK', method: 'M'.repeat(33) } },
      { body: { x: 1 } },
      { header: { requestId, mode: 'ACK', method: 'REPEATED' } },
    ]) {
      const res = await a.send(d.deviceId, 'Gate', body)
      expect({ request: body, ...res }).toEqual({ request: body, status: 400, body: INVALID })
    }
    // Give a wrongly sent command time to arrive before concluding nothing else was sent.
    expect((await a.send(d.deviceId, 'Gate', { header: { mode: 'ACK', method: 'LAST' } })).status).toBe(202)
    await sim.waitForCommands(2)
    expect(sim.received.map((r) => r.cmd)).toEqual(['FIRST', 'LAST'])
  })
})
