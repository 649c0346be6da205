import { randomUUID } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { CommandService, LedgerWriter } from '../../commands/service.ts'
import { PlatformError } from '../../errors.ts'
import type { Store } from '../../store/index.ts'
import type { CommandRow, CommandStatus } from '../../store/repos/commands.ts'
import type { BatchTaskRow } from '../../store/repos/tasks.ts'
import { toPlatformTime } from '../../time.ts'
import { numbersInQuery } from './commands.ts'

const Tag = Type.Object({
  tagName: Type.String({ minLength: 1, maxLength: 128 }),
  tagValue: Type.String({ minLength: 1, maxLength: 1024 }),
})
const TargetType = Type.Union(
  ['DeviceList', 'DeviceType', 'DeviceArea', 'GroupList', 'Broadcast', 'GroupIdList'].map((t) =>
    Type.Literal(t),
  ),
)
// §9.1 request.
const CreateBody = Type.Object({
  appId: Type.Optional(Type.String({ maxLength: 64 })),
  param: Type.Object({
    type: TargetType,
    deviceList: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 10000 })),
    deviceType: Type.Optional(Type.String({ maxLength: 256 })),
    manufacturerId: Type.Optional(Type.String({ maxLength: 256 })),
    model: Type.Optional(Type.String({ maxLength: 256 })),
    deviceLocation: Type.Optional(Type.String({ maxLength: 1024 })),
    groupList: Type.Optional(Type.Array(Type.String())),
    command: Type.Object({
      serviceId: Type.String({ minLength: 1, maxLength: 64 }),
      method: Type.String({ minLength: 1, maxLength: 128 }),
      paras: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
    callbackUrl: Type.Optional(Type.String({ maxLength: 1024, pattern: '^https?://' })),
    maxRetransmit: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
    groupTag: Type.Optional(Type.String({ maxLength: 256 })),
  }),
  taskName: Type.String({ minLength: 1, maxLength: 256 }),
  taskType: Type.Literal('DeviceCmd'),
  timeout: Type.Integer({ minimum: 10, maximum: 2880 }),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 100 })),
})
type Param = Static<typeof CreateBody>['param']

const TaskParams = Type.Object({ taskId: Type.String({ minLength: 1, maxLength: 64 }) })
const DetailStatus = Type.Union(
  ['Pending', 'WaitResult', 'Success', 'Fail', 'Timeout'].map((s) => Type.Literal(s)),
)
const DetailsQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  taskId: Type.String({ minLength: 1, maxLength: 64 }),
  status: Type.Optional(DetailStatus),
  deviceId: Type.Optional(Type.String()),
  commandId: Type.Optional(Type.String()),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
})

/** §9.3 sub-task status of a command. */
function detailStatus(status: CommandStatus): string {
  switch (status) {
    case 'PENDING':
      return 'Pending'
    case 'SENT':
    case 'DELIVERED':
      return 'WaitResult'
    case 'SUCCESSFUL':
      return 'Success'
    case 'TIMEOUT':
      return 'Timeout'
    default:
      return 'Fail'
  }
}

/** §9.2 view: counts from the sub-tasks' commands. */
function taskView(task: BatchTaskRow, rows: CommandRow[], now: number): Record<string, unknown> {
  const count = (...s: CommandStatus[]) => rows.filter((r) => s.includes(r.status)).length
  const [successCnt, failCnt, timeoutCnt, expiredCnt] = [
    count('SUCCESSFUL'),
    count('FAILED', 'CANCELED'),
    count('TIMEOUT'),
    count('EXPIRED'),
  ]
  const completeCnt = successCnt + failCnt + timeoutCnt
  const totalCnt = rows.length
  const finished = completeCnt + expiredCnt === totalCnt
  const status = finished
    ? 'Complete'
    : now > task.created_at + task.timeout_min * 60_000
      ? 'Timeout'
      : count('PENDING') === totalCnt
        ? 'Pending'
        : 'Running'
  const perMille = (n: number) => (totalCnt === 0 ? 0 : Math.floor((1000 * n) / totalCnt))
  return {
    appId: task.app_id,
    taskId: task.task_id,
    taskName: task.task_name,
    operator: task.app_id,
    taskFrom: 'Northbound',
    taskType: task.task_type,
    status,
    startTime: toPlatformTime(task.created_at),
    // §9.1 Notes: the stored value is echoed (minutes).
    timeout: task.timeout_min,
    progress: perMille(completeCnt + expiredCnt),
    totalCnt,
    successCnt,
    failCnt,
    timeoutCnt,
    expiredCnt,
    completeCnt,
    successRate: perMille(successCnt),
    param: JSON.parse(task.param_json) as unknown,
    tags: task.tags_json === null ? [] : (JSON.parse(task.tags_json) as unknown),
  }
}

/** The task's target devices (§9.1 param.type). */
function targets(store: Store, appId: string, p: Param): string[] {
  switch (p.type) {
    case 'DeviceList': {
      const ids = p.deviceList ?? []
      if (ids.length === 0) throw new PlatformError('50400', 'param.deviceList is required for DeviceList')
      const unknown = ids.filter((id) => store.devices.get(id)?.app_id !== appId)
      if (unknown.length > 0)
        throw new PlatformError('101001', `unknown devices: ${unknown.slice(0, 5).join(', ')}`)
      return [...new Set(ids)]
    }
    case 'DeviceType':
      if (p.deviceType === undefined)
        throw new PlatformError('50400', 'param.deviceType is required for DeviceType')
      return store.devices.idsMatching(appId, {
        device_type: p.deviceType,
        manufacturer_id: p.manufacturerId,
        model: p.model,
      })
    case 'DeviceArea':
      if (p.deviceLocation === undefined) {
        throw new PlatformError('50400', 'param.deviceLocation is required for DeviceArea')
      }
      return store.devices.idsMatching(appId, { location: p.deviceLocation })
    case 'Broadcast':
      return store.devices.idsMatching(appId, {})
    default: {
      // GroupIdList names groups by id, GroupList by name (§9.1 param.groupList).
      const refs = p.groupList ?? []
      if (refs.length === 0) throw new PlatformError('50400', `param.groupList is required for ${p.type}`)
      const ids = new Set<string>()
      for (const ref of refs) {
        const g = p.type === 'GroupIdList' ? store.groups.get(ref) : store.groups.byName(appId, ref)
        if (!g || g.app_id !== appId) throw new PlatformError('101001', `group ${ref} does not exist`)
        for (const id of store.groups.members(g.id)) ids.add(id)
      }
      return [...ids]
    }
  }
}

/** Batch tasks (spec §9.1–9.3): cached commands to many devices at once. */
export function batchTaskRoutes(
  app: FastifyInstance,
  deps: { store: Store; ingest: LedgerWriter; commands: CommandService },
): void {
  const { store, commands } = deps
  app.post('/iocm/app/batchtask/v1.1.0/tasks', { schema: { body: CreateBody } }, async (request) => {
    const body = request.body as Static<typeof CreateBody>
    if (body.appId !== undefined && body.appId !== request.appId) throw new PlatformError('100217')
    const deviceIds = targets(store, request.appId, body.param)
    const taskId = randomUUID().replaceAll('-', '')
    await deps.ingest.execute('batch.create', {
      task: {
        task_id: taskId,
        app_id: request.appId,
        task_name: body.taskName,
        task_type: body.taskType,
        timeout_min: body.timeout,
        param_json: JSON.stringify(body.param),
        tags_json: body.tags ? JSON.stringify(body.tags) : null,
      },
      deviceIds,
      command: { ...body.param.command, paras: body.param.command.paras ?? {} },
      callbackUrl: body.param.callbackUrl,
      maxRetransmit: body.param.maxRetransmit,
    })
    commands.queuedFor(deviceIds, Date.now() + body.timeout * 60_000)
    // §9.1: 200 with the capitalised `taskID`.
    return { taskID: taskId }
  })

  app.get(
    '/iocm/app/batchtask/v1.1.0/tasks/:taskId',
    {
      schema: {
        params: TaskParams,
        querystring: Type.Object({
          appId: Type.Optional(Type.String()),
          select: Type.Optional(Type.String()),
        }),
      },
      config: { validationCode: '100022' },
    },
    async (request) => {
      const { taskId } = request.params as Static<typeof TaskParams>
      const task = store.tasks.batchTask(taskId)
      if (!task || task.app_id !== request.appId) throw new PlatformError('105005')
      return taskView(task, store.commands.ofBatch(taskId), Date.now())
    },
  )

  app.get(
    '/iocm/app/batchtask/v1.1.0/taskDetails',
    {
      schema: { querystring: DetailsQuery },
      config: { validationCode: '100022' },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, { pageNo: true, pageSize: true }),
    },
    async (request) => {
      const q = request.query as Static<typeof DetailsQuery>
      const task = store.tasks.batchTask(q.taskId)
      if (!task || task.app_id !== request.appId) throw new PlatformError('105005')
      const rows = store.commands
        .ofBatch(q.taskId)
        .filter(
          (r) =>
            (q.status === undefined || detailStatus(r.status) === q.status) &&
            (q.deviceId === undefined || r.device_id === q.deviceId) &&
            (q.commandId === undefined || r.command_id === q.commandId),
        )
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 25
      return {
        pageNo,
        pageSize,
        totalCount: rows.length,
        taskDetails: rows.slice(pageNo * pageSize, (pageNo + 1) * pageSize).map((r) => ({
          status: detailStatus(r.status),
          output: JSON.stringify({
            requestId: r.command_id,
            commandResult: r.result_json === null ? null : (JSON.parse(r.result_json) as unknown),
          }),
          error:
            r.status === 'SUCCESSFUL' ||
            r.status === 'PENDING' ||
            r.status === 'SENT' ||
            r.status === 'DELIVERED'
              ? null
              : JSON.stringify({ error_code: r.status, error_desc: `the command ended ${r.status}` }),
          param: { deviceId: r.device_id, commandId: r.command_id },
        })),
      }
    },
  )
}
