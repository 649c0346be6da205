import { EventEmitter } from 'node:events'
import type { CallView, EventView } from './safety/views.ts'
import type { CommandRow } from './store/repos/commands.ts'

/** One service's reported data as committed by ingest. */
export interface ReportedService {
  serviceId: string
  data: Record<string, unknown>
  eventTime: number
}

// Every in-process event, with its payload. Emitted only after the SQLite transaction that records the fact
// has committed, so a listener never sees something a restart would lose.
export interface GatewayEvents {
  'device.added': { deviceId: string; appId: string; nodeId: string }
  'device.deleted': { deviceId: string; appId: string; nodeId: string }
  /** Its information changed (§4.4); `mute` when it was frozen (its connections are closed). */
  'device.changed': { deviceId: string; muted: boolean }
  'device.status': { deviceId: string; status: 'ONLINE' | 'OFFLINE' }
  'device.reported': { deviceId: string; services: ReportedService[] }
  /** A command was created or changed status (spec §2.8 statuses). */
  'command.status': { command: CommandRow }
  /** The upstream link went up or down, or rows were dropped by a quota (sync/service.ts status). */
  'sync.status': { connected: boolean; reason: string }
  /** A safety-device call was placed or changed state (issue 7). */
  'safety.call': { call: CallView }
  /** A safety device sent a message (reply, SOS, status, …). */
  'safety.event': { event: EventView }
}

export type GatewayEventName = keyof GatewayEvents

/** A typed event bus: `on`/`emit` only accept the events declared in GatewayEvents. */
export class EventBus {
  private readonly emitter = new EventEmitter({ captureRejections: false })

  constructor() {
    this.emitter.setMaxListeners(100)
  }

  on<E extends GatewayEventName>(event: E, listener: (payload: GatewayEvents[E]) => void): () => void {
    this.emitter.on(event, listener)
    return () => this.emitter.off(event, listener)
  }

  /** Whether anyone listens (lets a producer skip building payloads nobody reads). */
  hasListeners(event: GatewayEventName): boolean {
    return this.emitter.listenerCount(event) > 0
  }

  emit<E extends GatewayEventName>(event: E, payload: GatewayEvents[E]): void {
    this.emitter.emit(event, payload)
  }
}
