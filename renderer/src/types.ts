// Shapes of the API answers the dashboard reads (platform spec §2, §4.9, §5, §8 and sitegate's own endpoints).

export interface LaneStatus {
  records: number
  bytes: number
  oldestAgeSeconds: number | null
  dropped: { records: number; bytes: number; lastAt: string | null }
}

export interface SyncStatus {
  enabled: boolean
  profile: string
  url: string | null
  connected: boolean
  since: string | null
  lastError: string | null
  reconnects: number
  lanes: Record<string, LaneStatus>
  backlog: { records: number; bytes: number }
  drainRate: { rowsPerSecond: number; recordsPerSecond: number }
  etaSeconds: number | null
}

export interface Overview {
  now: string
  uptimeSeconds: number
  devices: { total: number; online: number; offline: number }
  broker: { connectedClients: number }
  ingest: { itemsPerSecond: number; batchesPerSecond: number; items: number }
  sync: SyncStatus
  serial: { ports: number; open: number; slaves: number; slavesOnline: number }
}

export interface DeviceService {
  serviceId: string
  data: Record<string, unknown> | null
  eventTime: string | null
}

export interface Device {
  deviceId: string
  gatewayId: string
  nodeType: string
  createTime: string
  lastModifiedTime: string
  deviceInfo: Record<string, unknown> & { nodeId: string; name: string | null; status: string | null }
  services: DeviceService[]
}

export interface ShadowService {
  serviceId: string
  reportedProps: Record<string, unknown>
  desiredProps: Record<string, unknown>
  eventTime: string | null
}

export interface Shadow {
  deviceId: string
  deviceInfo: Device['deviceInfo']
  services: ShadowService[]
}

export interface Command {
  commandId: string
  deviceId: string
  command: { serviceId: string; method: string; paras: Record<string, unknown> }
  status: string
  result: unknown
  creationTime: string
  executeTime: string | null
  deliveredTime: string | null
  expireTime: number | null
  issuedTimes: number | null
}

export interface HistoryRecord {
  serviceId: string
  deviceId: string
  data: Record<string, unknown>
  timestamp: string
}

export interface Reported {
  deviceId: string
  services: { serviceId: string; data: Record<string, unknown>; eventTime: string }[]
}
