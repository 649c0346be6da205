// GET /healthz, /readyz and /metrics (issue 10 item 5, README "Operations"), and the per-route REST latency.
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { authenticateRequest } from '../api/auth.ts'
import type { ApplicationService } from '../apps/service.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { ReadinessReport } from './health.ts'
import type { GatewayMetrics } from './metrics.ts'

export interface OpsRouteDeps {
  config: GatewayConfig['metrics']
  apps: ApplicationService
  metrics: GatewayMetrics
  ready: () => ReadinessReport
  startedAt: number
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

export function installOpsRoutes(app: FastifyInstance, deps: OpsRouteDeps): void {
  const hidden = { schema: { hide: true }, config: { auth: false } }
  // For supervisors (systemd, Docker, Kubernetes probes): no credentials, nothing secret in the answers.
  app.get('/healthz', hidden, async () => ({
    status: 'ok',
    uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
  }))
  app.get('/readyz', hidden, async (_request, reply) => {
    const report = deps.ready()
    return reply.code(report.ready ? 200 : 503).send(report)
  })
  if (!deps.config.enabled) return
  app.get('/metrics', hidden, async (request, reply) => {
    checkMetricsAccess(deps, request)
    const text = await deps.metrics.scrape()
    return reply.type(deps.metrics.contentType).send(text)
  })
  // REST latency per route pattern (never per URL: a deviceId in the label would make a series per device).
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.observeRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    )
  })
}

/** metrics.access: loopback (open to this host), credentials, open; credentials = metrics.token or an app's. */
function checkMetricsAccess(deps: OpsRouteDeps, request: FastifyRequest): void {
  const { access, token } = deps.config
  if (access === 'open') return
  if (access === 'loopback' && LOOPBACK.has(request.socket.remoteAddress ?? '')) return
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
  if (token !== undefined && bearer !== undefined && sameSecret(bearer, token)) return
  // The platform API's credentials and its error answers (401 100025, 403 1010005).
  authenticateRequest(deps.apps, request)
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
