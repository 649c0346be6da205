import { randomUUID } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { PlatformError } from '../../errors.ts'
import type { Store } from '../../store/index.ts'
import type { GroupRow } from '../../store/repos/groups.ts'
import { numbersInQuery } from './commands.ts'

// §10: letters and digits only, 1–50 characters.
const GroupName = Type.String({ pattern: '^[A-Za-z0-9]{1,50}$' })
const Description = Type.String({ maxLength: 1024 })
const MaxDevNum = Type.Integer({ minimum: 0, maximum: 1_000_000 })
const DeviceIds = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 })
const AppQuery = Type.Object({
  accessAppId: Type.Optional(Type.String()),
  appId: Type.Optional(Type.String()),
})

const CreateBody = Type.Object({
  name: GroupName,
  description: Type.Optional(Description),
  appId: Type.Optional(Type.String({ maxLength: 50 })),
  maxDevNum: Type.Optional(MaxDevNum),
  deviceIds: Type.Optional(DeviceIds),
})
const ModifyBody = Type.Object({
  name: GroupName,
  description: Type.Optional(Description),
  maxDevNum: Type.Optional(MaxDevNum),
})
const GroupParams = Type.Object({ devGroupId: Type.String({ minLength: 1, maxLength: 50 }) })
const ListQuery = Type.Object({
  accessAppId: Type.Optional(Type.String()),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  name: Type.Optional(Type.String({ maxLength: 50 })),
})
const MembersQuery = Type.Object({
  devGroupId: Type.String({ minLength: 1, maxLength: 50 }),
  appId: Type.Optional(Type.String()),
  accessAppId: Type.Optional(Type.String()),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
})
const MembersBody = Type.Object({
  devGroupId: Type.String({ minLength: 1, maxLength: 50 }),
  deviceIds: DeviceIds,
})

const numeric = { pageNo: true, pageSize: true } as const
const numbers = async (request: { query: unknown }) =>
  numbersInQuery(request.query as Record<string, unknown>, numeric)

/** The DevGroup record (§10); `creator` in the list and single query. */
function view(store: Store, g: GroupRow, withCreator: boolean): Record<string, unknown> {
  return {
    name: g.name,
    description: g.description,
    id: g.id,
    appId: g.app_id,
    maxDevNum: g.max_dev_num,
    curDevNum: store.groups.size(g.id),
    ...(withCreator ? { creator: g.creator } : {}),
  }
}

/** Device groups (spec §10.1–10.8). A device belongs to at most one group. */
export function groupRoutes(app: FastifyInstance, deps: { store: Store }): void {
  const { store } = deps

  const groupOf = (appId: string, id: string): GroupRow => {
    const g = store.groups.get(id)
    if (!g || g.app_id !== appId) throw new PlatformError('100603')
    return g
  }

  /** Devices that may join `groupId`: the application's, in no other group (§10.7 gateway note: 100604). */
  const checkJoinable = (appId: string, groupId: string, deviceIds: string[]): void => {
    for (const id of deviceIds) {
      const d = store.devices.get(id)
      if (!d || d.app_id !== appId) throw new PlatformError('100604', `device ${id} does not exist`)
      if (d.group_id !== null && d.group_id !== groupId)
        throw new PlatformError('100604', `device ${id} is in another group`)
    }
  }

  app.post('/iocm/app/devgroup/v1.3.0/devGroups', { schema: { body: CreateBody } }, async (request) => {
    const body = request.body as Static<typeof CreateBody>
    if (body.appId !== undefined && body.appId !== request.appId) throw new PlatformError('100217')
    if (store.groups.byName(request.appId, body.name)) throw new PlatformError('100602')
    const deviceIds = [...new Set(body.deviceIds ?? [])]
    const max = body.maxDevNum ?? 0
    if (max > 0 && deviceIds.length > max) throw new PlatformError('100609')
    const id = randomUUID().replaceAll('-', '')
    checkJoinable(request.appId, id, deviceIds)
    const row = {
      id,
      app_id: request.appId,
      name: body.name,
      description: body.description ?? null,
      max_dev_num: max,
      creator: request.appId,
      created_at: Date.now(),
    }
    store.transaction(() => {
      store.groups.insert(row)
      store.groups.setGroup(deviceIds, id)
    })
    return { ...view(store, row, false), deviceIds }
  })

  app.delete(
    '/iocm/app/devgroup/v1.3.0/devGroups/:devGroupId',
    { schema: { params: GroupParams, querystring: AppQuery } },
    async (request, reply) => {
      const { devGroupId } = request.params as Static<typeof GroupParams>
      groupOf(request.appId, devGroupId)
      store.groups.delete(devGroupId)
      return reply.status(200).send()
    },
  )

  app.put(
    '/iocm/app/devgroup/v1.3.0/devGroups/:devGroupId',
    { schema: { params: GroupParams, body: ModifyBody, querystring: AppQuery } },
    async (request) => {
      const { devGroupId } = request.params as Static<typeof GroupParams>
      const body = request.body as Static<typeof ModifyBody>
      const g = groupOf(request.appId, devGroupId)
      const other = store.groups.byName(request.appId, body.name)
      if (other && other.id !== g.id) throw new PlatformError('100602')
      const max = body.maxDevNum ?? 0
      // §10.3 Notes: a limit below the current member count.
      if (max > 0 && store.groups.size(g.id) > max) throw new PlatformError('100601')
      const updated = {
        ...g,
        name: body.name,
        description: body.description ?? g.description,
        max_dev_num: max,
      }
      store.groups.update(updated)
      return view(store, updated, false)
    },
  )

  app.get(
    '/iocm/app/devgroup/v1.3.0/devGroups',
    { schema: { querystring: ListQuery }, preValidation: numbers },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>
      const pageNo = q.pageNo ?? 0
      // §10.4: default page size 1.
      const pageSize = q.pageSize ?? 1
      const { total, rows } = store.groups.list(request.appId, q.name, pageSize, pageNo * pageSize)
      return { totalCount: total, pageNo, pageSize, list: rows.map((g) => view(store, g, true)) }
    },
  )

  app.get(
    '/iocm/app/devgroup/v1.3.0/devGroups/:devGroupId',
    { schema: { params: GroupParams, querystring: AppQuery } },
    async (request) => {
      const { devGroupId } = request.params as Static<typeof GroupParams>
      return view(store, groupOf(request.appId, devGroupId), true)
    },
  )

  app.get(
    '/iocm/app/dm/v1.2.0/devices/ids',
    { schema: { querystring: MembersQuery }, preValidation: numbers },
    async (request) => {
      const q = request.query as Static<typeof MembersQuery>
      const g = groupOf(request.appId, q.devGroupId)
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 10
      return {
        totalCount: store.groups.size(g.id),
        pageNo,
        pageSize,
        deviceIds: store.groups.members(g.id, pageSize, pageNo * pageSize),
      }
    },
  )

  app.post(
    '/iocm/app/dm/v1.1.0/devices/addDevGroupTagToDevices',
    { schema: { body: MembersBody, querystring: AppQuery } },
    async (request) => {
      const body = request.body as Static<typeof MembersBody>
      const g = groupOf(request.appId, body.devGroupId)
      const deviceIds = [...new Set(body.deviceIds)]
      checkJoinable(request.appId, g.id, deviceIds)
      const current = new Set(store.groups.members(g.id))
      const added = deviceIds.filter((id) => !current.has(id))
      if (g.max_dev_num > 0 && current.size + added.length > g.max_dev_num) throw new PlatformError('100601')
      store.transaction(() => store.groups.setGroup(added, g.id))
      return { devGroupId: g.id, deviceIds }
    },
  )

  app.post(
    '/iocm/app/dm/v1.1.0/devices/deleteDevGroupTagFromDevices',
    { schema: { body: MembersBody, querystring: AppQuery } },
    async (request, reply) => {
      const body = request.body as Static<typeof MembersBody>
      const g = groupOf(request.appId, body.devGroupId)
      const current = new Set(store.groups.members(g.id))
      const strangers = body.deviceIds.filter((id) => !current.has(id))
      if (strangers.length > 0)
        throw new PlatformError('100604', `not in the group: ${strangers.slice(0, 5).join(', ')}`)
      store.transaction(() => store.groups.setGroup(body.deviceIds, null))
      return reply.status(200).send()
    },
  )
}
