import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { DeviceRegistry } from '../../devices/registry.ts'
import { PlatformError } from '../../errors.ts'
import type { Store } from '../../store/index.ts'
import type { DeviceRow } from '../../store/repos/devices.ts'
import { parsePlatformTime, toPlatformTime } from '../../time.ts'
import { numbersInQuery } from './commands.ts'

// §5.3 request.
const HistoryQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  gatewayId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000 })),
  startTime: Type.Optional(Type.String()),
  endTime: Type.Optional(Type.String()),
})

/** A §5.3/§5.4 time bound: undefined when absent, 100216 when not in platform time form. */
export function timeBound(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const t = parsePlatformTime(value)
  if (t === undefined) throw new PlatformError('100216', `${name} must be yyyyMMddTHHmmssZ`)
  return t
}

/**
 * The devices a §5.3/§5.4 query names: deviceId, or with only gatewayId every device under that gateway (the
 * specs' Notes); at least one of them (100419).
 */
export function devicesOfQuery(
  registry: DeviceRegistry,
  store: Store,
  appId: string,
  q: { deviceId?: string | undefined; gatewayId?: string | undefined },
  notFoundCode: '100403' | '100418',
): DeviceRow[] {
  if (q.deviceId === undefined && q.gatewayId === undefined) throw new PlatformError('100419')
  const devices =
    q.deviceId !== undefined
      ? [registry.getForApp(appId, q.deviceId, notFoundCode)]
      : store.devices.underGateway(appId, q.gatewayId!)
  return devices.filter((d) => q.gatewayId === undefined || d.gateway_id === q.gatewayId)
}

/** Device history data (spec §5.3): newest stored first, records = ServiceData entries. */
export function historyRoutes(app: FastifyInstance, deps: { registry: DeviceRegistry; store: Store }): void {
  const { registry, store } = deps
  app.get(
    '/iocm/app/data/v1.2.0/deviceDataHistory',
    {
      schema: { querystring: HistoryQuery },
      config: { validationCode: '100216' },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, { pageNo: true, pageSize: true }),
    },
    async (request) => {
      const q = request.query as Static<typeof HistoryQuery>
      const devices = devicesOfQuery(registry, store, request.appId, q, '100418')
      const byId = new Map(devices.map((d) => [d.device_id, d]))
      const pageNo = q.pageNo ?? 0
      // §5.3: default 1, at most 2000.
      const pageSize = q.pageSize ?? 1
      const { total, records } = store.telemetry.history({
        deviceIds: [...byId.keys()],
        after: timeBound('startTime', q.startTime),
        before: timeBound('endTime', q.endTime),
        limit: pageSize,
        offset: pageNo * pageSize,
      })
      return {
        totalCount: total,
        pageNo,
        pageSize,
        deviceDataHistoryDTOs: records.map((r) => {
          const device = byId.get(r.deviceId)!
          return {
            serviceId: r.serviceId,
            deviceId: r.deviceId,
            gatewayId: device.gateway_id,
            appId: device.app_id,
            data: r.data,
            timestamp: toPlatformTime(r.eventTime),
          }
        }),
      }
    },
  )
}
