import type { Store } from '../store/index.ts'
import type { DesiredStatus } from '../store/repos/shadows.ts'
import { toPlatformTime } from '../time.ts'

interface CachedService {
  serviceType: string
  reported: Record<string, unknown>
  version: number
  eventTime: number | null
  /** The desired section while not yet SETTLED (migration 003); undefined when none. */
  desired: { props: Record<string, unknown>; version: number; status: DesiredStatus } | undefined
  /** Set when a report matched the desired section: persisted as SETTLED with the reported values. */
  settledVersion: number | undefined
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

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
        const unsettled = row.desired_status !== null && row.desired_status !== 'SETTLED'
        services.set(row.service_id, {
          serviceType: row.service_type,
          reported: JSON.parse(row.reported_json) as Record<string, unknown>,
          version: row.version,
          eventTime: row.event_time,
          desired: unsettled
            ? {
                props: JSON.parse(row.desired_json) as Record<string, unknown>,
                version: row.desired_version,
                status: row.desired_status as DesiredStatus,
              }
            : undefined,
          settledVersion: undefined,
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
      entry = {
        serviceType: serviceId,
        reported: {},
        version: 0,
        eventTime: null,
        desired: undefined,
        settledVersion: undefined,
      }
      services.set(serviceId, entry)
    }
    Object.assign(entry.reported, data)
    // Issue 3: the desired entry is settled once the device reports every desired property as desired.
    const desired = entry.desired
    if (desired && Object.entries(desired.props).every(([k, v]) => sameJson(entry.reported[k], v))) {
      entry.settledVersion = desired.version
      entry.desired = undefined
    }
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
    if (entry.settledVersion !== undefined) {
      this.store.shadows.setDesiredStatus(deviceId, serviceId, entry.settledVersion, 'SETTLED')
      entry.settledVersion = undefined
    }
    return {
      serviceId,
      reported: entry.reported,
      version: entry.version,
      eventTime: entry.eventTime === null ? null : toPlatformTime(entry.eventTime),
    }
  }

  /** A new desired section (set by the desired op in the same thread); reports are checked against it. */
  setDesired(deviceId: string, serviceId: string, props: Record<string, unknown>, version: number): void {
    // Not cached: the next merge loads it from SQLite, desired section included.
    const entry = this.cache.get(deviceId)?.get(serviceId)
    if (entry) entry.desired = { props, version, status: 'PENDING' }
    else this.cache.delete(deviceId)
  }

  /** The desired command's outcome (DELIVERED / FAILED) for a desired version still awaited. */
  desiredStatus(deviceId: string, serviceId: string, version: number, status: DesiredStatus): void {
    const desired = this.cache.get(deviceId)?.get(serviceId)?.desired
    if (desired && desired.version === version) desired.status = status
  }

  /** Forgets everything (after a failed operation whose effects on the cache cannot be told apart). */
  clear(): void {
    this.cache.clear()
  }

  /** Drops cached state: the next merge reloads it from SQLite. */
  invalidate(deviceId: string): void {
    this.cache.delete(deviceId)
  }
}
