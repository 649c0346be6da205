import formbody from '@fastify/formbody'
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { ApplicationService } from '../apps/service.ts'
import type { CommandService, LedgerWriter } from '../commands/service.ts'
import { type DashboardDeps, dashboardRoutes } from '../dashboard/routes.ts'
import type { DeviceRegistry } from '../devices/registry.ts'
import type { DeviceViewCache } from '../devices/view-cache.ts'
import { PlatformError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ProductCatalog } from '../products/catalog.ts'
import type { SafetyService } from '../safety/service.ts'
import type { SerialService } from '../serial/service.ts'
import type { DesiredStateService } from '../shadows/desired.ts'
import type { ShadowService } from '../shadows/service.ts'
import type { Store } from '../store/index.ts'
import type { SyncService } from '../sync/service.ts'
import { authenticateRequest } from './auth.ts'
import { installErrorHandling } from './errors.ts'
import { lazySchemaCompilers } from './lazy-schemas.ts'
import { batchTaskRoutes } from './routes/batch-tasks.ts'
import { type CameraApiDeps, cameraRoutes } from './routes/cameras.ts'
import { commandRoutes } from './routes/commands.ts'
import { deviceRoutes } from './routes/devices.ts'
import { groupRoutes } from './routes/groups.ts'
import { historyRoutes } from './routes/history.ts'
import { oneJsonRoutes } from './routes/onejson.ts'
import { type ProcessRouteDeps, processRoutes } from './routes/process.ts'
import { productRoutes } from './routes/products.ts'
import { rpcRoutes } from './routes/rpc.ts'
import { safetyRoutes } from './routes/safety.ts'
import { securityRoutes } from './routes/security.ts'
import { serialRoutes } from './routes/serial.ts'
import { desiredRoutes, shadowRoutes } from './routes/shadows.ts'
import { subscriptionRoutes } from './routes/subscriptions.ts'
import { syncRoutes } from './routes/sync.ts'
import { ApiServers } from './secure-server.ts'
import type { AppThrottle } from './throttle.ts'

export interface ApiDeps {
  log: Logger
  store: Store
  apps: ApplicationService
  registry: DeviceRegistry
  shadows: ShadowService
  commands: CommandService
  products: ProductCatalog
  /** Runs named write operations in the writer thread. */
  ingest: LedgerWriter
  desired: DesiredStateService
  sync: SyncService
  /** The worker threads' heaps, for GET /sitegate/v1/process. */
  threadHeaps: ProcessRouteDeps['threads']
  /** Synchronous remote calls wait at most this long. */
  syncCallTimeoutMs: number
  bodyLimitBytes: number
  /** §1.5 per-application call limit. */
  throttle: AppThrottle
  /** Serve over TLS too, with this certificate (the HTTPS listener, apiServers(app).secure). */
  https?: { cert: Buffer; key: Buffer }
  /** Cameras' upload endpoint, firmware packages and snapshots (issue 6). */
  cameras?: CameraApiDeps
  /** Serial instruments (GET /sitegate/v1/serial). */
  serial?: SerialService
  /** Safety-device calls over XMPP (issue 7). */
  safety?: SafetyService
  /** The dashboard at `/` and its admin endpoints (issue 9). */
  dashboard?: DashboardDeps
  /** Device views (§4.9, §5.1, §5.2) kept in memory (issue 4 item 8). */
  views: DeviceViewCache
}

/** Paths that need the platform credentials (app_key + Bearer token). */
const API_PREFIXES = ['/iocm/', '/iodm/', '/sitegate/']

/** The OpenAPI document's header; paths and schemas come from the routes. */
const OPENAPI_INFO: FastifyDynamicSwaggerOptions['openapi'] = {
  openapi: '3.0.3',
  info: {
    title: 'sitegate LAN API',
    description:
      "The cloud platform's REST API as the site gateway serves it on the LAN (spec platform-rest-api.md), the " +
      'remote-call API (rpc-and-calls.md Part A) and the OneJSON service calls. Every call but login/refresh and ' +
      'the remote calls needs `app_key` and `Authorization: Bearer {accessToken}`; errors are ' +
      '`{"error_code","error_desc"}`.',
    version: '1',
  },
  components: {
    securitySchemes: {
      app_key: { type: 'apiKey', in: 'header', name: 'app_key' },
      bearer: { type: 'http', scheme: 'bearer' },
    },
  },
  security: [{ app_key: [], bearer: [] }],
}

/** What buildApi() keeps beside the fastify instance it returns. */
interface BuiltApi {
  servers: ApiServers
  compileAllSchemas(): number
}
const built = new WeakMap<FastifyInstance, BuiltApi>()

function builtApi(app: FastifyInstance): BuiltApi {
  const api = built.get(app)
  if (!api) throw new Error('not an API built by buildApi()')
  return api
}

/** The API's listeners: fastify's own (HTTP) and, when built with a certificate, the HTTPS server beside it. */
export function apiServers(app: FastifyInstance): ApiServers {
  return builtApi(app).servers
}

/**
 * Compiles every route schema of `app` not compiled yet (they are compiled on first use, api/lazy-schemas.ts) and
 * returns how many; throws as fastify would at start-up if one does not compile.
 */
export function compileAllSchemas(app: FastifyInstance): number {
  return builtApi(app).compileAllSchemas()
}

/** The LAN REST API (platform subset) and the dashboard, built apart from listen() so tests can inject(). */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const schemas = lazySchemaCompilers()
  const servers = new ApiServers(deps.https)
  const app = Fastify({
    serverFactory: servers.factory,
    // fastify's own request lines stay quiet; the gateway logs what matters itself.
    loggerInstance: deps.log.child({ part: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    // Strict typing: no coercion of body values, unknown fields are ignored (spec §1.3 compatibility rule).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaController: { compilersFactory: schemas.compilersFactory },
  }) as unknown as FastifyInstance
  built.set(app, { servers, compileAllSchemas: schemas.compileAll })
  installErrorHandling(app, deps.log)
  // Spec §1.2 asks for `Content-Type: application/json` on every API but login, and a DELETE carries no body
  // (§1.1): an empty body there is no body, not malformed JSON.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.method === 'DELETE') done(null, undefined)
    else parseJson(request, body as string, done)
  })
  await app.register(formbody)
  // OpenAPI from the route schemas that also validate requests (registered before the routes it describes).
  await app.register(swagger, { openapi: OPENAPI_INFO, hideUntagged: false })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })
  app.addHook('onRequest', async (request) => {
    // An unknown route answers 404 100225 whoever asks; only real API routes check credentials.
    if (request.routeOptions.url === undefined) return
    if (request.routeOptions.config.auth === false) return
    if (!API_PREFIXES.some((prefix) => request.url.startsWith(prefix))) return
    authenticateRequest(deps.apps, request)
    if (!deps.throttle.take(request.appId)) throw new PlatformError('1010009')
  })

  securityRoutes(app, deps.apps)
  deviceRoutes(app, deps.registry, deps.store, deps.views)
  shadowRoutes(app, deps.views)
  desiredRoutes(app, deps)
  commandRoutes(app, deps)
  batchTaskRoutes(app, deps)
  subscriptionRoutes(app, deps)
  historyRoutes(app, deps)
  groupRoutes(app, deps)
  productRoutes(app, deps)
  oneJsonRoutes(app, deps)
  rpcRoutes(app, deps)
  syncRoutes(app, deps)
  if (deps.cameras) await cameraRoutes(app, deps.cameras)
  serialRoutes(app, deps)
  if (deps.safety) safetyRoutes(app, { ...deps, safety: deps.safety })
  processRoutes(app, { threads: deps.threadHeaps })

  app.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger())

  if (deps.dashboard) dashboardRoutes(app, { ...deps, ...deps.dashboard })
  return app
}
