import { toPlatformTime } from '../time.ts'
import type { PointValue } from './codec.ts'
import type { PointSpec } from './config.ts'

/**
 * Collects the values one poll round of a slave reads and turns them into one deviceReq (device-mqtt.md A.4:
 * `{"msgType":"deviceReq","data":[{serviceId, serviceData, eventTime}]}`) — the message an MQTT device would
 * publish — so serial values take the same ingest path: decoded and validated by the writer, then history,
 * reported shadow and outbox in one commit.
 */
export class ReportBuilder {
  private services = new Map<string, Record<string, PointValue>>()
  private readonly points = new Set<PointSpec>()
  private firstAt = 0

  /** Adds a value; returns a finished report first when this point is already in the round (a new round). */
  add(point: PointSpec, value: PointValue, at: number): Buffer | undefined {
    const finished = this.points.has(point) ? this.take() : undefined
    if (this.points.size === 0) this.firstAt = at
    this.points.add(point)
    let data = this.services.get(point.serviceId)
    if (!data) {
      data = {}
      this.services.set(point.serviceId, data)
    }
    data[point.name] = value
    return finished
  }

  /** The deviceReq payload of what was collected, or undefined when nothing was. */
  take(): Buffer | undefined {
    if (this.points.size === 0) return undefined
    const eventTime = toPlatformTime(this.firstAt)
    const data = [...this.services].map(([serviceId, serviceData]) => ({ serviceId, serviceData, eventTime }))
    this.services = new Map()
    this.points.clear()
    return Buffer.from(JSON.stringify({ msgType: 'deviceReq', data }))
  }
}
