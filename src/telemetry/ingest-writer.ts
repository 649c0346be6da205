import type { ServiceData } from '../protocols/platform-mqtt.ts'
import type { Store } from '../store/index.ts'
import { Lane } from '../store/repos/outbox.ts'
import { toPlatformTime } from '../time.ts'
import { ReportedShadows } from './reported-shadows.ts'

export interface IngestItem {
  deviceId: string
  data: ServiceData[]
  receivedAt: number
}

/** Per item of a batch: null when committed, else why it was not. */
export type BatchResult = (string | null)[]

interface TouchedDevice {
  services: Set<string>
  messages: number
  /** deviceReq ServiceData entries (JSON) for the telemetry outbox row, in arrival order. */
  records: string[]
}

/**
 * Writes ingest batches. One transaction per batch writes each message's history rows and merges it into the
 * reported shadow (version + 1 per message); per device per batch it appends one telemetry outbox row (every
 * ServiceData entry of the batch, in order) and one shadow outbox row (the sync engine would collapse shadow
 * rows anyway). If a batch fails, its items are retried one per transaction, so one poisoned item cannot take
 * its neighbours down with it.
 */
export class IngestWriter {
  private readonly shadows: ReportedShadows

  constructor(private readonly store: Store) {
    this.shadows = new ReportedShadows(store)
  }

  write(items: IngestItem[]): BatchResult {
    try {
      this.writeInTransaction(items)
      return items.map(() => null)
    } catch {
      return items.map((item) => {
        try {
          this.writeInTransaction([item])
          return null
        } catch (err) {
          return (err as Error).message
        }
      })
    }
  }

  /** A deleted device's cached shadow is dropped. */
  forget(deviceId: string): void {
    this.shadows.invalidate(deviceId)
  }

  private writeInTransaction(items: IngestItem[]): void {
    const touched = new Map<string, TouchedDevice>()
    try {
      this.store.transaction(() => {
        const now = Date.now()
        for (const item of items) {
          let device = touched.get(item.deviceId)
          if (!device) {
            device = { services: new Set(), messages: 0, records: [] }
            touched.set(item.deviceId, device)
          }
          device.messages += 1
          for (const entry of item.data) {
            const json = JSON.stringify(entry.serviceData)
            this.store.telemetry.insert(
              item.deviceId,
              entry.serviceId,
              entry.eventTime,
              item.receivedAt,
              json,
            )
            this.shadows.merge(item.deviceId, entry.serviceId, entry.serviceData, entry.eventTime)
            device.services.add(entry.serviceId)
            // The upstream record reuses the serialized serviceData instead of serializing it a second time.
            device.records.push(
              `{"serviceId":${JSON.stringify(entry.serviceId)},"serviceData":${json},"eventTime":"${toPlatformTime(entry.eventTime)}"}`,
            )
          }
        }
        for (const [deviceId, device] of touched) {
          // One telemetry outbox row per device per batch: the row is the unit of delivery and idempotency, and
          // per-device order is kept because batches commit in sequence.
          this.store.outbox.append(
            Lane.telemetry,
            'telemetry',
            deviceId,
            `{"deviceId":${JSON.stringify(deviceId)},"data":[${device.records.join(',')}]}`,
            now,
          )
          const services = [...device.services].map((serviceId) =>
            this.shadows.persist(deviceId, serviceId, now),
          )
          this.store.devices.bumpShadowVersion(deviceId, device.messages, now)
          this.store.outbox.append(
            Lane.shadow,
            'shadow.reported',
            deviceId,
            JSON.stringify({ deviceId, services }),
            now,
          )
        }
      })
    } catch (err) {
      for (const deviceId of touched.keys()) this.shadows.invalidate(deviceId)
      throw err
    }
  }
}
