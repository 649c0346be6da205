// The live feed: server-sent events from GET /sitegate/v1/events. EventSource cannot send the Bearer header,
// so each (re)connection first trades the token for a one-time ticket (POST /sitegate/v1/events/ticket).
import type { ApiClient } from './api.ts'

export type LiveState = 'connecting' | 'live' | 'reconnecting'
type Listener = (data: unknown) => void

const EVENTS = [
  'hello',
  'status',
  'device.status',
  'device.added',
  'device.deleted',
  'device.changed',
  'device.reported',
  'command.status',
  'sync.status',
  'safety.call',
  'safety.event',
]

export class LiveFeed {
  private source: EventSource | undefined
  private readonly listeners = new Map<string, Set<Listener>>()
  private readonly stateListeners = new Set<(s: LiveState) => void>()
  private retryMs = 500
  private timer: ReturnType<typeof setTimeout> | undefined
  private closed = false
  state: LiveState = 'connecting'

  constructor(private readonly api: ApiClient) {
    void this.connect()
  }

  on(event: string, listener: Listener): () => void {
    const set = this.listeners.get(event) ?? new Set<Listener>()
    this.listeners.set(event, set)
    set.add(listener)
    return () => set.delete(listener)
  }

  onState(listener: (s: LiveState) => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    this.source?.close()
  }

  private setState(s: LiveState): void {
    this.state = s
    for (const l of this.stateListeners) l(s)
  }

  private async connect(): Promise<void> {
    if (this.closed) return
    try {
      const { ticket } = await this.api.call<{ ticket: string }>('POST', '/sitegate/v1/events/ticket')
      if (this.closed) return
      const source = new EventSource(`/sitegate/v1/events?ticket=${encodeURIComponent(ticket)}`)
      this.source = source
      for (const name of EVENTS) {
        source.addEventListener(name, (e) => this.dispatch(name, (e as MessageEvent<string>).data))
      }
      source.onopen = () => {
        this.retryMs = 500
        this.setState('live')
      }
      // The ticket is spent: a dropped stream is reopened with a new one, not by EventSource's own retry.
      source.onerror = () => {
        source.close()
        this.retry()
      }
    } catch {
      this.retry()
    }
  }

  private retry(): void {
    if (this.closed) return
    this.setState('reconnecting')
    this.timer = setTimeout(() => void this.connect(), this.retryMs)
    this.retryMs = Math.min(this.retryMs * 2, 10_000)
  }

  private dispatch(name: string, raw: string): void {
    let data: unknown
    try {
      data = JSON.parse(raw)
    } catch {
      return
    }
    for (const l of this.listeners.get(name) ?? []) l(data)
  }
}
