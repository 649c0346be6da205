import { randomUUID } from 'node:crypto'
import type { DeviceAnswer } from '../commands/ledger-ops.ts'
import { ONEJSON_PROTOCOL_TYPE } from '../devices/protocols.ts'
import type { GatewayEvents } from '../events.ts'
import { type NotifyType, notify, subscribed } from '../notify/notifications.ts'
import { type Product, reportProblem, serviceOf } from '../products/model.ts'
import { type DeviceReq, type DeviceRsp, decodeUplink } from '../protocols/platform-mqtt.ts'
import type { Store } from '../store/index.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import { Lane } from '../store/repos/outbox.ts'
import { type OpCall, type OpOutcome, runOps } from '../store/write-ops.ts'
import { toPlatformTime } from '../time.ts'
import { ReportedShadows } from './reported-shadows.ts'

/** A JSON message a device published on its data topic (device-mqtt.md A.2), not decoded yet. */
export interface IngestMessage {
  deviceId: string
  text: string
  receivedAt: number
}

/**
 * What became of one message. null: a deviceReq, stored. Otherwise: stored with a warning; invalid (nothing
 * written, the device is acknowledged all the same: resending would not make it valid); a deviceRsp, for the
 * command path; or failed (nothing written and not acknowledged, so the device resends it).
 */
export type IngestOutcome =
  | null
  | { kind: 'stored'; warning: string }
  | { kind: 'invalid'; error: string }
  | { kind: 'response'; response: DeviceRsp; command: CommandRow | undefined }
  | { kind: 'failed'; error: string }

interface DeviceMeta {
  appId: string
  gatewayId: string
  /** Its product model, if any. */
  productId: string | null
}

interface Accepted {
  index: number
  deviceId: string
  /** The message as stored in the history chunk. */
  text: string
  message: DeviceReq
}

interface DeviceBatch {
  texts: string[]
  services: Set<string>
  messages: number
  records: number
  firstEvent: number
  lastEvent: number
}

/**
 * Decodes and writes ingest batches. One transaction per batch: per device, one history chunk holding the
 * device's messages of the batch (migration 002), the reported shadow merged message by message (version + 1
 * per message), and two outbox rows — telemetry (pointing at the chunk) and shadow.reported. If the
 * transaction fails, each message is retried in its own, so that one poisoned message cannot take its
 * neighbours down with it.
 */
export class IngestWriter {
  private readonly shadows: ReportedShadows
  /** Application and gateway of each device seen (for data notifications). */
  private readonly devices = new Map<string, DeviceMeta>()

  constructor(private readonly store: Store) {
    this.shadows = new ReportedShadows(store)
  }

  /**
   * Decodes and stores a batch. With `withReports`, also returns what was stored as `device.reported` event
   * payloads in JSON (built only when someone listens: it costs as much as the rest of the batch).
   */
  write(messages: IngestMessage[], withReports = false): { outcomes: IngestOutcome[]; reports?: string } {
    const outcomes: IngestOutcome[] = new Array(messages.length).fill(null)
    const accepted: Accepted[] = []
    const responses: { index: number; deviceId: string; rsp: DeviceRsp }[] = []
    const products = new Map<string, Product | undefined>()
    messages.forEach((m, index) => {
      const decoded = decodeUplink(m.text, m.receivedAt)
      if (!decoded.ok) outcomes[index] = { kind: 'invalid', error: decoded.error }
      else if (decoded.value.msgType === 'deviceRsp') {
        responses.push({ index, deviceId: m.deviceId, rsp: decoded.value })
      } else {
        const message = decoded.value
        const problem = this.reportProblem(m.deviceId, message, products)
        if (problem) {
          outcomes[index] = { kind: 'invalid', error: problem }
          return
        }
        let text = m.text
        if (message.data.some((d) => d.eventTimeSource !== 'device')) {
          // Stored history carries a valid eventTime on every entry: the receive time stands in (A.4).
          text = storedForm(message)
          if (message.data.some((d) => d.eventTimeSource === 'malformed')) {
            outcomes[index] = {
              kind: 'stored',
              warning: 'malformed eventTime replaced by the receive time (A.4)',
            }
          }
        }
        accepted.push({ index, deviceId: m.deviceId, text, message })
      }
    })
    if (responses.length > 0) this.settleResponses(responses, outcomes)
    if (accepted.length === 0) return { outcomes }
    try {
      this.writeInTransaction(accepted)
    } catch {
      for (const one of accepted) {
        try {
          this.writeInTransaction([one])
        } catch (err) {
          outcomes[one.index] = { kind: 'failed', error: (err as Error).message }
        }
      }
    }
    if (!withReports) return { outcomes }
    const reports: GatewayEvents['device.reported'][] = accepted
      .filter((a) => outcomes[a.index]?.kind !== 'failed')
      .map(({ deviceId, message }) => ({
        deviceId,
        services: message.data.map((d) => ({
          serviceId: d.serviceId,
          data: d.serviceData,
          eventTime: d.eventTime,
        })),
      }))
    return { outcomes, reports: JSON.stringify(reports) }
  }

  /** Named write operations (store/write-ops.ts), in one transaction after the batch's data. */
  runOps(calls: OpCall[]): OpOutcome[] {
    return calls.length === 0 ? [] : runOps(this.store, this.shadows, calls)
  }

  /** deviceRsp (A.6) settles the command awaiting its mid; the PUBACK waits for that commit too. */
  private settleResponses(
    responses: { index: number; deviceId: string; rsp: DeviceRsp }[],
    outcomes: IngestOutcome[],
  ): void {
    const results = this.runOps(
      responses.map(({ deviceId, rsp }) => ({
        name: 'command.answer',
        args: {
          deviceId,
          mid: rsp.mid,
          success: rsp.errcode === 0,
          detail: rsp.body ?? null,
        } satisfies DeviceAnswer,
      })),
    )
    responses.forEach(({ index, rsp }, i) => {
      const result = results[i]!
      outcomes[index] = result.ok
        ? { kind: 'response', response: rsp, command: result.value as CommandRow | undefined }
        : { kind: 'failed', error: result.message }
    })
  }

  /** A deleted or changed device's cached shadow and identity (app, gateway, productId) are dropped. */
  forget(deviceId: string): void {
    this.shadows.invalidate(deviceId)
    this.devices.delete(deviceId)
  }

  private deviceMeta(deviceId: string): DeviceMeta | undefined {
    let device = this.devices.get(deviceId)
    if (!device) {
      const row = this.store.devices.get(deviceId)
      if (!row) return undefined
      // A OneJSON device's productId is its OneNET pid, not a product model.
      const productId = row.protocol_type === ONEJSON_PROTOCOL_TYPE ? null : row.product_id
      device = { appId: row.app_id, gatewayId: row.gateway_id, productId }
      this.devices.set(deviceId, device)
    }
    return device
  }

  /**
   * Issue 4: a device of a product reports only the product's services and properties, with valid values.
   * `products` caches the batch's model lookups (a model changed through the admin API applies from the next).
   */
  private reportProblem(
    deviceId: string,
    message: DeviceReq,
    products: Map<string, Product | undefined>,
  ): string | undefined {
    const productId = this.deviceMeta(deviceId)?.productId
    if (!productId) return undefined
    if (!products.has(productId)) {
      const row = this.store.products.get(productId)
      products.set(productId, row ? (JSON.parse(row.definition) as Product) : undefined)
    }
    const product = products.get(productId)
    if (!product) return undefined
    for (const entry of message.data) {
      const service = serviceOf(product, entry.serviceId)
      if (!service) return `${entry.serviceId} is not a service of product ${productId}`
      const problem = reportProblem(service, entry.serviceData)
      if (problem) return problem
    }
    return undefined
  }

  /**
   * §7.4/§7.5 (gateway note: one ServiceData entry → deviceDataChanged, several → deviceDatasChanged), queued in
   * the batch's transaction for the device's application when it subscribed. `subscribedNow` caches the
   * subscription lookups of one batch.
   */
  private notifyData(deviceId: string, message: DeviceReq, subscribedNow: Map<string, boolean>): void {
    const device = this.deviceMeta(deviceId)
    if (!device) return
    const notifyType: NotifyType = message.data.length === 1 ? 'deviceDataChanged' : 'deviceDatasChanged'
    const key = `${device.appId} ${notifyType}`
    let wanted = subscribedNow.get(key)
    if (wanted === undefined) {
      wanted = subscribed(this.store, device.appId, notifyType)
      subscribedNow.set(key, wanted)
    }
    if (!wanted) return
    const services = message.data.map((d) => ({
      serviceId: d.serviceId,
      // Without a product model the service type is the service id (spec §2.5 serviceType).
      serviceType: d.serviceId,
      data: d.serviceData,
      eventTime: toPlatformTime(d.eventTime),
    }))
    const head = { requestId: randomUUID(), deviceId, gatewayId: device.gatewayId }
    const body =
      notifyType === 'deviceDataChanged'
        ? { notifyType, ...head, service: services[0] }
        : { notifyType, ...head, services }
    notify(this.store, device.appId, body, Date.now())
  }

  private writeInTransaction(accepted: Accepted[]): void {
    const touched = new Map<string, DeviceBatch>()
    try {
      this.store.transaction(() => {
        const subscribedNow = new Map<string, boolean>()
        for (const { deviceId, text, message } of accepted) {
          this.notifyData(deviceId, message, subscribedNow)
          let device = touched.get(deviceId)
          if (!device) {
            device = {
              texts: [],
              services: new Set(),
              messages: 0,
              records: 0,
              firstEvent: Number.POSITIVE_INFINITY,
              lastEvent: Number.NEGATIVE_INFINITY,
            }
            touched.set(deviceId, device)
          }
          device.texts.push(text)
          device.messages += 1
          for (const entry of message.data) {
            this.shadows.merge(deviceId, entry.serviceId, entry.serviceData, entry.eventTime)
            device.services.add(entry.serviceId)
            device.records += 1
            if (entry.eventTime < device.firstEvent) device.firstEvent = entry.eventTime
            if (entry.eventTime > device.lastEvent) device.lastEvent = entry.eventTime
          }
        }
        const now = Date.now()
        for (const [deviceId, device] of touched) this.writeDevice(deviceId, device, now)
      })
    } catch (err) {
      for (const deviceId of touched.keys()) this.shadows.invalidate(deviceId)
      throw err
    }
  }

  private writeDevice(deviceId: string, device: DeviceBatch, now: number): void {
    const body = `[${device.texts.join(',')}]`
    const chunkId = this.store.telemetry.insert({
      deviceId,
      firstEvent: device.firstEvent,
      lastEvent: device.lastEvent,
      receivedAt: now,
      records: device.records,
      body,
    })
    // The telemetry outbox row is the unit of upstream delivery and idempotency; it points at the chunk
    // rather than copying it. Per-device order holds because batches commit in sequence.
    this.store.outbox.append(
      Lane.telemetry,
      'telemetry',
      deviceId,
      `{"chunkId":${chunkId},"records":${device.records}}`,
      now,
      { ref: chunkId, bytes: body.length },
    )
    const services = [...device.services].map((serviceId) => this.shadows.persist(deviceId, serviceId, now))
    this.store.devices.bumpShadowVersion(deviceId, device.messages, now)
    // Compacted with the device's shadow update still waiting to go (issue 5: the latest state, once).
    this.store.outbox.appendShadow(deviceId, services, now)
  }
}

/** A deviceReq re-serialized with every entry's eventTime in platform form. */
function storedForm(message: DeviceReq): string {
  return JSON.stringify({
    msgType: 'deviceReq',
    data: message.data.map((d) => ({
      serviceId: d.serviceId,
      serviceData: d.serviceData,
      eventTime: toPlatformTime(d.eventTime),
    })),
  })
}
