import type { DeviceRegistry } from '../devices/registry.ts'
import type { Logger } from '../logger.ts'

export interface PresenceOptions {
  /** OFFLINE after this many heartbeat intervals without a message (C.4 gateway note: three). */
  missedHeartbeats: number
}

/**
 * A camera's ONLINE/OFFLINE status, from its messages rather than a connection (an HTTP camera has none):
 * ONLINE at its first valid message, OFFLINE once `missedHeartbeats` of its heartbeat intervals pass without
 * one. The registry records each change as it does for MQTT devices (events, §7.3 notification).
 */
export class CameraPresence {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly log: Logger,
    private readonly options: PresenceOptions,
    /** The camera's heartbeat interval in seconds (its reported hb_interval, or the configured default). */
    private readonly intervalOf: (deviceId: string) => number,
  ) {}

  /** The camera sent a valid message: ONLINE (if it was not), and its silence deadline starts again. */
  alive(deviceId: string): void {
    const wasOnline = this.timers.has(deviceId)
    this.arm(deviceId)
    if (!wasOnline) this.registry.connected(deviceId)
  }

  isOnline(deviceId: string): boolean {
    return this.timers.has(deviceId)
  }

  /** Its heartbeat interval changed: the deadline is measured with the new one. */
  intervalChanged(deviceId: string): void {
    if (this.timers.has(deviceId)) this.arm(deviceId)
  }

  /** The camera was deleted: no status change is recorded for it any more. */
  forget(deviceId: string): void {
    clearTimeout(this.timers.get(deviceId))
    this.timers.delete(deviceId)
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  private arm(deviceId: string): void {
    clearTimeout(this.timers.get(deviceId))
    const ms = this.intervalOf(deviceId) * 1000 * this.options.missedHeartbeats
    const timer = setTimeout(() => this.silent(deviceId, ms), ms)
    timer.unref()
    this.timers.set(deviceId, timer)
  }

  private silent(deviceId: string, ms: number): void {
    this.timers.delete(deviceId)
    this.log.info({ deviceId, silentMs: ms }, 'camera missed its heartbeats: OFFLINE')
    try {
      this.registry.disconnected(deviceId)
    } catch (err) {
      this.log.error({ err, deviceId }, 'recording a camera OFFLINE failed')
    }
  }
}
