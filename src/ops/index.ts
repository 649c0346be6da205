// Operations (issue 10 items 5 and 7): health and readiness, Prometheus metrics, history retention. Built by the
// composition root (gateway.ts) from parts it already has.
import type { FastifyInstance } from 'fastify'
import type { ApplicationService } from '../apps/service.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../logger.ts'
import { type Check, readiness } from './health.ts'
import { GatewayMetrics, type MetricsSources } from './metrics.ts'
import { RetentionService, type RetentionWriter } from './retention.ts'
import { installOpsRoutes } from './routes.ts'

export interface OpsDeps extends Omit<MetricsSources, 'retention'> {
  config: Readonly<GatewayConfig>
  apps: ApplicationService
  writer: RetentionWriter
  log: Logger
  /** Readiness of the parts (undefined = ready), besides the gateway's own phase. */
  checks: Record<string, Check>
}

export type GatewayPhase = 'starting' | 'running' | 'stopping' | 'stopped'

export class Ops {
  readonly metrics: GatewayMetrics
  readonly retention: RetentionService
  phase: GatewayPhase = 'starting'
  private readonly startedAt = Date.now()

  constructor(private readonly deps: OpsDeps) {
    this.retention = new RetentionService(
      deps.config.retention,
      deps.writer,
      deps.log.child({ part: 'retention' }),
    )
    this.metrics = new GatewayMetrics({ ...deps, retention: this.retention })
  }

  /** Adds /healthz, /readyz, /metrics and the REST latency hook to one HTTP(S) API instance. */
  install(app: FastifyInstance): void {
    installOpsRoutes(app, {
      config: this.deps.config.metrics,
      apps: this.deps.apps,
      metrics: this.metrics,
      ready: () => this.ready(),
      startedAt: this.startedAt,
    })
  }

  ready() {
    return readiness({
      gateway: () => (this.phase === 'running' ? undefined : this.phase),
      ...this.deps.checks,
    })
  }

  start(): void {
    this.retention.start()
  }

  async stop(): Promise<void> {
    await this.retention.stop()
  }
}
