import { randomUUID } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { newCommandRow } from '../../commands/new-command.ts'
import type { CommandService } from '../../commands/service.ts'
import { commandView } from '../../commands/view.ts'
import type { DeviceRegistry } from '../../devices/registry.ts'
import { PlatformError } from '../../errors.ts'
import type { ProductCatalog } from '../../products/catalog.ts'
import { checkCommand } from '../../products/validate.ts'
import type { Store } from '../../store/index.ts'
import type { DeviceRow } from '../../store/repos/devices.ts'
import { parsePlatformTime, toPlatformTime } from '../../time.ts'

const AppQuery = { appId: Type.Optional(Type.String()) }
const Paras = Type.Object({}, { additionalProperties: true })
const CallbackUrl = Type.String({ maxLength: 1024, pattern: '^https?://' })

// §8.1 request.
const CreateBody = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  command: Type.Object({
    serviceId: Type.String({ minLength: 1, maxLength: 64 }),
    method: Type.String({ minLength: 1, maxLength: 128 }),
    paras: Paras,
  }),
  callbackUrl: Type.Optional(CallbackUrl),
  expireTime: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
  maxRetransmit: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
})

const PageQuery = {
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  startTime: Type.Optional(Type.String()),
  endTime: Type.Optional(Type.String()),
}
// §8.2 request (query strings are numbers once parsed: see `querystringParser` coercion below).
const ListQuery = Type.Object({
  ...AppQuery,
  ...PageQuery,
  deviceId: Type.Optional(Type.String({ maxLength: 64 })),
})
const CancelBody = Type.Object({ status: Type.String() })
const CancelParams = Type.Object({ deviceCommandId: Type.String({ minLength: 1, maxLength: 64 }) })
const CancelTaskBody = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 64 }) })
const CancelTaskQuery = Type.Object({
  ...AppQuery,
  ...PageQuery,
  taskId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()),
  status: Type.Optional(Type.String()),
})

// §8.7 request.
const DispatchParams = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  serviceId: Type.String({ minLength: 1, maxLength: 64 }),
})
const DispatchBody = Type.Object({
  header: Type.Object({
    requestId: Type.Optional(Type.String({ maxLength: 128 })),
    mode: Type.Union([Type.Literal('ACK'), Type.Literal('NOACK')]),
    from: Type.Optional(Type.String({ maxLength: 128 })),
    toType: Type.Optional(Type.String({ maxLength: 128 })),
    to: Type.Optional(Type.String({ maxLength: 128 })),
    method: Type.String({ minLength: 1, maxLength: 32 }),
  }),
  body: Type.Optional(Paras),
})

/** Query integers arrive as text; the schema checks the converted value (a non-number stays text and fails). */
const numericQuery = { pageNo: true, pageSize: true } as const

/** A §8.2/§8.6 time window: both ends or neither, end after start (§8.2 Notes: 100022 otherwise). */
export function timeWindow(q: { startTime?: string | undefined; endTime?: string | undefined }): {
  after?: number
  before?: number
} {
  if (q.startTime === undefined && q.endTime === undefined) return {}
  const after = q.startTime === undefined ? undefined : parsePlatformTime(q.startTime)
  const before = q.endTime === undefined ? undefined : parsePlatformTime(q.endTime)
  if (after === undefined || before === undefined || before <= after) {
    throw new PlatformError(
      '100022',
      'startTime and endTime go together, as yyyyMMddTHHmmssZ, end after start',
    )
  }
  return { after, before }
}

/** Converts the numeric query parameters in place (fastify's ajv does not coerce: see server.ts). */
export function numbersInQuery(query: Record<string, unknown>, names: Readonly<Record<string, true>>): void {
  for (const name of Object.keys(names)) {
    const v = query[name]
    if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) query[name] = Number(v)
  }
}

/** Command delivery (spec §8.1–8.3, 8.5–8.7). */
export function commandRoutes(
  app: FastifyInstance,
  deps: { registry: DeviceRegistry; store: Store; commands: CommandService; products: ProductCatalog },
): void {
  const { registry, store, commands, products } = deps
  const productOf = (device: DeviceRow) => products.modelOf(device)
  const config = { validationCode: '100022' as const }

  app.post(
    '/iocm/app/cmd/v1.4.0/deviceCommands',
    { schema: { body: CreateBody, querystring: Type.Object(AppQuery) }, config },
    async (request, reply) => {
      const body = request.body as Static<typeof CreateBody>
      const device = registry.getForApp(request.appId, body.deviceId, '100418')
      checkCommand(productOf(device), body.command, { service: '100431', method: '100022', paras: '100022' })
      const row = await commands.create(
        newCommandRow(
          {
            appId: request.appId,
            deviceId: body.deviceId,
            origin: 'ledger',
            serviceId: body.command.serviceId,
            method: body.command.method,
            paras: body.command.paras,
            callbackUrl: body.callbackUrl,
            expireTime: body.expireTime,
            maxRetransmit: body.maxRetransmit,
          },
          Date.now(),
        ),
      )
      return reply.status(201).send(commandView(row, false))
    },
  )

  app.get(
    '/iocm/app/cmd/v1.4.0/deviceCommands',
    {
      schema: { querystring: ListQuery },
      config,
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, numericQuery),
    },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>
      if (q.deviceId !== undefined) registry.getForApp(request.appId, q.deviceId, '100418')
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 1000
      const { total, rows } = store.commands.query({
        appId: request.appId,
        deviceId: q.deviceId,
        origins: ['ledger'],
        ...timeWindow(q),
        limit: pageSize,
        offset: pageNo * pageSize,
      })
      return { pagination: { pageNo, pageSize, totalSize: total }, data: rows.map((r) => commandView(r)) }
    },
  )

  app.put(
    '/iocm/app/cmd/v1.4.0/deviceCommands/:deviceCommandId',
    { schema: { params: CancelParams, body: CancelBody, querystring: Type.Object(AppQuery) }, config },
    async (request) => {
      const { status } = request.body as Static<typeof CancelBody>
      // §8.3: the only allowed value.
      if (status !== 'CANCELED') throw new PlatformError('100022', 'status must be CANCELED')
      const { deviceCommandId } = request.params as Static<typeof CancelParams>
      return commandView(await commands.cancel(request.appId, deviceCommandId))
    },
  )

  app.post(
    '/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks',
    { schema: { body: CancelTaskBody, querystring: Type.Object(AppQuery) }, config },
    async (request, reply) => {
      const { deviceId } = request.body as Static<typeof CancelTaskBody>
      registry.getForApp(request.appId, deviceId, '100418')
      const taskId = randomUUID().replaceAll('-', '')
      const rows = await commands.cancelPending(request.appId, deviceId, taskId)
      return reply.status(201).send({
        taskId,
        appId: request.appId,
        deviceId,
        status: 'SUCCESS',
        totalCount: rows.length,
        deviceCommands: rows.map((r) => commandView(r)),
      })
    },
  )

  app.get(
    '/iocm/app/cmd/v1.4.0/deviceCommandCancelTasks',
    {
      schema: { querystring: CancelTaskQuery },
      config,
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, numericQuery),
    },
    async (request) => {
      const q = request.query as Static<typeof CancelTaskQuery>
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 1000
      const tasks = store.tasks.cancelTasks({
        appId: request.appId,
        taskId: q.taskId,
        deviceId: q.deviceId,
        status: q.status,
        ...timeWindow(q),
      })
      const views = tasks.map((t) => {
        const ids = JSON.parse(t.command_ids) as string[]
        const rows = ids.map((id) => store.commands.get(id)).filter((r) => r !== undefined)
        return {
          taskId: t.task_id,
          appId: t.app_id,
          deviceId: t.device_id,
          status: t.status,
          totalCount: ids.length,
          deviceCommands: rows.map((r) => commandView(r)),
        }
      })
      // §8.6: totalSize counts the commands of the matched tasks.
      const totalSize = views.reduce((n, v) => n + v.totalCount, 0)
      return {
        pagination: { pageNo, pageSize, totalSize },
        data: views.slice(pageNo * pageSize, (pageNo + 1) * pageSize),
      }
    },
  )

  app.post(
    '/iocm/app/signaltrans/v1.1.0/devices/:deviceId/services/:serviceId/sendCommand',
    { schema: { params: DispatchParams, body: DispatchBody, querystring: Type.Object(AppQuery) }, config },
    async (request, reply) => {
      const { deviceId, serviceId } = request.params as Static<typeof DispatchParams>
      const { header, body } = request.body as Static<typeof DispatchBody>
      const device = registry.getForApp(request.appId, deviceId, '100418')
      if (device.mute === 'TRUE') throw new PlatformError('100432')
      checkCommand(
        productOf(device),
        { serviceId, method: header.method, paras: body ?? {} },
        { service: '100444', method: '102203', paras: '100022' },
      )
      // §8.7: direct dispatch, no caching — the device must be connected now.
      if (!commands.isOnline(deviceId)) throw new PlatformError('100428')
      const now = Date.now()
      const row = await commands.create(
        newCommandRow(
          {
            appId: request.appId,
            deviceId,
            origin: 'direct',
            immediate: true,
            serviceId,
            method: header.method,
            paras: body ?? {},
            requestId: header.requestId ?? randomUUID().replaceAll('-', ''),
            extra: { header },
          },
          now,
        ),
      )
      if (row.status !== 'SENT') throw new PlatformError('100428')
      return reply.status(202).send({
        requestId: row.request_id,
        status: 'sent',
        timestamp: toPlatformTime(row.platform_issued_time ?? now),
      })
    },
  )
}
