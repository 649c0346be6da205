// The safety-call endpoints (issue 7, README "Safety-device calls (XMPP)"). The shapes follow
// src/safety/views.ts (calls, events) and src/safety/xmpp-client.ts (status) on the gateway.
import type { ApiClient } from './api.ts'

export type XmppState = 'online' | 'connecting' | 'offline' | 'disabled'

/** GET /sitegate/v1/safety/status: `enabled` is false when the config has no `xmpp:`. */
export interface SafetyStatus {
  enabled: boolean
  state: XmppState
  /** When the state last changed (epoch ms). */
  since: number
  jid: string | null
  service: string | null
  domain: string | null
  lastError: { message: string; at: number } | null
  reconnectAttempts: number
}

export interface SafetyDevice {
  deviceId: string
  nodeId: string
  name: string | null
  chatJid: string | null
  isdpDeviceId: string | null
}

export type CallState = 'sent' | 'delivered' | 'answered' | 'declined' | 'failed'

/** One call of the log; times are platform time strings (spec §1.8). */
export interface SafetyCall {
  callId: string
  appId: string | null
  origin: 'openapi' | 'gateway'
  deviceId: string | null
  chatJid: string
  stanzaId: string
  directive: string
  caller: Record<string, unknown>
  state: CallState
  detail: string | null
  createdAt: string
  deliveredAt: string | null
  endedAt: string | null
}

/** One message a safety device sent. */
export interface SafetyEvent {
  eventId: number
  deviceId: string | null
  chatJid: string
  kind: 'reply' | 'sos' | 'status' | 'message'
  directive: string | null
  subject: string | null
  body: string | null
  attrs: Record<string, unknown> | null
  stanzaId: string | null
  callId: string | null
  receivedAt: string
}

export const safetyStatus = (api: ApiClient): Promise<SafetyStatus> =>
  api.call<SafetyStatus>('GET', '/sitegate/v1/safety/status')

export const safetyDevices = async (api: ApiClient): Promise<SafetyDevice[]> =>
  (await api.call<{ devices: SafetyDevice[] }>('GET', '/sitegate/v1/safety/devices')).devices

export const safetyCalls = async (api: ApiClient): Promise<SafetyCall[]> =>
  (await api.call<{ calls: SafetyCall[] }>('GET', '/sitegate/v1/safety/calls?pageSize=100')).calls

export const safetyEvents = async (api: ApiClient): Promise<SafetyEvent[]> =>
  (await api.call<{ events: SafetyEvent[] }>('GET', '/sitegate/v1/safety/events?pageSize=50')).events

/** A call the gateway builds (caller, directive and text from `xmpp:` in the config). Answers 201 the call. */
export const placeCall = (api: ApiClient, deviceId: string): Promise<SafetyCall> =>
  api.call<SafetyCall>('POST', '/sitegate/v1/safety/calls', { deviceId })

/** The newest first, one entry per id: a live update replaces the entry it updates. */
export function upsertNewestFirst<T>(list: T[] | undefined, item: T, id: (x: T) => string | number): T[] {
  const key = id(item)
  return [item, ...(list ?? []).filter((x) => id(x) !== key)]
}
