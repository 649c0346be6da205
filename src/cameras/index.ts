import { join } from 'node:path'
import type { Broker, DevicePublishHandler } from '../broker/broker.ts'
import type { CommandService } from '../commands/service.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { DeviceRegistry } from '../devices/registry.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { IngestService } from '../telemetry/ingest.ts'
import { FirmwareStore } from './firmware-store.ts'
import { lanBaseUrl } from './lan-address.ts'
import { cameraMessageLimit } from './limits.ts'
import { CameraService } from './service.ts'
import { SnapshotStore } from './snapshot-store.ts'
import { cameraUplinkHandler } from './uplink.ts'

export interface Cameras {
  service: CameraService
  snapshots: SnapshotStore
  firmware: FirmwareStore
  /** The broker's handler for camera sessions' publishes. */
  uplink: DevicePublishHandler
  /** What the HTTP API serves for cameras (api/routes/cameras.ts). */
  api: {
    cameras: CameraService
    snapshots: SnapshotStore
    firmware: FirmwareStore
    registry: DeviceRegistry
    store: Store
    uploadBodyLimit: number
    maxFirmwareBytes: number
  }
}

/**
 * Builds the camera parts (device-mqtt.md Part C) and hooks them to the broker: camera PUBACKs mark their
 * commands DELIVERED. `listeners` says where the HTTP server ended up (for package_url).
 */
export function buildCameras(deps: {
  config: Readonly<GatewayConfig>
  dataDir: string
  store: Store
  registry: DeviceRegistry
  commands: CommandService
  ingest: IngestService
  broker: Broker
  bus: EventBus
  log: Logger
  listeners: () => { kind: string; port: number }[]
}): Cameras {
  const { config, log } = deps
  const snapshots = new SnapshotStore(
    join(deps.dataDir, 'snapshots'),
    deps.store,
    deps.ingest,
    log.child({ part: 'snapshots' }),
    { quotaBytes: config.cameras.snapshotQuotaBytes },
  )
  const firmware = new FirmwareStore(
    join(deps.dataDir, 'firmware'),
    deps.store,
    log.child({ part: 'firmware' }),
  )
  const service = new CameraService({
    store: deps.store,
    registry: deps.registry,
    commands: deps.commands,
    writer: deps.ingest,
    broker: deps.broker,
    bus: deps.bus,
    log: log.child({ part: 'cameras' }),
    snapshots,
    firmware,
    config: config.cameras,
    defaultBaseUrl: () => lanBaseUrl(config.host, deps.listeners()),
  })
  const platformAck = deps.broker.onDeviceAck
  deps.broker.onDeviceAck = (session, topic, payload) =>
    session.protocol === 'camera' ? service.acked(session, payload) : platformAck?.(session, topic, payload)
  return {
    service,
    snapshots,
    firmware,
    uplink: cameraUplinkHandler(service, deps.broker, log.child({ part: 'uplink' })),
    api: {
      cameras: service,
      snapshots,
      firmware,
      registry: deps.registry,
      store: deps.store,
      uploadBodyLimit: cameraMessageLimit(config.cameras.maxImageBytes),
      maxFirmwareBytes: config.cameras.maxFirmwareBytes,
    },
  }
}
