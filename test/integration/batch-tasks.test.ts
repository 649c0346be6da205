// §9 batch tasks: cached commands to many devices, the task's counters and its sub-task details.
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
import { type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'

describe('batch tasks (DeviceCmd)', () => {
  let gw: RunningGateway
  let session: AppSession
  const sims: SimulatedDevice[] = []
  let n = 0

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const devices = async (count: number) => {
    const out = []
    for (let i = 0; i < count; i++) {
      n += 1
      out.push(await registerDevice(gw.httpUrl, session, `batch-node-${n}`))
    }
    return out
  }
  const task = (name: string, param: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    api('POST', '/iocm/app/batchtask/v1.1.0/tasks', {
      taskName: name,
      taskType: 'DeviceCmd',
      timeout: 10,
      param: { command: { serviceId: 'Siren', method: 'SOUND', paras: { seconds: 3 } }, ...param },
      ...extra,
    })

  it('sends the command to every listed device; counters and sub-tasks follow the commands', async () => {
    const [a, b, c] = await devices(3)
    for (const d of [a!, b!])
      sims.push(await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret }))
    const created = await task('sirens-1', {
      type: 'DeviceList',
      deviceList: [a!.deviceId, b!.deviceId, c!.deviceId],
    })
    expect(created.status).toBe(200)
    const taskId = created.body.taskID as string
    expect(taskId).toMatch(/^[0-9a-f]{32}$/)
    for (const sim of sims) {
      const [req] = await sim.waitForCommands(1)
      expect(req).toMatchObject({ serviceId: 'Siren', cmd: 'SOUND', paras: { seconds: 3 } })
    }
    const view = await waitFor(async () => {
      const v = (await api('GET', `/iocm/app/batchtask/v1.1.0/tasks/${taskId}`)).body
      return v.successCnt === 2 ? v : undefined
    }, 'two sub-tasks succeeded')
    expect(view).toMatchObject({
      taskId,
      taskName: 'sirens-1',
      taskType: 'DeviceCmd',
      taskFrom: 'Northbound',
      status: 'Running',
      totalCnt: 3,
      successCnt: 2,
      failCnt: 0,
      completeCnt: 2,
      progress: 666,
      successRate: 666,
      timeout: 10,
    })
    const details = await api('GET', `/iocm/app/batchtask/v1.1.0/taskDetails?taskId=${taskId}&pageSize=2`)
    expect(details.body).toMatchObject({ pageNo: 0, pageSize: 2, totalCount: 3 })
    const pending = await api('GET', `/iocm/app/batchtask/v1.1.0/taskDetails?taskId=${taskId}&status=Pending`)
    expect(pending.body.taskDetails).toEqual([
      expect.objectContaining({
        status: 'Pending',
        param: expect.objectContaining({ deviceId: c!.deviceId }),
      }),
    ])
    // The offline device gets its sub-task when it connects; the task completes.
    sims.push(await simulateDevice(gw.mqttUrl, { id: c!.deviceId, secret: c!.secret }))
    await waitFor(async () => {
      const v = (await api('GET', `/iocm/app/batchtask/v1.1.0/tasks/${taskId}`)).body
      return v.status === 'Complete' && v.successCnt === 3 ? v : undefined
    }, 'task complete')
  })

  it('Broadcast targets every device of the application', async () => {
    await devices(2)
    const created = await task('broadcast-1', { type: 'Broadcast' })
    const view = (await api('GET', `/iocm/app/batchtask/v1.1.0/tasks/${created.body.taskID as string}`)).body
    expect(view.totalCnt).toBe(n)
  })

  it('refuses what it cannot do, storing nothing', async () => {
    const [d] = await devices(1)
    expect((await task('dup', { type: 'DeviceList', deviceList: [d!.deviceId] })).status).toBe(200)
    expect((await task('dup', { type: 'DeviceList', deviceList: [d!.deviceId] })).body).toEqual({
      error_code: '105002',
      error_desc: 'The batchTask name has exist.',
    })
    expect((await task('ghost', { type: 'DeviceList', deviceList: ['nope'] })).body.error_code).toBe('101001')
    expect((await task('groups', { type: 'GroupList', groupList: ['g'] })).body.error_code).toBe('101001')
    expect((await task('short', { type: 'Broadcast' }, { timeout: 5 })).body.error_code).toBe('50400')
    expect((await task('type', { type: 'Everything' })).body.error_code).toBe('50400')
    expect((await api('GET', '/iocm/app/batchtask/v1.1.0/tasks/unknown')).body.error_code).toBe('105005')
    expect((await api('GET', '/iocm/app/batchtask/v1.1.0/taskDetails?taskId=unknown')).body.error_code).toBe(
      '105005',
    )
  })
})
