import { timingSafeEqual } from 'node:crypto'
import type { DeviceSession } from '../broker/access.ts'
import { isCamera } from '../broker/camera-access.ts'
import type { CommandService, DeviceDriver, LedgerWriter } from '../commands/service.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { DeviceIdentity, DeviceRegistry } from '../devices/registry.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import {
  type CameraReply,
  CameraRet,
  cameraDownTopic,
  configOfReply,
  type DeviceRequest,
  decodeImage,
  encodeServerRequest,
  HB_INTERVAL,
  parseCameraMessage,
  replyTo,
  SERVER_REQUESTS,
} from '../protocols/camera.ts'
import type { Store } from '../store/index.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import type { OpResult } from '../store/write-ops.ts'
import { CAMERA_CONFIG_SERVICE, type SnapshotInput } from './camera-ops.ts'
import type { FirmwareStore } from './firmware-store.ts'
import { HttpMailbox, type MailboxItem } from './http-mailbox.ts'
import { CameraPresence } from './presence.ts'
import { operationOf, planRequest } from './requests.ts'
import type { SnapshotStore } from './snapshot-store.ts'

type CameraSession = Extract<DeviceSession, { protocol: 'camera' }>

/** How a camera message arrived. */
export type CameraVia =
  | { transport: 'mqtt'; session: CameraSession }
  | {
      transport: 'http'
      /** HTTP Basic credentials, when given. */
      basic: { user: string; password: string } | undefined
      /** `http(s)://host[:port]` the camera reached the gateway at. */
      baseUrl: string
    }

/** What to answer: the `_rsp` of a request, or a bare ret/msg (a reply posted over HTTP, an unparseable message). */
export interface CameraOutcome {
  deviceId: string | undefined
  reply: CameraReply | undefined
  ret: number
  msg: string
}

/** What the camera service needs of the broker. */
export interface CameraBroker {
  deviceSession(deviceId: string): DeviceSession | undefined
  publishToDevice(deviceId: string, topic: string, payload: string): Promise<boolean>
}

export interface CameraDeps {
  store: Store
  registry: DeviceRegistry
  commands: CommandService
  writer: LedgerWriter
  broker: CameraBroker
  bus: EventBus
  log: Logger
  snapshots: SnapshotStore
  firmware: FirmwareStore
  config: GatewayConfig['cameras']
  /** The gateway's LAN base URL when neither the config nor the camera's own requests give one. */
  defaultBaseUrl: () => string
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function sameSecret(presented: string, secret: string): boolean {
  const a = Buffer.from(presented)
  const b = Buffer.from(secret)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Cameras (device-mqtt.md Part C): the gateway is their server on the LAN. Messages arrive over MQTT
 * (`cameras/{sn}/up`) or HTTP POST (the upload endpoint); requests are answered with their `_rsp`, snapshots
 * stored, heartbeats keep the camera ONLINE. Gateway → camera operations are ledger commands: this class is
 * their DeviceDriver, sending them on `cameras/{sn}/down` or in an HTTP camera's next response, and settling
 * them from the camera's `_rsp` (request_id = the commandId).
 */
export class CameraService implements DeviceDriver {
  readonly name = 'camera'
  readonly presence: CameraPresence
  private readonly mailbox = new HttpMailbox()
  private readonly hbIntervals = new Map<string, number>()
  /** Where each HTTP camera reached the gateway: its package_url uses the same address. */
  private readonly baseUrls = new Map<string, string>()
  private readonly off: (() => void)[] = []
  private readonly log: Logger

  constructor(private readonly deps: CameraDeps) {
    this.log = deps.log
    this.presence = new CameraPresence(
      deps.registry,
      deps.log,
      { missedHeartbeats: deps.config.missedHeartbeats },
      (deviceId) => this.hbIntervalOf(deviceId),
    )
  }

  start(): void {
    this.deps.snapshots.start()
    this.deps.firmware.start()
    this.deps.commands.registerDriver(this)
    this.off.push(
      this.deps.bus.on('device.deleted', ({ deviceId }) => {
        this.presence.forget(deviceId)
        this.mailbox.forget(deviceId)
        this.hbIntervals.delete(deviceId)
        this.deps.snapshots
          .removeDevice(deviceId)
          .catch((err: unknown) => this.log.warn({ err, deviceId }, 'removing snapshot files failed'))
      }),
    )
  }

  stop(): void {
    for (const off of this.off.splice(0)) off()
    this.presence.stop()
  }

  private cameraIdentity(deviceId: string): DeviceIdentity | undefined {
    const identity = this.deps.registry.lookup(deviceId, 'deviceId')
    return identity && isCamera(identity) ? identity : undefined
  }

  private reportedConfig(deviceId: string): Record<string, unknown> {
    const row = this.deps.store.shadows.get(deviceId, CAMERA_CONFIG_SERVICE)
    return row ? (JSON.parse(row.reported_json) as Record<string, unknown>) : {}
  }

  /** The camera's heartbeat interval (s): as it reported or accepted it, else the configured default. */
  hbIntervalOf(deviceId: string): number {
    let seconds = this.hbIntervals.get(deviceId)
    if (seconds === undefined) {
      const reported = this.reportedConfig(deviceId).hb_interval
      seconds =
        Number.isInteger(reported) &&
        (reported as number) >= HB_INTERVAL.min &&
        (reported as number) <= HB_INTERVAL.max
          ? (reported as number)
          : this.deps.config.defaultHbIntervalSeconds
      this.hbIntervals.set(deviceId, seconds)
    }
    return seconds
  }

  // ---- DeviceDriver (commands/service.ts) ----

  /** Cameras, unless connected the platform's way (then the broker's platform path carries their commands). */
  owns(deviceId: string): boolean {
    if (this.cameraIdentity(deviceId) === undefined) return false
    const session = this.deps.broker.deviceSession(deviceId)
    return session === undefined || session.protocol === 'camera'
  }

  /** An MQTT camera while connected; an HTTP camera only while one of its POSTs is being answered. */
  isReachable(deviceId: string): boolean {
    return this.deps.broker.deviceSession(deviceId)?.protocol === 'camera' || this.mailbox.isOpen(deviceId)
  }

  deliver(row: CommandRow): void {
    const identity = this.cameraIdentity(row.device_id)
    if (!identity || row.mid === null) return
    const mid = row.mid
    const plan = planRequest(row, {
      reportedConfig: this.reportedConfig(row.device_id),
      packageUrl: (id) =>
        this.deps.firmware.get(id) ? `${this.baseUrlOf(row.device_id)}/cameras/v1/firmware/${id}` : undefined,
    })
    if (!plan.ok) {
      // Nothing is sent: the command ends FAILED with the reason (C.7 gateway note: ranges checked first).
      this.log.warn({ commandId: row.command_id, reason: plan.msg }, 'camera command refused before sending')
      this.mailbox.wake(row.device_id)
      this.deps.commands
        .answer({ deviceId: row.device_id, mid, success: false, detail: { reason: plan.msg } })
        .catch((err: unknown) =>
          this.log.error({ err, commandId: row.command_id }, 'recording a refusal failed'),
        )
      return
    }
    const request = encodeServerRequest(
      plan.operate,
      row.command_id,
      identity.nodeId,
      Date.now(),
      plan.fields,
    )
    const session = this.deps.broker.deviceSession(row.device_id)
    if (session?.protocol === 'camera') {
      this.deps.broker
        .publishToDevice(row.device_id, cameraDownTopic(session.sn), JSON.stringify(request))
        .catch((err: unknown) =>
          this.log.error({ err, commandId: row.command_id }, 'publishing to a camera failed'),
        )
      return
    }
    this.mailbox.put(row.device_id, { commandId: row.command_id, mid, request })
  }

  /** An MQTT camera acknowledged (PUBACK) a request the gateway published: its command is DELIVERED. */
  acked(session: DeviceSession, payload: Buffer): void {
    let doc: unknown
    try {
      doc = JSON.parse(payload.toString('utf8'))
    } catch {
      return
    }
    if (!isObject(doc) || !(SERVER_REQUESTS as readonly string[]).includes(doc.operate as string)) return
    const row = typeof doc.request_id === 'string' ? this.deps.store.commands.get(doc.request_id) : undefined
    if (row && row.device_id === session.deviceId && row.mid !== null) {
      this.deps.commands.delivered(row.device_id, row.mid)
    }
  }

  // ---- messages from cameras ----

  /** Handles one message from a camera and says what to answer. Never throws for bad input. */
  async receive(text: string, via: CameraVia): Promise<CameraOutcome> {
    const parsed = parseCameraMessage(text, Date.now(), this.deps.config.timestampToleranceSeconds * 1000)
    if (parsed.kind === 'invalid') {
      this.log.warn({ transport: via.transport, reason: parsed.reason }, 'camera message refused')
      return { deviceId: undefined, reply: parsed.reply, ret: parsed.ret, msg: parsed.reason }
    }
    const request = parsed.kind === 'request' ? parsed.request : undefined
    const reply = parsed.kind === 'reply' ? parsed.reply : undefined
    const sn = request ? request.sn : (reply as CameraReply).sn
    const refuse = (ret: number, msg: string, deviceId?: string): CameraOutcome => {
      this.log.warn(
        { transport: via.transport, sn, operate: request?.operate, ret, reason: msg },
        'camera message refused',
      )
      return { deviceId, reply: request ? replyTo(request, ret, msg) : undefined, ret, msg }
    }
    const identity = this.deps.registry.lookup(sn, 'nodeId')
    if (!identity || !isCamera(identity)) {
      return refuse(CameraRet.unknownSn, `unknown sn ${sn}: no camera is registered with it`)
    }
    const { deviceId } = identity
    if (via.transport === 'mqtt' && via.session.deviceId !== deviceId) {
      return refuse(CameraRet.unknownSn, `sn ${sn} is not the camera of this connection (${via.session.sn})`)
    }
    if (via.transport === 'http' && this.deps.config.httpAuth === 'basic') {
      if (!via.basic || via.basic.user !== sn || !sameSecret(via.basic.password, identity.secret)) {
        return refuse(
          CameraRet.unauthorized,
          'HTTP Basic credentials must be the sn and its registered secret',
        )
      }
    }
    if (identity.mute) return refuse(CameraRet.unauthorized, 'the camera is frozen')
    if (via.transport === 'http') this.baseUrls.set(deviceId, via.baseUrl)
    try {
      this.presence.alive(deviceId)
    } catch (err) {
      this.log.error({ err, deviceId }, 'recording a camera ONLINE failed')
    }
    if (reply) {
      await this.settleReply(identity, reply)
      return { deviceId, reply: undefined, ret: CameraRet.ok, msg: '' }
    }
    if (!request) throw new Error('unreachable: a message is a request or a reply')
    if (request.operate === 'heartbeat') return this.ok(deviceId, request)
    return this.uploadSnapshot(deviceId, request, refuse)
  }

  private ok(deviceId: string, request: DeviceRequest): CameraOutcome {
    return { deviceId, reply: replyTo(request, CameraRet.ok, ''), ret: CameraRet.ok, msg: '' }
  }

  /** C.5: the image is checked, written and indexed before the reply says ret 0. */
  private async uploadSnapshot(
    deviceId: string,
    request: Extract<DeviceRequest, { operate: 'upload_snapshot' }>,
    refuse: (ret: number, msg: string, deviceId?: string) => CameraOutcome,
  ): Promise<CameraOutcome> {
    const image = decodeImage(request.data, this.deps.config.maxImageBytes)
    if (!image.ok) return refuse(image.ret, image.msg, deviceId)
    try {
      await this.deps.snapshots.add({
        deviceId,
        takenAt: request.timestamp * 1000,
        source: 'upload_snapshot',
        bytes: image.bytes,
        contentType: image.contentType,
      })
    } catch (err) {
      this.log.error({ err, deviceId }, 'storing a snapshot failed')
      return refuse(CameraRet.storageFailed, 'the gateway could not store the snapshot', deviceId)
    }
    return this.ok(deviceId, request)
  }

  /**
   * A `_rsp` to one of the gateway's requests: settles the command whose commandId is its request_id (ret 0 →
   * SUCCESSFUL, else FAILED, the reply's fields as the result). A reply no command awaits is logged and ignored.
   */
  private async settleReply(identity: DeviceIdentity, reply: CameraReply): Promise<void> {
    const { deviceId } = identity
    const row = this.deps.store.commands.get(reply.request_id)
    if (
      !row ||
      row.device_id !== deviceId ||
      row.mid === null ||
      (row.status !== 'SENT' && row.status !== 'DELIVERED')
    ) {
      this.log.info(
        { deviceId, requestId: reply.request_id, operate: reply.operate },
        'camera reply awaited by no command; ignored',
      )
      return
    }
    const operation = operationOf(row)
    if (reply.operate !== `${operation}_rsp`) {
      this.log.warn(
        { deviceId, commandId: row.command_id, operate: reply.operate, expected: `${operation}_rsp` },
        'camera reply of the wrong operation; ignored',
      )
      return
    }
    const { operate: _o, request_id: _r, sn: _s, ...detail } = reply
    let success = reply.ret === CameraRet.ok
    let reported: Record<string, unknown> | undefined
    let snapshot: SnapshotInput | undefined
    if (success && operation === 'get_dev_config') reported = configOfReply(reply)
    if (success && operation === 'set_dev_config') {
      const sent = planRequest(row, {
        reportedConfig: this.reportedConfig(deviceId),
        packageUrl: () => undefined,
      })
      if (sent.ok) reported = sent.fields
    }
    if (operation === 'control_cmd' && isObject(reply.cmd_data) && reply.cmd_data.type === 'take_snapshot') {
      // C.9: the image comes back in cmd_data.data; it is stored as a snapshot, the result names it.
      const { data, ...cmd } = reply.cmd_data
      detail.cmd_data = cmd
      if (success) {
        const image = typeof data === 'string' ? decodeImage(data, this.deps.config.maxImageBytes) : undefined
        if (!image?.ok) {
          success = false
          detail.error = `take_snapshot reply: ${image ? image.msg : 'cmd_data.data is not a base64 string'}`
        } else {
          snapshot = await this.deps.snapshots.writeFile({
            deviceId,
            takenAt: Date.now(),
            source: 'take_snapshot',
            bytes: image.bytes,
            contentType: image.contentType,
          })
          detail.cmd_data = {
            ...cmd,
            snapshotId: snapshot.row.snapshot_id,
            size: snapshot.row.size,
            sha256: snapshot.row.sha256,
            contentType: snapshot.row.content_type,
          }
        }
      }
    }
    let outcome: OpResult<'camera.answer'>
    try {
      outcome = await this.deps.writer.execute('camera.answer', {
        answer: { deviceId, mid: row.mid, success, detail },
        reported,
        snapshot,
      })
    } catch (err) {
      if (snapshot) await this.deps.snapshots.discard(snapshot)
      throw err
    }
    this.deps.commands.answered(outcome.row)
    await this.deps.snapshots.evicted(outcome.evicted)
    if (outcome.row && reported && Object.keys(reported).length > 0) {
      if (typeof reported.hb_interval === 'number') {
        this.hbIntervals.set(deviceId, reported.hb_interval)
        this.presence.intervalChanged(deviceId)
      }
      try {
        this.deps.bus.emit('device.reported', {
          deviceId,
          services: [{ serviceId: CAMERA_CONFIG_SERVICE, data: reported, eventTime: Date.now() }],
        })
      } catch (err) {
        this.log.error({ err }, 'device.reported listener failed')
      }
    }
  }

  // ---- HTTP cameras ----

  /**
   * After an HTTP camera's message was handled: the requests waiting for it (a queued command whose turn
   * comes now is waited for, at most `httpCommandWaitMs`).
   */
  async requestsFor(deviceId: string): Promise<MailboxItem[]> {
    this.mailbox.open(deviceId)
    try {
      this.deps.commands.deviceListening(deviceId)
      const { commands } = this.deps.store
      if (
        !this.mailbox.has(deviceId) &&
        commands.nextQueued(deviceId) &&
        !commands.queuedInFlight(deviceId)
      ) {
        await this.mailbox.wait(deviceId, this.deps.config.httpCommandWaitMs)
      }
    } finally {
      this.mailbox.close(deviceId)
    }
    return this.mailbox.take(deviceId)
  }

  /** The response carrying these requests was sent: DELIVERED (the HTTP equivalent of a PUBACK). */
  handedOver(deviceId: string, items: MailboxItem[]): void {
    for (const item of items) this.deps.commands.delivered(deviceId, item.mid)
  }

  private baseUrlOf(deviceId: string): string {
    return this.deps.config.lanBaseUrl ?? this.baseUrls.get(deviceId) ?? this.deps.defaultBaseUrl()
  }
}
