// The safety-call API (issue 7, README "Safety-device calls"), kept apart so the page works on a gateway that
// does not have it: a 404 on its status means "not available here".
import { type ApiClient, ApiError } from './api.ts'

export interface SafetyStatus {
  enabled: boolean
  state: 'online' | 'connecting' | 'offline' | 'disabled'
  since: string | null
  jid: string | null
  service: string | null
  lastError: { message: string; at: string } | null
  reconnectAttempts: number
}

export interface SafetyDevice {
  deviceId: string
  nodeId: string
  name: string | null
  chatJid: string
  status?: string | null
}

export interface SafetyCall {
  callId: string
  deviceId: string | null
  chatJid: string
  directive: string
  state: string
  detail: string | null
  createdAt: string
  endedAt: string | null
}

export interface SafetyEvent {
  eventId: number
  deviceId: string | null
  chatJid: string
  kind: 'reply' | 'sos' | 'status' | 'message'
  body: string | null
  receivedAt: string
}

/** undefined when this gateway has no safety-call API. */
export async function safetyStatus(api: ApiClient): Promise<SafetyStatus | undefined> {
  try {
    return await api.call<SafetyStatus>('GET', '/sitegate/v1/safety/status')
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined
    throw err
  }
}

export const safetyDevices = async (api: ApiClient): Promise<SafetyDevice[]> => {
  const answer = await api.call<SafetyDevice[] | { devices: SafetyDevice[] }>(
    'GET',
    '/sitegate/v1/safety/devices',
  )
  return Array.isArray(answer) ? answer : answer.devices
}

export const safetyCalls = async (api: ApiClient): Promise<SafetyCall[]> => {
  const answer = await api.call<SafetyCall[] | { calls: SafetyCall[] }>(
    'GET',
    '/sitegate/v1/safety/calls?pageSize=100',
  )
  return Array.isArray(answer) ? answer : answer.calls
}

export const safetyEvents = async (api: ApiClient): Promise<SafetyEvent[]> => {
  const answer = await api.call<SafetyEvent[] | { events: SafetyEvent[] }>(
    'GET',
    '/sitegate/v1/safety/events?pageSize=50',
  )
  return Array.isArray(answer) ? answer : answer.events
}

export const placeCall = (api: ApiClient, deviceId: string): Promise<SafetyCall> =>
  api.call<SafetyCall>('POST', '/sitegate/v1/safety/calls', { deviceId })
