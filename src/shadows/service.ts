import type { EventBus } from '../events.ts'
import type { Store } from '../store/index.ts'
import type { DeviceRow } from '../store/repos/devices.ts'
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

/** The shadow body of `GET /iocm/app/shadow/v1.5.0/devices/{deviceId}` (spec §4.9). */
export interface ShadowView {
  deviceId: string
  gatewayId: string
  nodeType: string
  createTime: string
  lastModifiedTime: string
  deviceInfo: Record<string, unknown>
  services: {
    serviceId: string
    reportedProps: Record<string, unknown>
    desiredProps: Record<string, unknown>
    eventTime: string | null
    serviceType: string
  }[]
}

/**
 * Device shadows. The reported sections are cached in memory so that ingest merges without reading SQLite;
 * every change is written in the caller's transaction. A failed transaction must call `invalidate` for the
 * devices it touched, so the cache never holds what the database does not.
 */
export class ShadowService {
  private readonly cache = new Map<string, Map<string, CachedService>>()

  constructor(
    private readonly store: Store,
    bus: EventBus,
  ) {
    bus.on('device.deleted', ({ deviceId }) => this.cache.delete(deviceId))
  }

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

  /**
   * Merges reported properties into one service's shadow (in memory); returns the merged state. The caller
   * writes it with `persistReported` inside its transaction.
   */
  mergeReported(
    deviceId: string,
    serviceId: string,
    data: Record<string, unknown>,
    eventTime: number,
  ): { reported: Record<string, unknown>; version: number } {
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
    return { reported: entry.reported, version: entry.version }
  }

  /**
   * Writes the cached state of a (device, service) pair; call inside the ingest transaction. Returns what was
   * written, for the shadow outbox row.
   */
  persistReported(deviceId: string, serviceId: string, at: number): PersistedService {
    const entry = this.servicesOf(deviceId).get(serviceId)
    if (!entry) throw new Error(`no cached shadow for ${deviceId}/${serviceId}`)
    const reportedJson = JSON.stringify(entry.reported)
    this.store.shadows.upsertReported({
      device_id: deviceId,
      service_id: serviceId,
      service_type: entry.serviceType,
      reported_json: reportedJson,
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

  /** Drops cached state (after a rolled-back transaction): the next read reloads it from SQLite. */
  invalidate(deviceId: string): void {
    this.cache.delete(deviceId)
  }

  /** The spec §4.9 view of a device's shadow. */
  view(device: DeviceRow, deviceInfo: Record<string, unknown>): ShadowView {
    const rows = this.store.shadows.forDevice(device.device_id)
    return {
      deviceId: device.device_id,
      gatewayId: device.gateway_id,
      nodeType: device.node_type,
      createTime: toPlatformTime(device.created_at),
      lastModifiedTime: toPlatformTime(Math.max(device.modified_at, ...rows.map((r) => r.modified_at))),
      deviceInfo,
      services: rows.map((r) => ({
        serviceId: r.service_id,
        reportedProps: JSON.parse(r.reported_json) as Record<string, unknown>,
        desiredProps: JSON.parse(r.desired_json) as Record<string, unknown>,
        eventTime: r.event_time === null ? null : toPlatformTime(r.event_time),
        serviceType: r.service_type,
      })),
    }
  }
}
