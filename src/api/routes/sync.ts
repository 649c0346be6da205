import type { FastifyInstance } from 'fastify'
import type { SyncService } from '../../sync/service.ts'

/**
 * Upstream sync status (issue 5; README "Upstream sync"): GET /sitegate/v1/sync → connected or not and since
 * when, backlog per lane (rows, bytes, oldest age), drops per lane, drain rate and ETA, last error. Same
 * credentials as the platform API.
 */
export function syncRoutes(app: FastifyInstance, deps: { sync: SyncService }): void {
  app.get('/sitegate/v1/sync', async () => deps.sync.status())
}
