// OneJSON thing-model devices (device-mqtt.md Part B) for integration tests: registration through §4.2 with
// deviceInfo.protocolType "OneJSON", the CONNECT a OneNET-style device presents (ClientId = device name,
// User Name = pid, Password = token), and a simulator that answers each invoke with an invoke_reply.
import type { IClientOptions, MqttClient } from 'mqtt'
import { oneJsonToken, type TokenMethod } from '../../src/protocols/onejson.ts'
import type { AppSession } from './gateway.ts'
import { openDevice, waitFor } from './mqtt.ts'

export interface OneJsonDevice {
  deviceId: string
  secret: string
  pid: string
  /** The device name: its nodeId at registration, its ClientId on CONNECT. */
  name: string
}

/** Registers a OneJSON device (§4.2 with protocolType OneJSON, productId = pid, nodeId = device name). */
export async function registerOneJsonDevice(
  httpUrl: string,
  session: AppSession,
  name: string,
  pid: string,
): Promise<OneJsonDevice> {
  const res = await fetch(`${httpUrl}/iocm/app/reg/v2.0.0/deviceCredentials`, {
    method: 'POST',
    headers: session.headers,
    body: JSON.stringify({
      deviceInfo: { nodeId: name, name, protocolType: 'OneJSON' },
      mqttConnect: true,
      productId: pid,
    }),
  })
  if (res.status !== 200) throw new Error(`OneJSON registration failed: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { deviceId: string; secret: string }
  return { deviceId: body.deviceId, secret: body.secret, pid, name }
}

/** One hour from now, in unix seconds: the `et` of a token that is still valid. */
export const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600

/**
 * The CONNECT options of a OneJSON device. `token` overrides what the password is signed with (to present
 * a wrong secret, an expired `et`, another pid); `username` overrides the User Name.
 */
export function oneJsonOptions(
  d: OneJsonDevice,
  token: { secret?: string; expiresAt?: number; pid?: string; method?: TokenMethod } = {},
  extra: IClientOptions = {},
): IClientOptions {
  return {
    clientId: d.name,
    username: d.pid,
    password: oneJsonToken({
      pid: token.pid ?? d.pid,
      deviceName: d.name,
      secret: token.secret ?? d.secret,
      expiresAt: token.expiresAt ?? inAnHour(),
      ...(token.method ? { method: token.method } : {}),
    }),
    ...extra,
  }
}

export const invokeTopicOf = (d: OneJsonDevice, identifier: string): string =>
  `$sys/${d.pid}/${d.name}/thing/service/${identifier}/invoke`
export const invokeReplyTopicOf = (d: OneJsonDevice, identifier: string): string =>
  `$sys/${d.pid}/${d.name}/thing/service/${identifier}/invoke_reply`
export const invokeFilterOf = (d: OneJsonDevice): string => `$sys/${d.pid}/${d.name}/thing/service/+/invoke`

/** An invoke the device received (B.2), with the identifier read from its topic. */
export interface Invoke {
  identifier: string
  topic: string
  id: string
  version: string
  params: Record<string, unknown>
}

/** What the device answers to an invoke: a B.3 reply (the id is filled in), or nothing. */
export type InvokePolicy = (
  req: Invoke,
) => { code: number; msg?: string; data?: Record<string, unknown> } | 'silent'

export const replyOk: InvokePolicy = (req) => ({ code: 200, msg: 'ok', data: { echo: req.params } })

export interface SimulatedOneJsonDevice {
  client: MqttClient
  /** Every invoke received, in order. */
  received: Invoke[]
  policy: InvokePolicy
  waitForInvokes(n: number, timeoutMs?: number): Promise<Invoke[]>
  /** Publishes an invoke_reply (QoS 1) and resolves on its PUBACK. */
  reply(identifier: string, body: unknown): Promise<void>
  close(): Promise<void>
}

/** Connects a OneJSON device, subscribes to its invokes and answers each as `policy` says. */
export async function simulateOneJsonDevice(
  mqttUrl: string,
  d: OneJsonDevice,
  policy: InvokePolicy = replyOk,
): Promise<SimulatedOneJsonDevice> {
  const { client } = await openDevice(mqttUrl, oneJsonOptions(d))
  const reply = (identifier: string, body: unknown) =>
    new Promise<void>((resolve, reject) => {
      if (!client.connected) return reject(new Error('not connected'))
      client.publish(invokeReplyTopicOf(d, identifier), JSON.stringify(body), { qos: 1 }, (err) =>
        err ? reject(err) : resolve(),
      )
    })
  const sim: SimulatedOneJsonDevice = {
    client,
    received: [],
    policy,
    waitForInvokes: (n, timeoutMs = 10_000) =>
      waitFor(
        () => (sim.received.length >= n ? sim.received : undefined),
        `${n} invoke(s) at ${d.name}`,
        timeoutMs,
      ),
    reply,
    close: () => new Promise((resolve) => client.end(true, {}, () => resolve())),
  }
  client.on('message', (topic, payload) => {
    const identifier = topic.split('/')[5] ?? ''
    const doc = JSON.parse(payload.toString()) as Omit<Invoke, 'identifier' | 'topic'>
    const req: Invoke = { identifier, topic, ...doc }
    sim.received.push(req)
    const answer = sim.policy(req)
    if (answer === 'silent') return
    void reply(identifier, { id: req.id, ...answer }).catch(() => {})
  })
  await new Promise<void>((resolve, reject) =>
    client.subscribe(invokeFilterOf(d), { qos: 1 }, (err, granted) => {
      if (err) reject(err)
      else if (granted?.[0]?.qos === 128) reject(new Error(`invoke subscription refused for ${d.name}`))
      else resolve()
    }),
  )
  return sim
}
