import type { Store } from '../store/index.ts'
import { toPlatformTime } from '../time.ts'

interface CachedService {
  serviceType: string
  reported: Record<string, unknown>
  version: number
  eventTime: number | null
}

export interface PersistedService {
  serviceId: string
  reported: Record<string, unknown>
  version: number
  eventTime: string | null
}

/**
 * The reported sections of device shadows, cached by the ingest writer so that merging a report never reads
 * SQLite. Every change is written in the writer's transaction; after a rolled-back transaction the writer
 * calls `invalidate` for the devices it touched, so the cache never holds what the database does not.
 */
export class ReportedShadows {
  private readonly cache = new Map<string, Map<string, CachedService>>()

  constructor(private readonly store: Store) {}

  private servicesOf(deviceId: string): Map<string, CachedService> {
    let services = this.cache.get(deviceId)
    if (!services) {
      services = new Map()
      for (const row of this.store.shadows.forDevice(deviceId)) {
        services.set(row.service_id, {
          serviceType: row.service_type,
          reported: JSON.parse(row.reported_json) as Record<string, unknown>,
          version: row.version,
          eventTime: row.event_time,
        })
      }
      this.cache.set(deviceId, services)
    }
    return services
  }

  /** Merges reported properties into one service's cached shadow (version + 1). */
  merge(deviceId: string, serviceId: string, data: Record<string, unknown>, eventTime: number): void {
    const services = this.servicesOf(deviceId)
    let entry = services.get(serviceId)
    if (!entry) {
      // Without a product model the service type is the service id (spec §2.5 serviceType).
      entry = { serviceType: serviceId, reported: {}, version: 0, eventTime: null }
      services.set(serviceId, entry)
    }
    Object.assign(entry.reported, data)
    entry.version += 1
    // An older sample arriving late updates values but never moves the shadow's eventTime back.
    if (entry.eventTime === null || eventTime > entry.eventTime) entry.eventTime = eventTime
  }

  /** Writes the cached state of a (device, service) pair; returns what was written (for the outbox row). */
  persist(deviceId: string, serviceId: string, at: number): PersistedService {
    const entry = this.servicesOf(deviceId).get(serviceId)
    if (!entry) throw new Error(`no cached shadow for ${deviceId}/${serviceId}`)
    this.store.shadows.upsertReported({
      device_id: deviceId,
      service_id: serviceId,
      service_type: entry.serviceType,
      reported_json: JSON.stringify(entry.reported),
      version: entry.version,
      event_time: entry.eventTime,
      modified_at: at,
    })
    return {
      serviceId,
      reported: entry.reported,
      version: entry.version,
      eventTime: entry.eventTime === null ? null : toPlatformTime(entry.eventTime),
    }
  }

  /** Drops cached state: the next merge reloads it from SQLite. */
  invalidate(deviceId: string): void {
    this.cache.delete(deviceId)
  }
}
