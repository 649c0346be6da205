import { randomBytes, randomUUID } from 'node:crypto'
import { PlatformError } from '../errors.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import { notify } from '../notify/notifications.ts'
import type { ProductCatalog } from '../products/catalog.ts'
import type { Store } from '../store/index.ts'
import type { DeviceRow } from '../store/repos/devices.ts'
import { ONEJSON_PROTOCOL_TYPE } from './protocols.ts'
import { deviceInfoOf } from './view.ts'

/** The registration body of `POST /iocm/app/reg/v2.0.0/deviceCredentials` (spec §4.2), already schema-checked. */
export interface RegistrationRequest {
  deviceInfo: {
    nodeId: string
    manufacturerId?: string
    manufacturerName?: string
    deviceType?: string
    model?: string
    protocolType?: string
    name?: string
  }
  endUserId?: string
  organization?: string
  region?: string
  timezone?: string
  mqttConnect?: boolean
  productId?: string
  secret?: string
  /** Details a kind of device keeps beside DeviceInfo (e.g. a safety device's chatJid), stored in info_json. */
  extraInfo?: Record<string, unknown>
}

/** The body of `PUT /iocm/app/dm/v1.4.0/devices/{deviceId}` (spec §4.4), already schema-checked. */
export interface ModifyRequest {
  name?: string
  deviceType?: string
  model?: string
  manufacturerId?: string
  manufacturerName?: string
  protocolType?: string
  productId?: string
  location?: string
  mute?: 'TRUE' | 'FALSE'
  psk?: string
  endUser?: string
  organization?: string
  region?: string
  timezone?: string
  imsi?: string
  ip?: string
  isSecure?: boolean
  customFields?: unknown[]
  deviceConfig?: unknown
  tags?: unknown[]
}

/** §4.4 fields kept with the device's other registration details (DeviceInfo has no columns for them). */
const MODIFY_EXTRA_FIELDS = [
  'endUser',
  'organization',
  'region',
  'timezone',
  'imsi',
  'ip',
  'isSecure',
  'customFields',
  'deviceConfig',
  'tags',
] as const

export interface RegistrationResult {
  deviceId: string
  psk: string
  secret: string
}

/** What the broker needs to authenticate a device and route its messages; cached in memory. */
export interface DeviceIdentity {
  deviceId: string
  nodeId: string
  appId: string
  secret: string
  gatewayId: string
  mute: boolean
  /** Which device protocol it speaks: the platform's (device-mqtt.md Part A) or OneJSON (Part B). */
  protocol: 'platform' | 'onejson'
  productId: string | null
  /** deviceInfo.deviceType as registered (`Camera` makes it a camera: device-mqtt.md Part C, README "Cameras"). */
  deviceType: string | null
}

export { ONEJSON_PROTOCOL_TYPE }

/** A topic level a device name or pid can be: printable, no separators or wildcards. */
const TOPIC_LEVEL = /^[^/+#\s\p{Cc}]{1,64}$/u

const toIdentity = (row: DeviceRow): DeviceIdentity => ({
  deviceId: row.device_id,
  nodeId: row.node_id,
  appId: row.app_id,
  secret: row.secret,
  gatewayId: row.gateway_id,
  mute: row.mute === 'TRUE',
  protocol: row.protocol_type === ONEJSON_PROTOCOL_TYPE ? 'onejson' : 'platform',
  productId: row.product_id,
  deviceType: row.device_type,
})

/**
 * The device registry: registration, lookup, deletion, and connection status. Identities are cached in memory
 * (loaded lazily, dropped on delete) because the broker looks one up on every CONNECT and ingest on every message.
 */
export class DeviceRegistry {
  private readonly byId = new Map<string, DeviceIdentity>()
  private readonly byNode = new Map<string, DeviceIdentity>()
  private readonly connections = new Map<string, number>()

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly log: Logger,
    /** Product models (issue 4): registration naming an unknown product is 600002. */
    private readonly products: ProductCatalog,
    private readonly now: () => number = Date.now,
  ) {}

  /** Marks devices that were ONLINE when the gateway last stopped as OFFLINE (nothing is connected yet). */
  recoverStatusAfterRestart(): void {
    const n = this.store.devices.resetOnline()
    if (n > 0) this.log.info({ devices: n }, 'devices marked OFFLINE after restart')
  }

  register(appId: string, req: RegistrationRequest): RegistrationResult {
    const info = req.deviceInfo
    if (info.protocolType === ONEJSON_PROTOCOL_TYPE) {
      // A OneJSON device's productId is its OneNET pid and its nodeId its device name: both are topic levels
      // of `$sys/{pid}/{device-name}/...` (device-mqtt.md Part B).
      if (req.productId === undefined)
        throw new PlatformError('50400', 'a OneJSON device needs productId (its pid)')
      for (const [name, value] of [
        ['productId', req.productId],
        ['deviceInfo.nodeId', info.nodeId],
      ] as const) {
        if (!TOPIC_LEVEL.test(value)) {
          throw new PlatformError(
            '50400',
            `${name} must be usable as an MQTT topic level (no / + # or spaces)`,
          )
        }
      }
    } else if (req.productId !== undefined && !this.products.get(req.productId)) {
      throw new PlatformError('600002')
    }
    // A product's manufacturer, type, model and protocol stand in for what the registration leaves out.
    const product =
      info.protocolType === ONEJSON_PROTOCOL_TYPE || req.productId === undefined
        ? undefined
        : this.products.get(req.productId)
    if (this.store.devices.getByNodeId(info.nodeId)) throw new PlatformError('100426')
    const deviceId = randomUUID()
    // Echoed as given (§4.2): the device signs its CONNECT password with exactly this string (A.3).
    const secret = req.secret ?? randomBytes(10).toString('hex')
    const psk = randomBytes(16).toString('hex')
    const now = this.now()
    const extra: Record<string, unknown> = { ...req.extraInfo }
    for (const key of ['endUserId', 'organization', 'region', 'timezone', 'mqttConnect'] as const) {
      if (req[key] !== undefined) extra[key] = req[key]
    }
    this.store.transaction(() => {
      this.store.devices.insert({
        device_id: deviceId,
        app_id: appId,
        node_id: info.nodeId,
        secret,
        psk,
        gateway_id: deviceId, // directly connected: gatewayId = its own deviceId (spec §1.7)
        node_type: 'ENDPOINT',
        name: info.name ?? null,
        device_type: info.deviceType ?? product?.deviceType ?? null,
        model: info.model ?? product?.model ?? null,
        manufacturer_id: info.manufacturerId ?? product?.manufacturerId ?? null,
        manufacturer_name: info.manufacturerName ?? product?.manufacturerName ?? null,
        protocol_type: info.protocolType ?? product?.protocolType ?? null,
        product_id: req.productId ?? null,
        location: null,
        info_json: JSON.stringify(extra),
        created_at: now,
        modified_at: now,
      })
      const row = this.store.devices.get(deviceId)!
      // §7.1
      notify(
        this.store,
        appId,
        {
          notifyType: 'deviceAdded',
          deviceId,
          gatewayId: row.gateway_id,
          nodeType: row.node_type,
          deviceInfo: deviceInfoOf(row),
        },
        now,
      )
    })
    this.log.info({ deviceId, nodeId: info.nodeId, appId }, 'device registered')
    this.bus.emit('device.added', { deviceId, appId, nodeId: info.nodeId })
    return { deviceId, psk, secret }
  }

  /**
   * §4.4: changes a device's information; the deviceInfoChanged notification (§7.3) goes in the same
   * transaction. Freezing it (`mute: TRUE`) closes its connections.
   */
  modify(appId: string, deviceId: string, req: ModifyRequest): void {
    const row = this.getForApp(appId, deviceId)
    if (req.productId !== undefined && req.productId !== row.product_id) {
      const oneJson = (req.protocolType ?? row.protocol_type) === ONEJSON_PROTOCOL_TYPE
      // A OneJSON device's productId is its pid (a topic level); any other names a known product model.
      if (!oneJson && !this.products.get(req.productId)) throw new PlatformError('600002')
      if (oneJson && !TOPIC_LEVEL.test(req.productId)) {
        throw new PlatformError('100022', 'productId must be usable as a topic level')
      }
    }
    const extra = JSON.parse(row.info_json) as Record<string, unknown>
    for (const key of MODIFY_EXTRA_FIELDS) if (req[key] !== undefined) extra[key] = req[key]
    const columns = {
      name: req.name,
      device_type: req.deviceType,
      model: req.model,
      manufacturer_id: req.manufacturerId,
      manufacturer_name: req.manufacturerName,
      protocol_type: req.protocolType,
      product_id: req.productId,
      location: req.location,
      mute: req.mute,
      psk: req.psk,
    }
    const changes = Object.fromEntries(Object.entries(columns).filter(([, v]) => v !== undefined))
    this.store.transaction(() => {
      this.store.devices.update(deviceId, { ...changes, info_json: JSON.stringify(extra) }, this.now())
      this.announceInfo(deviceId)
    })
    // The cached identity (mute, protocol, productId) is reloaded on next use.
    this.forgetIdentity(deviceId)
    this.log.info({ deviceId, fields: Object.keys(changes) }, 'device modified')
    this.bus.emit('device.changed', { deviceId, muted: req.mute === 'TRUE' })
  }

  /**
   * §4.3: a device whose unique ID changed (hardware replaced) gets its new nodeId — only while offline
   * (100611), and once activated (100610). sitegate's devices authenticate with their secret (password mode),
   * which stays: the verifyCode and timeout are echoed (or made up) for compatibility, and nothing expires.
   */
  refreshKey(
    appId: string,
    deviceId: string,
    req: { nodeId?: string; timeout?: number; verifyCode?: string },
  ): { verifyCode: string; timeout: number } {
    const row = this.getForApp(appId, deviceId)
    if (row.activated === 0) throw new PlatformError('100610')
    if (row.status === 'ONLINE' || (this.connections.get(deviceId) ?? 0) > 0)
      throw new PlatformError('100611')
    if (req.nodeId !== undefined && req.nodeId !== row.node_id) {
      if (this.store.devices.getByNodeId(req.nodeId)) throw new PlatformError('100426')
      if (row.protocol_type === ONEJSON_PROTOCOL_TYPE && !TOPIC_LEVEL.test(req.nodeId)) {
        throw new PlatformError('50400', 'a OneJSON device name must be usable as an MQTT topic level')
      }
      this.store.transaction(() => {
        this.store.devices.update(deviceId, { node_id: req.nodeId }, this.now())
        this.announceInfo(deviceId)
      })
      this.forgetIdentity(deviceId)
      this.log.info({ deviceId, nodeId: req.nodeId }, 'device nodeId changed')
    }
    return { verifyCode: req.verifyCode ?? req.nodeId ?? row.node_id, timeout: req.timeout ?? 180 }
  }

  /** The device row if it exists and belongs to appId; else 100403 (or `notFoundCode` where a spec API says so). */
  getForApp(appId: string, deviceId: string, notFoundCode: '100403' | '100418' = '100403'): DeviceRow {
    const row = this.store.devices.get(deviceId)
    if (!row || row.app_id !== appId) throw new PlatformError(notFoundCode)
    return row
  }

  /** Deletes a device (and, with cascade, the devices attached through it). Returns the deleted ids. */
  delete(appId: string, deviceId: string, cascade: boolean): string[] {
    const row = this.getForApp(appId, deviceId)
    const children = this.store.devices.children(deviceId)
    const deleted: DeviceRow[] = [row]
    this.store.transaction(() => {
      for (const childId of children) {
        const child = this.store.devices.get(childId)
        if (!child) continue
        if (cascade) {
          this.store.telemetry.deleteDevice(childId)
          this.store.devices.delete(childId)
          deleted.push(child)
        } else {
          this.store.devices.detach(childId, this.now())
        }
      }
      this.store.telemetry.deleteDevice(deviceId)
      this.store.devices.delete(deviceId)
      // §7.9, for the device and each child deleted with it.
      for (const d of deleted) {
        notify(
          this.store,
          d.app_id,
          { notifyType: 'deviceDeleted', deviceId: d.device_id, gatewayId: d.gateway_id },
          this.now(),
        )
      }
    })
    for (const d of deleted) {
      this.forget(d.device_id)
      this.log.info({ deviceId: d.device_id, nodeId: d.node_id }, 'device deleted')
      this.bus.emit('device.deleted', { deviceId: d.device_id, appId: d.app_id, nodeId: d.node_id })
    }
    return deleted.map((d) => d.device_id)
  }

  /** Identity by deviceId (authType 0) or nodeId (authType 2); undefined when not registered. */
  lookup(id: string, by: 'deviceId' | 'nodeId'): DeviceIdentity | undefined {
    const cache = by === 'deviceId' ? this.byId : this.byNode
    const hit = cache.get(id)
    if (hit) return hit
    const row = by === 'deviceId' ? this.store.devices.get(id) : this.store.devices.getByNodeId(id)
    if (!row) return undefined
    const identity = toIdentity(row)
    this.byId.set(identity.deviceId, identity)
    this.byNode.set(identity.nodeId, identity)
    return identity
  }

  exists(deviceId: string): boolean {
    return this.lookup(deviceId, 'deviceId') !== undefined
  }

  /** A device's MQTT session opened: ONLINE (and activated on its first connect). */
  connected(deviceId: string): void {
    const n = (this.connections.get(deviceId) ?? 0) + 1
    this.connections.set(deviceId, n)
    if (n === 1) {
      this.store.transaction(() => {
        const before = this.store.devices.get(deviceId)
        this.store.devices.setOnline(deviceId, this.now())
        this.announceInfo(deviceId)
        // §7.2: the first connection binds (activates) the device.
        const after = this.store.devices.get(deviceId)
        if (before && after && before.activated === 0) {
          notify(
            this.store,
            after.app_id,
            { notifyType: 'bindDevice', deviceId, resultCode: 'succeeded', deviceInfo: deviceInfoOf(after) },
            this.now(),
          )
        }
      })
      this.bus.emit('device.status', { deviceId, status: 'ONLINE' })
    }
  }

  /** A device's MQTT session closed: OFFLINE once its last connection is gone (a takeover keeps it ONLINE). */
  disconnected(deviceId: string): void {
    const n = (this.connections.get(deviceId) ?? 0) - 1
    if (n > 0) {
      this.connections.set(deviceId, n)
      return
    }
    this.connections.delete(deviceId)
    if (!this.exists(deviceId)) return
    this.store.transaction(() => {
      this.store.devices.setOffline(deviceId, this.now())
      this.announceInfo(deviceId)
    })
    this.bus.emit('device.status', { deviceId, status: 'OFFLINE' })
  }

  /** §7.3 (gateway note: online/offline transitions are announced as deviceInfoChanged too). */
  private announceInfo(deviceId: string): void {
    const row = this.store.devices.get(deviceId)
    if (!row) return
    notify(
      this.store,
      row.app_id,
      { notifyType: 'deviceInfoChanged', deviceId, gatewayId: row.gateway_id, deviceInfo: deviceInfoOf(row) },
      this.now(),
    )
  }

  private forgetIdentity(deviceId: string): void {
    const identity = this.byId.get(deviceId)
    this.byId.delete(deviceId)
    if (identity) this.byNode.delete(identity.nodeId)
  }

  private forget(deviceId: string): void {
    this.forgetIdentity(deviceId)
    this.connections.delete(deviceId)
  }
}
