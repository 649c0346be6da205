import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { GatewayConfig } from '../config/schema.ts'
import type { DeviceRegistry } from '../devices/registry.ts'
import { PlatformError } from '../errors.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { SerialService } from '../serial/service.ts'
import type { Store } from '../store/index.ts'
import type { SyncService } from '../sync/service.ts'
import { redact, SETTINGS_SECTIONS, validateSection } from './config-view.ts'
import { DashboardFeed } from './feed.ts'
import { OverviewBuilder } from './overview.ts'
import { dashboardStatic } from './static.ts'
import { TicketBook } from './tickets.ts'

/** What the gateway hands the dashboard's routes besides the API's own parts. */
export interface DashboardDeps {
  bus: EventBus
  broker: { readonly connectedClients: number }
  ingest: { stats(): { batches: number; items: number } }
  config: Readonly<GatewayConfig>
  startedAt: number
  /** The built dashboard (default renderer/dist). */
  rendererDir?: string
}

const TicketQuery = Type.Object({ ticket: Type.String({ minLength: 1, maxLength: 128 }) })
const ValidateBody = Type.Object({
  section: Type.Union(SETTINGS_SECTIONS.map((s) => Type.Literal(s))),
  value: Type.Unknown(),
})

/** Keep-alive comment interval: proxies and browsers drop a silent stream after a minute or so. */
const KEEPALIVE_MS = 15_000

/**
 * The dashboard: its static files at `/`, and sitegate's admin endpoints it calls (README "Dashboard"):
 *   GET  /sitegate/v1/status         → the overview (devices, broker clients, rates, sync, serial)
 *   POST /sitegate/v1/events/ticket  → {"ticket","expiresIn"}: one use, 30 s
 *   GET  /sitegate/v1/events?ticket= → server-sent events (no Bearer header: EventSource cannot send one)
 *   GET  /sitegate/v1/config         → the running configuration, secrets hidden; the applications
 *   POST /sitegate/v1/config/validate {"section","value"} → {"valid"} or {"valid":false,"error"}
 */
export function dashboardRoutes(
  app: FastifyInstance,
  deps: DashboardDeps & {
    log: Logger
    store: Store
    registry: DeviceRegistry
    sync: SyncService
    serial?: SerialService | undefined
  },
): void {
  const overview = new OverviewBuilder({ ...deps, startedAt: deps.startedAt })
  const feed = new DashboardFeed(deps.bus, deps.registry, (appId) => overview.build(appId), deps.log)
  const tickets = new TicketBook()
  const streams = new Set<() => void>()

  dashboardStatic(app, deps.rendererDir)

  app.get('/sitegate/v1/status', { schema: { tags: ['dashboard'] } }, async (request) =>
    overview.build(request.appId),
  )

  app.post('/sitegate/v1/events/ticket', { schema: { tags: ['dashboard'] } }, async (request) =>
    tickets.issue(request.appId),
  )

  app.get(
    '/sitegate/v1/events',
    { schema: { tags: ['dashboard'], querystring: TicketQuery }, config: { auth: false } },
    async (request, reply) => {
      const { ticket } = request.query as Static<typeof TicketQuery>
      const appId = tickets.redeem(ticket)
      if (appId === undefined)
        throw new PlatformError('1010005', 'the event ticket is unknown, used or expired')
      reply.hijack()
      const res = reply.raw
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      })
      res.write('retry: 2000\n\n')
      const send = (event: string, data: unknown) => {
        if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
      }
      send('hello', { appId })
      const leave = feed.add({ appId, send })
      const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS)
      const end = () => {
        clearInterval(keepalive)
        leave()
        streams.delete(end)
        if (!res.writableEnded) res.end()
      }
      streams.add(end)
      request.raw.on('close', end)
    },
  )

  app.get('/sitegate/v1/config', { schema: { tags: ['dashboard'] } }, async () => ({
    config: redact(deps.config),
    sections: SETTINGS_SECTIONS,
    applications: deps.store.applications
      .list()
      .map((a) => ({ appId: a.app_id, name: a.name, source: a.source })),
  }))

  app.post(
    '/sitegate/v1/config/validate',
    { schema: { tags: ['dashboard'], body: ValidateBody }, config: { validationCode: '100022' } },
    async (request) => {
      const { section, value } = request.body as Static<typeof ValidateBody>
      return validateSection(deps.config, section, value)
    },
  )

  // Open event streams would keep the HTTP server from closing: end them first.
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end()
    feed.close()
  })
}
