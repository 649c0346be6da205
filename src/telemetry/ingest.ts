import type { DeviceRegistry } from '../devices/registry.ts'
import type { EventBus, ReportedService } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { ServiceData } from '../protocols/platform-mqtt.ts'
import type { ShadowService } from '../shadows/service.ts'
import { GroupCommitter } from '../store/group-commit.ts'
import type { Store } from '../store/index.ts'
import { Lane } from '../store/repos/outbox.ts'
import { toPlatformTime } from '../time.ts'

export interface IngestItem {
  deviceId: string
  data: ServiceData[]
  receivedAt: number
}

/**
 * Device data ingest (issue: foundation, item 7). One group-committed transaction per batch writes, for each
 * message, its history rows, the merged reported shadow (version + 1) and a telemetry outbox row, plus one
 * shadow outbox row per device per batch (the sync engine would collapse them anyway). `submit`'s callback
 * runs after the commit: the broker sends PUBACK from it.
 */
export class IngestService {
  private readonly committer: GroupCommitter<IngestItem>

  constructor(
    private readonly store: Store,
    private readonly registry: DeviceRegistry,
    private readonly shadows: ShadowService,
    private readonly bus: EventBus,
    log: Logger,
    maxBatch: number,
  ) {
    this.committer = new GroupCommitter((items) => this.writeBatch(items), {
      maxBatch,
      log,
      onCommitted: (items) => this.emitReported(items),
    })
  }

  submit(item: IngestItem, done: (err: Error | null) => void): void {
    this.committer.push(item, done)
  }

  /** Commits whatever is queued (at shutdown). */
  flush(): void {
    this.committer.flush()
  }

  get pending(): number {
    return this.committer.pending
  }

  stats(): { batches: number; items: number } {
    return this.committer.stats()
  }

  private writeBatch(items: IngestItem[]): void {
    const touched = new Map<string, { services: Set<string>; messages: number }>()
    try {
      this.store.transaction(() => {
        const now = Date.now()
        for (const item of items) {
          // A device deleted while its message waited for the batch is skipped, not a batch failure.
          if (!this.registry.exists(item.deviceId)) continue
          let device = touched.get(item.deviceId)
          if (!device) {
            device = { services: new Set(), messages: 0 }
            touched.set(item.deviceId, device)
          }
          device.messages += 1
          const up: { serviceId: string; serviceData: Record<string, unknown>; eventTime: string }[] = []
          for (const entry of item.data) {
            const json = JSON.stringify(entry.serviceData)
            this.store.telemetry.insert(
              item.deviceId,
              entry.serviceId,
              entry.eventTime,
              item.receivedAt,
              json,
            )
            this.shadows.mergeReported(item.deviceId, entry.serviceId, entry.serviceData, entry.eventTime)
            device.services.add(entry.serviceId)
            up.push({
              serviceId: entry.serviceId,
              serviceData: entry.serviceData,
              eventTime: toPlatformTime(entry.eventTime),
            })
          }
          this.store.outbox.append(
            Lane.telemetry,
            'telemetry',
            item.deviceId,
            JSON.stringify({ deviceId: item.deviceId, data: up }),
            now,
          )
        }
        for (const [deviceId, device] of touched) {
          const services = [...device.services].map((serviceId) =>
            this.shadows.persistReported(deviceId, serviceId, now),
          )
          // The shadow's version counts messages merged into it (version + 1 per deviceReq).
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

  private emitReported(items: IngestItem[]): void {
    for (const item of items) {
      const services: ReportedService[] = item.data.map((d) => ({
        serviceId: d.serviceId,
        data: d.serviceData,
        eventTime: d.eventTime,
      }))
      this.bus.emit('device.reported', { deviceId: item.deviceId, services })
    }
  }
}
