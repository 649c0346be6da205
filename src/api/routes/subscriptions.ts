import { randomUUID } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { PlatformError } from '../../errors.ts'
import { BUSINESS_NOTIFY_TYPES, MANAGEMENT_NOTIFY_TYPES } from '../../notify/notifications.ts'
import type { Store } from '../../store/index.ts'
import type { SubscriptionRow } from '../../store/repos/subscriptions.ts'
import { numbersInQuery } from './commands.ts'

const ALL_TYPES = [...BUSINESS_NOTIFY_TYPES, ...MANAGEMENT_NOTIFY_TYPES] as string[]
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)))

const CreateBody = Type.Object({
  appId: Type.Optional(Type.String({ maxLength: 256 })),
  notifyType: literals(BUSINESS_NOTIFY_TYPES),
  callbackUrl: Type.String({ minLength: 1, maxLength: 1024 }),
})
const ManagementBody = Type.Object({
  notifyType: literals(MANAGEMENT_NOTIFY_TYPES),
  callbackUrl: Type.String({ minLength: 1, maxLength: 1024 }),
})
const IdParams = Type.Object({ subscriptionId: Type.String({ minLength: 1, maxLength: 256 }) })
const AppQuery = Type.Object({ appId: Type.Optional(Type.String({ maxLength: 256 })) })
const ListQuery = Type.Object({
  appId: Type.Optional(Type.String({ maxLength: 256 })),
  notifyType: Type.Optional(literals(ALL_TYPES)),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1 })),
})
const DeleteQuery = Type.Object({
  appId: Type.Optional(Type.String({ maxLength: 256 })),
  notifyType: Type.Optional(literals(ALL_TYPES)),
  callbackUrl: Type.Optional(Type.String({ maxLength: 1024 })),
  channel: Type.Optional(Type.String({ maxLength: 32 })),
})

/**
 * §6.1: http or https, an IP or a domain, and the port written out ("port must be explicit"); 100222 otherwise.
 * The port is read from the text because URL drops a scheme's default port.
 */
export function checkCallbackUrl(url: string): void {
  const m = /^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})(\/[^\s]*)?$/.exec(url)
  const port = m ? Number(m[2]) : 0
  if (!m || port < 1 || port > 65535 || !URL.canParse(url)) {
    throw new PlatformError(
      '100222',
      'callbackUrl must be http(s)://host:port/path with the port written out',
    )
  }
}

/** §6.3/6.4 item, plus the gateway's delivery counters (extra fields are allowed, §1.3). */
function view(row: SubscriptionRow): Record<string, unknown> {
  return {
    subscriptionId: row.subscription_id,
    notifyType: row.notify_type,
    callbackUrl: row.callback_url,
    deliveredCount: row.delivered_count,
    failedCount: row.failed_count,
  }
}

/** Subscriptions (spec §6.1–6.6). */
export function subscriptionRoutes(app: FastifyInstance, deps: { store: Store }): void {
  const { store } = deps

  const create = (appId: string, notifyType: string, callbackUrl: string): SubscriptionRow => {
    checkCallbackUrl(callbackUrl)
    // §6.1 Notes: one subscription per (application, notifyType), whatever the URL.
    if (store.subscriptions.forType(appId, notifyType))
      throw new PlatformError('100227', `${notifyType} is already subscribed`)
    const subscriptionId = randomUUID().replaceAll('-', '')
    store.subscriptions.insert({
      subscription_id: subscriptionId,
      app_id: appId,
      notify_type: notifyType,
      callback_url: callbackUrl,
      created_at: Date.now(),
    })
    return store.subscriptions.get(subscriptionId)!
  }

  app.post(
    '/iocm/app/sub/v1.2.0/subscriptions',
    { schema: { body: CreateBody, querystring: Type.Object({ ownerFlag: Type.Optional(Type.String()) }) } },
    async (request, reply) => {
      const body = request.body as Static<typeof CreateBody>
      if (body.appId !== undefined && body.appId !== request.appId) throw new PlatformError('100217')
      const row = create(request.appId, body.notifyType, body.callbackUrl)
      return reply.status(201).send({
        subscriptionId: row.subscription_id,
        notifyType: row.notify_type,
        callbackUrl: row.callback_url,
      })
    },
  )

  // §6.2: 200 with no body; the subscription gets an ID all the same and shows in §6.4 (its Notes).
  app.post(
    '/iodm/app/sub/v1.1.0/subscribe',
    { schema: { body: ManagementBody }, config: { validationCode: '100228' } },
    async (request, reply) => {
      const body = request.body as Static<typeof ManagementBody>
      create(request.appId, body.notifyType, body.callbackUrl)
      return reply.status(200).send()
    },
  )

  app.get(
    '/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId',
    { schema: { params: IdParams, querystring: AppQuery } },
    async (request) => {
      const { subscriptionId } = request.params as Static<typeof IdParams>
      const row = store.subscriptions.get(subscriptionId)
      // §6.3 documents no not-found error; 6.5's 100225 is the gateway's answer.
      if (!row || row.app_id !== request.appId) throw new PlatformError('100225')
      return view(row)
    },
  )

  app.get(
    '/iocm/app/sub/v1.2.0/subscriptions',
    {
      schema: { querystring: ListQuery },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, { pageNo: true, pageSize: true }),
    },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>
      const rows = store.subscriptions.find({ appId: request.appId, notifyType: q.notifyType })
      if (rows.length > 1000) throw new PlatformError('100224')
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 10
      return {
        totalCount: rows.length,
        pageNo,
        pageSize,
        subscriptions: rows.slice(pageNo * pageSize, (pageNo + 1) * pageSize).map(view),
      }
    },
  )

  app.delete(
    '/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId',
    { schema: { params: IdParams, querystring: AppQuery } },
    async (request, reply) => {
      const { subscriptionId } = request.params as Static<typeof IdParams>
      const row = store.subscriptions.get(subscriptionId)
      if (!row || row.app_id !== request.appId) throw new PlatformError('100225')
      store.subscriptions.delete(subscriptionId)
      return reply.status(204).send()
    },
  )

  app.delete(
    '/iocm/app/sub/v1.2.0/subscriptions',
    { schema: { querystring: DeleteQuery } },
    async (request, reply) => {
      const q = request.query as Static<typeof DeleteQuery>
      // §6.6 channel: empty → HTTP; HTTP or MQTTS → that channel; anything else deletes nothing.
      const channel = q.channel === undefined || q.channel === '' ? 'HTTP' : q.channel
      const rows = ['HTTP', 'MQTTS'].includes(channel)
        ? store.subscriptions.find({
            appId: request.appId,
            notifyType: q.notifyType,
            callbackUrl: q.callbackUrl,
            channel,
          })
        : []
      if (rows.length === 0) throw new PlatformError('100225')
      store.transaction(() => {
        for (const row of rows) store.subscriptions.delete(row.subscription_id)
      })
      return reply.status(204).send()
    },
  )
}
