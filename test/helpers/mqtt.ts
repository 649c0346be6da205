// MQTT-side helpers for the broker/ingest integration suites: CONNACK codes, SUBACK grants, inboxes,
// polling, and small REST calls about one device. Everything talks to a real gateway over real sockets.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { type AuthType, deviceCredentials, type SignType } from '../../src/broker/credentials.ts'
import type { Store } from '../../src/store/index.ts'
import { type AppSession, connectRaw } from './gateway.ts'

export const dataTopic = (id: string, codec: 'json' | 'binary' = 'json'): string =>
  `/huawei/v1/devices/${id}/data/${codec}`
export const commandTopic = (id: string, codec: 'json' | 'binary' = 'json'): string =>
  `/huawei/v1/devices/${id}/command/${codec}`

export interface DeviceLogin {
  id: string
  secret: string
  authType?: AuthType
  signType?: SignType
  now?: number
}

/** The CONNECT options a well-behaved device presents (clientId, username, password per spec A.3). */
export function deviceOptions(device: DeviceLogin, extra: IClientOptions = {}): IClientOptions {
  const creds = deviceCredentials(device)
  return { clientId: creds.clientId, username: creds.username, password: creds.password, ...extra }
}

/** Polls `check` until it returns a truthy value (or stops throwing); fails after a generous bound. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
      last = value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Resolves once the client's network connection is closed (by the broker, here); fails after a generous bound. */
export function closed(client: MqttClient, timeoutMs = 10_000): Promise<void> {
  if (!client.connected) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onClose = () => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      client.off('close', onClose)
      reject(new Error('timed out waiting for the broker to close the connection'))
    }, timeoutMs)
    client.once('close', onClose)
  })
}

/** Attempts a CONNECT and returns the CONNACK return code (0 = accepted). The client is always closed. */
export async function connackCode(mqttUrl: string, options: IClientOptions): Promise<number> {
  try {
    const client = await connectRaw(mqttUrl, options)
    client.end(true)
    return 0
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'number') return code
    throw err
  }
}

export interface Received {
  topic: string
  payload: string
  qos: number
  retain: boolean
}

/** A device client whose incoming messages are recorded from before CONNACK (nothing can slip past). */
export interface DeviceClient {
  client: MqttClient
  inbox: Received[]
  sessionPresent: boolean
  /** Waits for the inbox to hold at least n messages and returns them. */
  received(n: number): Promise<Received[]>
}

export function openDevice(mqttUrl: string, options: IClientOptions): Promise<DeviceClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(mqttUrl, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      protocolVersion: 4,
      ...options,
    })
    const inbox: Received[] = []
    client.on('message', (topic, payload, packet) => {
      inbox.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })
    })
    client.once('connect', (connack) =>
      resolve({
        client,
        inbox,
        sessionPresent: connack.sessionPresent,
        received: (n) =>
          waitFor(() => (inbox.length >= n ? inbox : undefined), `${n} message(s) on ${options.clientId}`),
      }),
    )
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
  })
}

/**
 * Publishes and resolves on the PUBACK (QoS 1), or rejects as soon as the connection closes: a gateway that drops
 * the connection fails the test at once instead of leaving it waiting for an acknowledgement that never comes.
 */
export function publishAcked(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1) {
  if (!client.connected) return Promise.reject(new Error(`not connected (publishing to ${topic})`))
  return new Promise<void>((resolve, reject) => {
    const onClose = () =>
      reject(new Error(`the gateway closed the connection instead of acknowledging ${topic}`))
    client.once('close', onClose)
    client.publish(topic, payload, { qos }, (err) => {
      client.off('close', onClose)
      if (err) reject(err)
      else resolve()
    })
  })
}

/** One SUBSCRIBE packet; returns the SUBACK's granted QoS per filter (128 = refused) without throwing. */
export function subscribeGranted(
  client: MqttClient,
  topics: string | string[],
  qos: 0 | 1 | 2 = 1,
): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(topics, { qos }, (err, _subs, suback) => {
      if (suback) resolve([...(suback.granted as number[])])
      else reject(err ?? new Error('no SUBACK'))
    })
  })
}

/** What the store holds for one device, plus global row counts (to prove "nothing else changed"). */
export function storeSnapshot(store: Store, deviceId: string) {
  return {
    telemetry: store.telemetry.count(),
    deviceTelemetry: store.telemetry.countForDevice(deviceId),
    outbox: store.outbox.countByLane(),
    shadows: store.shadows.forDevice(deviceId).map((s) => ({ ...s })),
    shadowVersion: store.devices.get(deviceId)?.shadow_version,
  }
}

/** `GET /iocm/app/dm/v1.4.0/devices/{id}`: the status/body a REST client sees. */
export async function getDevice(
  httpUrl: string,
  session: AppSession,
  deviceId: string,
): Promise<{ status: number; body: { deviceInfo?: { status?: string; statusDetail?: string } } }> {
  const res = await fetch(`${httpUrl}/iocm/app/dm/v1.4.0/devices/${deviceId}`, { headers: session.headers })
  return { status: res.status, body: (await res.json()) as { deviceInfo?: { status?: string } } }
}

export async function deviceStatus(httpUrl: string, session: AppSession, deviceId: string): Promise<string> {
  const { status, body } = await getDevice(httpUrl, session, deviceId)
  if (status !== 200) throw new Error(`GET device ${deviceId}: HTTP ${status}`)
  return body.deviceInfo?.status ?? 'missing'
}

/** `GET /iocm/app/shadow/v1.5.0/devices/{id}`: the reported services a REST client sees. */
export async function getShadow(
  httpUrl: string,
  session: AppSession,
  deviceId: string,
): Promise<{ serviceId: string; reportedProps: Record<string, unknown>; eventTime: string | null }[]> {
  const res = await fetch(`${httpUrl}/iocm/app/shadow/v1.5.0/devices/${deviceId}`, {
    headers: session.headers,
  })
  if (res.status !== 200) throw new Error(`GET shadow ${deviceId}: HTTP ${res.status} ${await res.text()}`)
  return ((await res.json()) as { services: never[] }).services
}
