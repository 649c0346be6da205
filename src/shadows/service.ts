import type { Store } from '../store/index.ts'
import type { DeviceRow } from '../store/repos/devices.ts'
import type { ShadowRow } from '../store/repos/shadows.ts'
import { toPlatformTime } from '../time.ts'

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

/** The spec §4.9 view of a device's shadow, from its row and its shadow rows (ordered by service id). */
export function shadowViewOf(
  device: DeviceRow,
  rows: ShadowRow[],
  deviceInfo: Record<string, unknown>,
): ShadowView {
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

/**
 * Device shadows as the REST API shows them (reported sections are written by the ingest writer). The shadow
 * query itself is served from the device view cache (devices/view-cache.ts).
 */
export class ShadowService {
  constructor(private readonly store: Store) {}

  /** The spec §4.9 view of a device's shadow. */
  view(device: DeviceRow, deviceInfo: Record<string, unknown>): ShadowView {
    return shadowViewOf(device, this.store.shadows.forDevice(device.device_id), deviceInfo)
  }
}
