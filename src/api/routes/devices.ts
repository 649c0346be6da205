import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { DeviceRegistry } from '../../devices/registry.ts'
import type { DeviceViewCache } from '../../devices/view-cache.ts'
import { PlatformError } from '../../errors.ts'
import type { Store } from '../../store/index.ts'
import { numbersInQuery } from './commands.ts'
import { timeBound } from './history.ts'
import { sendJson } from './json.ts'

const Str256 = Type.String({ maxLength: 256 })

// Spec §4.2 request.
const RegisterBody = Type.Object({
  deviceInfo: Type.Object({
    nodeId: Type.String({ minLength: 1, maxLength: 256 }),
    manufacturerId: Type.Optional(Str256),
    manufacturerName: Type.Optional(Str256),
    deviceType: Type.Optional(Str256),
    model: Type.Optional(Str256),
    protocolType: Type.Optional(Str256),
    name: Type.Optional(Str256),
  }),
  endUserId: Type.Optional(Str256),
  organization: Type.Optional(Str256),
  region: Type.Optional(Str256),
  timezone: Type.Optional(Str256),
  mqttConnect: Type.Optional(Type.Boolean()),
  productId: Type.Optional(Str256),
  // Spec §4.2: "20 hexadecimal digits".
  secret: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{20}$' })),
})

const Str1to256 = Type.String({ minLength: 1, maxLength: 256 })
// Spec §4.4 request.
const ModifyBody = Type.Object({
  customFields: Type.Optional(
    Type.Array(
      Type.Object({
        fieldName: Type.Optional(Str256),
        fieldType: Type.Optional(Str256),
        fieldValue: Type.Optional(Type.Unknown()),
      }),
      { maxItems: 100 },
    ),
  ),
  deviceConfig: Type.Optional(
    Type.Object({
      dataConfig: Type.Optional(
        Type.Object({ dataAgingTime: Type.Optional(Type.Integer({ minimum: 0, maximum: 90 })) }),
      ),
    }),
  ),
  deviceType: Type.Optional(Str1to256),
  endUser: Type.Optional(Str1to256),
  location: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  productId: Type.Optional(Str256),
  manufacturerId: Type.Optional(Str1to256),
  manufacturerName: Type.Optional(Str1to256),
  model: Type.Optional(Str1to256),
  mute: Type.Optional(Type.Union([Type.Literal('TRUE'), Type.Literal('FALSE')])),
  name: Type.Optional(Str1to256),
  organization: Type.Optional(Str1to256),
  protocolType: Type.Optional(Str1to256),
  region: Type.Optional(Str1to256),
  timezone: Type.Optional(Str1to256),
  imsi: Type.Optional(Type.String({ maxLength: 64 })),
  ip: Type.Optional(Type.String({ maxLength: 128 })),
  isSecure: Type.Optional(Type.Boolean()),
  psk: Type.Optional(Type.String({ pattern: '^[a-fA-F0-9]{8,32}$' })),
  tags: Type.Optional(
    Type.Array(
      Type.Object({
        tagName: Type.String({ minLength: 1, maxLength: 128 }),
        tagValue: Type.String({ minLength: 1, maxLength: 1024 }),
        tagType: Type.Optional(Type.Integer()),
      }),
      { maxItems: 100 },
    ),
  ),
})

const AppQueryFields = { appId: Type.Optional(Type.String()) }

// Spec §5.2 request.
const ListQuery = Type.Object({
  ...AppQueryFields,
  gatewayId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  nodeType: Type.Optional(Type.Union(['ENDPOINT', 'GATEWAY', 'UNKNOW'].map((t) => Type.Literal(t)))),
  deviceType: Type.Optional(Str256),
  location: Type.Optional(Type.String({ maxLength: 1024 })),
  name: Type.Optional(Str256),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
  status: Type.Optional(
    Type.Union(['ONLINE', 'OFFLINE', 'INACTIVE', 'ABNORMAL'].map((t) => Type.Literal(t))),
  ),
  startTime: Type.Optional(Type.String()),
  endTime: Type.Optional(Type.String()),
  sort: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
  select: Type.Optional(Type.Literal('imsi')),
})

// Spec §4.3 request.
const RefreshBody = Type.Object({
  nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
  verifyCode: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
})

const DeviceParams = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 256 }) })
const AppQuery = AppQueryFields
const DeviceQuery = Type.Object({ ...AppQuery, select: Type.Optional(Type.Literal('imsi')) })
const DeleteQuery = Type.Object({
  ...AppQuery,
  cascade: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
})

/**
 * Device registration (§4.2), key refresh (§4.3), modify (§4.4), delete (§4.5), activation (§4.7), single and
 * batch query (§5.1, §5.2; their records come from the device view cache).
 */
export function deviceRoutes(
  app: FastifyInstance,
  registry: DeviceRegistry,
  store: Store,
  views: DeviceViewCache,
): void {
  app.post(
    '/iocm/app/reg/v2.0.0/deviceCredentials',
    { schema: { body: RegisterBody, querystring: Type.Object(AppQuery) } },
    async (request, reply) => {
      // Spec §4.2: success is 200, not 201.
      return reply
        .status(200)
        .send(registry.register(request.appId, request.body as Static<typeof RegisterBody>))
    },
  )

  app.put(
    '/iocm/app/dm/v1.4.0/devices/:deviceId',
    {
      schema: { params: DeviceParams, body: ModifyBody, querystring: Type.Object(AppQuery) },
      config: { validationCode: '100022' },
    },
    async (request, reply) => {
      const { deviceId } = request.params as Static<typeof DeviceParams>
      registry.modify(request.appId, deviceId, request.body as Static<typeof ModifyBody>)
      // Spec §4.4: 204 No Content.
      return reply.status(204).send()
    },
  )

  // §4.3
  app.put(
    '/iocm/app/reg/v1.1.0/deviceCredentials/:deviceId',
    { schema: { params: DeviceParams, body: RefreshBody, querystring: Type.Object(AppQuery) } },
    async (request) => {
      const { deviceId } = request.params as Static<typeof DeviceParams>
      return registry.refreshKey(request.appId, deviceId, request.body as Static<typeof RefreshBody>)
    },
  )

  // §4.7: activated once it first connected, whatever its state since.
  app.get(
    '/iocm/app/reg/v1.1.0/deviceCredentials/:deviceId',
    { schema: { params: DeviceParams, querystring: Type.Object(AppQuery) } },
    async (request) => {
      const { deviceId } = request.params as Static<typeof DeviceParams>
      const row = registry.getForApp(request.appId, deviceId)
      return { deviceId: row.device_id, activated: row.activated === 1, name: row.name }
    },
  )

  app.get(
    '/iocm/app/dm/v1.4.0/devices/:deviceId',
    { schema: { params: DeviceParams, querystring: DeviceQuery }, config: { validationCode: '100405' } },
    async (request, reply) => {
      const { deviceId } = request.params as Static<typeof DeviceParams>
      const { select } = request.query as Static<typeof DeviceQuery>
      const record = views.recordJson(request.appId, deviceId, select === 'imsi')
      if (record === undefined) throw new PlatformError('100403')
      return sendJson(reply, record)
    },
  )

  app.get(
    '/iocm/app/dm/v1.4.0/devices',
    {
      schema: { querystring: ListQuery },
      config: { validationCode: '100216' },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, { pageNo: true, pageSize: true }),
    },
    async (request, reply) => {
      const q = request.query as Static<typeof ListQuery>
      // §5.2 Notes: checked on the query as sent.
      if (q.gatewayId === undefined && q.pageNo === undefined) throw new PlatformError('100218')
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 25
      const search = {
        appId: request.appId,
        gatewayId: q.gatewayId,
        // The spec's `UNKNOW` spelling; this gateway records ENDPOINT and GATEWAY.
        nodeType: q.nodeType,
        deviceType: q.deviceType,
        location: q.location,
        name: q.name,
        status: q.status,
        after: timeBound('startTime', q.startTime),
        before: timeBound('endTime', q.endTime),
        ascending: q.sort === 'ASC',
        limit: pageSize,
        offset: pageNo * pageSize,
      }
      const { total, records } = views.page(() => store.devices.searchIds(search), q.select === 'imsi')
      // The body JSON.stringify would make of { totalCount, pageNo, pageSize, devices }, the records being JSON.
      return sendJson(
        reply,
        `{"totalCount":${total},"pageNo":${pageNo},"pageSize":${pageSize},"devices":[${records.join(',')}]}`,
      )
    },
  )

  app.delete(
    '/iocm/app/dm/v1.4.0/devices/:deviceId',
    { schema: { params: DeviceParams, querystring: DeleteQuery } },
    async (request, reply) => {
      const { deviceId } = request.params as Static<typeof DeviceParams>
      const { cascade } = request.query as Static<typeof DeleteQuery>
      registry.delete(request.appId, deviceId, cascade !== 'false')
      return reply.status(204).send()
    },
  )
}
