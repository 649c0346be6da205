import type { SerialService } from '../serial/service.ts'
import type { Store } from '../store/index.ts'
import type { SyncService, SyncStatus } from '../sync/service.ts'

/** What the overview page shows in one answer (GET /sitegate/v1/status and the event stream's `status`). */
export interface Overview {
  now: string
  startedAt: string
  uptimeSeconds: number
  devices: { total: number; online: number; offline: number }
  broker: { connectedClients: number }
  /** Device messages and write operations committed per second (from the writer's counters). */
  ingest: { itemsPerSecond: number; batchesPerSecond: number; items: number }
  sync: SyncStatus
  serial: { ports: number; open: number; slaves: number; slavesOnline: number }
}

export interface OverviewSources {
  store: Store
  sync: SyncService
  serial?: SerialService | undefined
  broker: { readonly connectedClients: number }
  ingest: { stats(): { batches: number; items: number } }
  startedAt: number
}

interface Sample {
  at: number
  items: number
  batches: number
}

/**
 * Builds the overview. Rates come from differences of the writer's running counters between samples (at least
 * a second apart, over up to ten seconds), so nothing listens on the hot ingest path to count messages.
 */
export class OverviewBuilder {
  private readonly samples: Sample[] = []

  constructor(private readonly src: OverviewSources) {}

  build(appId: string, now = Date.now()): Overview {
    const { store, sync, serial, broker, ingest, startedAt } = this.src
    const count = (status?: string) =>
      store.devices.searchIds({ appId, status, ascending: false, limit: 0, offset: 0 }).total
    const total = count()
    const online = count('ONLINE')
    const stats = ingest.stats()
    const rates = this.rates({ at: now, items: stats.items, batches: stats.batches })
    const ports = serial?.status() ?? []
    const slaves = ports.flatMap((p) => p.slaves)
    return {
      now: new Date(now).toISOString(),
      startedAt: new Date(startedAt).toISOString(),
      uptimeSeconds: Math.round((now - startedAt) / 1000),
      devices: { total, online, offline: total - online },
      broker: { connectedClients: broker.connectedClients },
      ingest: { ...rates, items: stats.items },
      sync: sync.status(),
      serial: {
        ports: ports.length,
        open: ports.filter((p) => p.state === 'open').length,
        slaves: slaves.length,
        slavesOnline: slaves.filter((s) => s.state === 'online').length,
      },
    }
  }

  private rates(current: Sample): { itemsPerSecond: number; batchesPerSecond: number } {
    const last = this.samples.at(-1)
    if (!last || current.at - last.at >= 1000) this.samples.push(current)
    while (this.samples.length > 1 && current.at - this.samples[0]!.at > 10_000) this.samples.shift()
    const first = this.samples[0]!
    const seconds = (current.at - first.at) / 1000
    if (seconds <= 0) return { itemsPerSecond: 0, batchesPerSecond: 0 }
    const per = (n: number) => Math.round((n / seconds) * 10) / 10
    return {
      itemsPerSecond: per(current.items - first.items),
      batchesPerSecond: per(current.batches - first.batches),
    }
  }
}
