import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { DeviceRegistry } from '../../devices/registry.ts'
import type { DeviceViewCache } from '../../devices/view-cache.ts'
import { PlatformError } from '../../errors.ts'
import type { ProductCatalog } from '../../products/catalog.ts'
import { checkDesired } from '../../products/validate.ts'
import type { DesiredStateService } from '../../shadows/desired.ts'
import type { Store } from '../../store/index.ts'
import { toPlatformTime } from '../../time.ts'
import { numbersInQuery } from './commands.ts'
import { devicesOfQuery, timeBound } from './history.ts'
import { sendJson } from './json.ts'

const Params = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 256 }) })

/** Device shadow query (spec §4.9), served from the device view cache. */
export function shadowRoutes(app: FastifyInstance, views: DeviceViewCache): void {
  app.get(
    '/iocm/app/shadow/v1.5.0/devices/:deviceId',
    { schema: { params: Params, querystring: Type.Object({ appId: Type.Optional(Type.String()) }) } },
    async (request, reply) => {
      const { deviceId } = request.params as Static<typeof Params>
      const body = views.shadowJson(request.appId, deviceId)
      // Spec §4.9 lists only 100418 for an unknown device on this API.
      if (body === undefined) throw new PlatformError('100418')
      return sendJson(reply, body)
    },
  )
}

// §4.8 request.
const DesiredBody = Type.Object({
  serviceDesireds: Type.Array(
    Type.Object({
      serviceId: Type.String({ minLength: 1, maxLength: 256 }),
      desired: Type.Object({}, { additionalProperties: true, minProperties: 1 }),
    }),
    { minItems: 1, maxItems: 100 },
  ),
})

// §5.4 request.
const HistoryQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  gatewayId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  serviceId: Type.Optional(Type.String({ maxLength: 256 })),
  property: Type.Optional(Type.String({ maxLength: 256 })),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
  startTime: Type.Optional(Type.String()),
  endTime: Type.Optional(Type.String()),
})

/** Desired state: set it (§4.8) and read its history (§5.4). */
export function desiredRoutes(
  app: FastifyInstance,
  deps: { registry: DeviceRegistry; store: Store; desired: DesiredStateService; products: ProductCatalog },
): void {
  const { registry, store, desired, products } = deps
  app.put(
    '/iocm/app/shadow/v1.5.0/devices/:deviceId',
    {
      schema: {
        params: Params,
        body: DesiredBody,
        querystring: Type.Object({ appId: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      const { deviceId } = request.params as Static<typeof Params>
      const { serviceDesireds } = request.body as Static<typeof DesiredBody>
      const device = registry.getForApp(request.appId, deviceId, '100403')
      checkDesired(products.modelOf(device), serviceDesireds)
      await desired.set(request.appId, deviceId, serviceDesireds)
      return reply.status(200).send()
    },
  )

  app.get(
    '/iocm/app/shadow/v1.5.0/deviceDesiredHistory',
    {
      schema: { querystring: HistoryQuery },
      config: { validationCode: '100216' },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, { pageNo: true, pageSize: true }),
    },
    async (request) => {
      const q = request.query as Static<typeof HistoryQuery>
      const scoped = devicesOfQuery(registry, store, request.appId, q, '100403')
      const window = { after: timeBound('startTime', q.startTime), before: timeBound('endTime', q.endTime) }
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 25
      const byId = new Map(scoped.map((d) => [d.device_id, d]))
      const { total, rows } = store.shadows.desiredHistory({
        deviceIds: [...byId.keys()],
        serviceId: q.serviceId,
        property: q.property,
        ...window,
        limit: pageSize,
        offset: pageNo * pageSize,
      })
      return {
        totalCount: total,
        pageNo,
        pageSize,
        deviceDesiredHistoryDTOs: rows.map((r) => ({
          serviceId: r.service_id,
          deviceId: r.device_id,
          gatewayId: byId.get(r.device_id)!.gateway_id,
          appId: byId.get(r.device_id)!.app_id,
          desired: JSON.parse(r.desired) as Record<string, unknown>,
          timestamp: toPlatformTime(r.at),
        })),
      }
    },
  )
}
