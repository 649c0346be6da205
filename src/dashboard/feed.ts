import { commandView } from '../commands/view.ts'
import type { DeviceRegistry } from '../devices/registry.ts'
import type { EventBus, ReportedService } from '../events.ts'
import type { Logger } from '../logger.ts'
import { toPlatformTime } from '../time.ts'
import type { Overview } from './overview.ts'

/** One connected dashboard: its application and a way to send it one server-sent event. */
export interface FeedClient {
  appId: string
  send(event: string, data: unknown): void
}

export interface FeedOptions {
  /** Reported data is batched per device for this long (a chart needs no more than a few updates a second). */
  reportedFlushMs: number
  /** Reports kept per device per batch, the latest (a device flooding data cannot flood the dashboards). */
  reportedPerFlush: number
  /** How often the overview (devices, broker, rates, sync backlog per lane) is pushed. */
  statusIntervalMs: number
}

/** Events of other parts that may not be built into this gateway (safety calls, issue 7): forwarded as they are. */
const OPTIONAL_EVENTS = ['safety.call', 'safety.event'] as const

type LooseBus = { on(event: string, listener: (payload: unknown) => void): () => void }

/**
 * The dashboard's live feed: bus events (committed facts only, see events.ts) to every connected dashboard of
 * the application they concern. It subscribes to the bus only while a dashboard is connected, so a gateway
 * nobody watches builds no reported-data payloads (ingest checks `bus.hasListeners`).
 */
export class DashboardFeed {
  private readonly clients = new Set<FeedClient>()
  private unsubscribe: (() => void)[] = []
  /** deviceId → its reports since the last flush, oldest first (at most reportedPerFlush). */
  private pending = new Map<string, ReportedService[]>()
  private flushTimer: NodeJS.Timeout | undefined
  private statusTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly bus: EventBus,
    private readonly registry: DeviceRegistry,
    private readonly overview: (appId: string) => Overview,
    private readonly log: Logger,
    private readonly options: FeedOptions = {
      reportedFlushMs: 250,
      reportedPerFlush: 20,
      statusIntervalMs: 2000,
    },
  ) {}

  get size(): number {
    return this.clients.size
  }

  add(client: FeedClient): () => void {
    this.clients.add(client)
    if (this.clients.size === 1) this.subscribe()
    this.sendStatus(client)
    return () => {
      if (!this.clients.delete(client)) return
      if (this.clients.size === 0) this.unsubscribeAll()
    }
  }

  close(): void {
    this.clients.clear()
    this.unsubscribeAll()
  }

  private subscribe(): void {
    const { bus } = this
    this.unsubscribe = [
      bus.on('device.status', (e) => this.toOwner(e.deviceId, 'device.status', e)),
      bus.on('device.added', (e) => this.toApp(e.appId, 'device.added', e)),
      bus.on('device.deleted', (e) => this.toApp(e.appId, 'device.deleted', e)),
      bus.on('device.changed', (e) => this.toOwner(e.deviceId, 'device.changed', e)),
      bus.on('device.reported', (e) => this.queueReported(e.deviceId, e.services)),
      bus.on('command.status', ({ command }) =>
        this.toApp(command.app_id, 'command.status', {
          command: commandView(command),
          origin: command.origin,
        }),
      ),
      bus.on('sync.status', (e) => this.toAll('sync.status', e)),
    ]
    const loose = bus as unknown as LooseBus
    for (const name of OPTIONAL_EVENTS) {
      this.unsubscribe.push(loose.on(name, (payload) => this.routeOptional(name, payload)))
    }
    this.statusTimer = setInterval(() => {
      for (const client of this.clients) this.sendStatus(client)
    }, this.options.statusIntervalMs)
    this.statusTimer.unref()
  }

  private unsubscribeAll(): void {
    for (const off of this.unsubscribe.splice(0)) off()
    clearInterval(this.statusTimer)
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    this.pending.clear()
  }

  private queueReported(deviceId: string, services: ReportedService[]): void {
    const queued = this.pending.get(deviceId) ?? []
    this.pending.set(deviceId, queued)
    queued.push(...services)
    if (queued.length > this.options.reportedPerFlush)
      queued.splice(0, queued.length - this.options.reportedPerFlush)
    this.flushTimer ??= setTimeout(() => this.flushReported(), this.options.reportedFlushMs)
  }

  private flushReported(): void {
    this.flushTimer = undefined
    const pending = this.pending
    this.pending = new Map()
    for (const [deviceId, queued] of pending) {
      const services = queued.map((s) => ({
        serviceId: s.serviceId,
        data: s.data,
        eventTime: toPlatformTime(s.eventTime),
      }))
      this.toOwner(deviceId, 'device.reported', { deviceId, services })
    }
  }

  private sendStatus(client: FeedClient): void {
    try {
      client.send('status', this.overview(client.appId))
    } catch (err) {
      this.log.warn({ err }, 'dashboard status failed')
    }
  }

  /** A safety call names its application; a helmet's message its device; anything else goes to everyone. */
  private routeOptional(name: string, payload: unknown): void {
    const p = payload as { call?: { appId?: unknown }; event?: { deviceId?: unknown } } | null
    if (typeof p?.call?.appId === 'string') this.toApp(p.call.appId, name, payload)
    else if (typeof p?.event?.deviceId === 'string') this.toOwner(p.event.deviceId, name, payload)
    else this.toAll(name, payload)
  }

  private toOwner(deviceId: string, event: string, data: unknown): void {
    const owner = this.registry.lookup(deviceId, 'deviceId')?.appId
    if (owner !== undefined) this.toApp(owner, event, data)
  }

  private toApp(appId: string, event: string, data: unknown): void {
    for (const client of this.clients) if (client.appId === appId) client.send(event, data)
  }

  private toAll(event: string, data: unknown): void {
    for (const client of this.clients) client.send(event, data)
  }
}
