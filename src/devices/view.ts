import type { DeviceRow } from '../store/repos/devices.ts'
import type { ShadowRow } from '../store/repos/shadows.ts'
import { toPlatformTime } from '../time.ts'

// DeviceInfoQueryDTO (spec platform-rest-api.md §2.1). Every field is present, null when the gateway does not
// know it, so clients see one stable shape.
const INFO_FIELDS = [
  'nodeId',
  'name',
  'description',
  'manufacturerId',
  'manufacturerName',
  'mac',
  'location',
  'deviceType',
  'model',
  'swVersion',
  'fwVersion',
  'hwVersion',
  'protocolType',
  'bridgeId',
  'status',
  'statusDetail',
  'mute',
  'supportedSecurity',
  'isSecurity',
  'signalStrength',
  'sigVersion',
  'serialNumber',
  'batteryLevel',
] as const

/** DeviceInfoQueryDTO (§2.1) with `imsi` when asked for (`select=imsi`); DeviceInfo (§2.2) without it. */
export function deviceInfoOf(row: DeviceRow, opts: { imsi?: boolean } = {}): Record<string, unknown> {
  const extra = JSON.parse(row.info_json) as Record<string, unknown>
  const known: Record<string, unknown> = {
    nodeId: row.node_id,
    name: row.name,
    manufacturerId: row.manufacturer_id,
    manufacturerName: row.manufacturer_name,
    location: row.location,
    deviceType: row.device_type,
    model: row.model,
    protocolType: row.protocol_type,
    status: row.status,
    statusDetail: row.status_detail,
    mute: row.mute,
  }
  const info: Record<string, unknown> = {}
  for (const field of INFO_FIELDS) info[field] = known[field] ?? extra[field] ?? null
  if (opts.imsi) info.imsi = extra.imsi ?? null
  return info
}

/** The §5.1 device record (QueryDeviceDTO4Cloud2NA in §5.2) of a device and its shadow rows. */
export function deviceRecordOf(row: DeviceRow, shadows: ShadowRow[], imsi: boolean): Record<string, unknown> {
  return {
    deviceId: row.device_id,
    gatewayId: row.gateway_id,
    nodeType: row.node_type,
    createTime: toPlatformTime(row.created_at),
    lastModifiedTime: toPlatformTime(Math.max(row.modified_at, ...shadows.map((s) => s.modified_at))),
    deviceInfo: deviceInfoOf(row, { imsi }),
    services: shadows.map((s) => ({
      serviceId: s.service_id,
      serviceType: s.service_type,
      serviceInfo: null,
      data: JSON.parse(s.reported_json) as unknown,
      eventTime: s.event_time === null ? null : toPlatformTime(s.event_time),
    })),
    alarmInfo: null,
  }
}
