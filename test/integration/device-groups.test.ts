// Device groups (spec §10) over real HTTP: the group record, membership rules, limits, errors, and a §9.1
// batch task that targets a group.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

describe('device groups (§10)', () => {
  let gw: RunningGateway
  let session: AppSession
  let n = 0

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterAll(async () => {
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const devices = async (count: number) => {
    const ids: string[] = []
    for (let i = 0; i < count; i++)
      ids.push((await registerDevice(gw.httpUrl, session, `group-node-${++n}`)).deviceId)
    return ids
  }
  const create = (body: Record<string, unknown>) => api('POST', '/iocm/app/devgroup/v1.3.0/devGroups', body)
  const members = async (id: string, q = '') =>
    (await api('GET', `/iocm/app/dm/v1.2.0/devices/ids?devGroupId=${id}${q}`)).body

  it('creates a group with members; the record, the members list and the single query agree', async () => {
    const ids = await devices(3)
    const res = await create({ name: 'Cranes', description: 'tower cranes', maxDevNum: 5, deviceIds: ids })
    expect(res.status).toBe(200)
    const id = res.body.id as string
    expect(res.body).toEqual({
      name: 'Cranes',
      description: 'tower cranes',
      id,
      appId: session.appId,
      maxDevNum: 5,
      curDevNum: 3,
      deviceIds: ids,
    })
    expect(await members(id)).toEqual({ totalCount: 3, pageNo: 0, pageSize: 10, deviceIds: ids })
    expect(await members(id, '&pageSize=2&pageNo=1')).toMatchObject({ deviceIds: [ids[2]] })
    const one = await api('GET', `/iocm/app/devgroup/v1.3.0/devGroups/${id}`)
    expect(one.body).toEqual({ ...res.body, creator: session.appId, deviceIds: undefined })
  })

  it('membership: one group per device (100604), the limit (100601), unknown devices (100604), removal', async () => {
    const ids = await devices(4)
    const a = (await create({ name: 'GroupA', maxDevNum: 2, deviceIds: [ids[0]] })).body.id as string
    const b = (await create({ name: 'GroupB' })).body.id as string
    const add = (group: string, deviceIds: (string | undefined)[]) =>
      api('POST', '/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices', { devGroupId: group, deviceIds })
    expect((await add(a, [ids[1]])).body).toEqual({ devGroupId: a, deviceIds: [ids[1]] })
    expect((await add(a, [ids[2]])).body.error_code).toBe('100601')
    expect((await add(b, [ids[0]])).body.error_code).toBe('100604')
    expect((await add(b, ['no-such-device'])).body.error_code).toBe('100604')
    expect((await members(b)).totalCount).toBe(0)
    const remove = await api('POST', '/iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices', {
      devGroupId: a,
      deviceIds: [ids[0]],
    })
    expect(remove.status).toBe(200)
    // Freed: it may join another group now.
    expect((await add(b, [ids[0], ids[3]])).status).toBe(200)
    expect((await members(b)).deviceIds).toEqual([ids[0], ids[3]])
  })

  it('modify, list with paging and name, delete (members are freed)', async () => {
    const ids = await devices(2)
    const id = (await create({ name: 'Pumps', deviceIds: ids })).body.id as string
    expect(
      (await api('PUT', `/iocm/app/devgroup/v1.3.0/devGroups/${id}`, { name: 'Pumps', maxDevNum: 1 })).body
        .error_code,
    ).toBe('100601')
    const renamed = await api('PUT', `/iocm/app/devgroup/v1.3.0/devGroups/${id}`, {
      name: 'WaterPumps',
      description: 'B3',
    })
    expect(renamed.body).toMatchObject({ id, name: 'WaterPumps', description: 'B3', curDevNum: 2 })
    expect(
      (await api('PUT', `/iocm/app/devgroup/v1.3.0/devGroups/${id}`, { name: 'Cranes' })).body.error_code,
    ).toBe('100602')
    const list = await api('GET', '/iocm/app/devgroup/v1.3.0/devGroups')
    // §10.4: one per page by default.
    expect(list.body).toMatchObject({ pageNo: 0, pageSize: 1 })
    expect((list.body.list as unknown[]).length).toBe(1)
    const byName = await api('GET', '/iocm/app/devgroup/v1.3.0/devGroups?name=WaterPumps&pageSize=10')
    expect(byName.body).toMatchObject({
      totalCount: 1,
      list: [expect.objectContaining({ id, creator: session.appId })],
    })
    expect((await api('DELETE', `/iocm/app/devgroup/v1.3.0/devGroups/${id}`)).status).toBe(200)
    expect((await api('GET', `/iocm/app/devgroup/v1.3.0/devGroups/${id}`)).body.error_code).toBe('100603')
    expect((await create({ name: 'Again', deviceIds: ids })).status).toBe(200)
  })

  it('a batch task can target groups by id (GroupIdList) and by name (GroupList)', async () => {
    const ids = await devices(2)
    const id = (await create({ name: 'Sirens', deviceIds: ids })).body.id as string
    for (const [type, ref] of [
      ['GroupIdList', id],
      ['GroupList', 'Sirens'],
    ]) {
      const task = await api('POST', '/iocm/app/batchtask/v1.1.0/tasks', {
        taskName: `siren-${type}`,
        taskType: 'DeviceCmd',
        timeout: 10,
        param: { type, groupList: [ref], command: { serviceId: 'Siren', method: 'SOUND' } },
      })
      expect(task.status).toBe(200)
      const view = await api('GET', `/iocm/app/batchtask/v1.1.0/tasks/${task.body.taskID as string}`)
      expect(view.body.totalCnt).toBe(2)
    }
  })

  it.each([
    ['a name with a space', { name: 'Tower cranes' }, '50400'],
    ['a 51-character name', { name: 'x'.repeat(51) }, '50400'],
    ['negative maxDevNum', { name: 'Neg', maxDevNum: -1 }, '50400'],
    ['more devices than maxDevNum', { name: 'Small', maxDevNum: 1, deviceIds: ['a', 'b'] }, '100609'],
  ])('create with %s → %s', async (_what, body, code) => {
    expect((await create(body)).body.error_code).toBe(code)
  })

  it('an existing name is 100602; unknown groups are 100603 everywhere', async () => {
    await create({ name: 'Dupe' })
    expect((await create({ name: 'Dupe' })).body.error_code).toBe('100602')
    expect((await api('DELETE', '/iocm/app/devgroup/v1.3.0/devGroups/nope')).body.error_code).toBe('100603')
    expect((await members('nope')).error_code).toBe('100603')
  })
})
