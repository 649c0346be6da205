// Live device targets: a registered device of each protocol publishes fuzzed payloads at QoS 1 to the real
// gateway (platform deviceReq/deviceRsp, OneJSON invoke_reply, camera frames over MQTT), a camera POSTs fuzzed
// bodies to the HTTP upload endpoint, and a platform device publishes to fuzzed topics. Properties: every
// publish on an allowed topic is answered (PUBACK) — the gateway acknowledges a message it refuses, since
// resending would not make it valid — and an input its decoder refuses commits nothing at all (SQLite's
// data_version seen from a connection of our own is unchanged).
import type { IClientOptions, MqttClient } from 'mqtt'
import { parseCameraMessage } from '../../../src/protocols/camera.ts'
import { decodeInvokeReply } from '../../../src/protocols/onejson.ts'
import { decodeUplink } from '../../../src/protocols/platform-mqtt.ts'
import { connectRaw } from '../../helpers/gateway.ts'
import { deviceOptions } from '../../helpers/mqtt.ts'
import { oneJsonOptions } from '../../helpers/onejson-device.ts'
import { cameraFrames, DEVICE_REQS, INVOKE_REPLIES } from '../examples.ts'
import type { FuzzGateway } from '../gateway-env.ts'
import { type FuzzTarget, refusedByClient, Violation } from '../harness.ts'
import { fuzzText, mutateBytes, randomString } from '../mutate.ts'
import type { Rng } from '../prng.ts'

const ACK_TIMEOUT_MS = 10_000

/** Waits until no commit happened for `quietMs` (after a (re)connect: status and presence writes settle). */
export async function settle(env: FuzzGateway, quietMs = 300): Promise<void> {
  let v = env.version()
  let since = Date.now()
  const deadline = Date.now() + 10_000
  while (Date.now() - since < quietMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25))
    const now = env.version()
    if (now !== v) {
      v = now
      since = Date.now()
    }
  }
}

/** A device connection that is reopened when the gateway closes it. */
class Connection {
  private client: MqttClient | undefined

  constructor(
    private readonly env: FuzzGateway,
    private readonly options: () => IClientOptions,
  ) {}

  async get(): Promise<MqttClient> {
    if (this.client?.connected) return this.client
    this.client?.end(true)
    this.client = await connectRaw(this.env.gw.mqttUrl, this.options())
    this.client.on('error', () => {})
    await settle(this.env)
    return this.client
  }

  /** Publishes at QoS 1: 'acked', or 'closed' when the gateway closed the connection instead. */
  async publish(topic: string, payload: Buffer): Promise<'acked' | 'closed' | 'timeout'> {
    const client = await this.get()
    return new Promise((resolve) => {
      const onClose = () => finish('closed')
      const timer = setTimeout(() => finish('timeout'), ACK_TIMEOUT_MS)
      const finish = (outcome: 'acked' | 'closed' | 'timeout') => {
        clearTimeout(timer)
        client.off('close', onClose)
        resolve(outcome)
      }
      client.once('close', onClose)
      client.publish(topic, payload, { qos: 1 }, (err) => finish(err ? 'closed' : 'acked'))
    })
  }

  close(): void {
    this.client?.end(true)
  }
}

/** One QoS 1 publish of a fuzzed payload; `invalid` says whether the gateway's decoder refuses it. */
function mqttTarget(
  env: FuzzGateway,
  name: string,
  options: () => IClientOptions,
  topic: (rng: Rng) => string,
  input: (rng: Rng) => Buffer,
  invalid: (payload: Buffer) => boolean,
  /** Accepted inputs of this target are stored: proof that the write probe sees the writer's commits. */
  acceptedWrite = false,
): FuzzTarget {
  const conn = new Connection(env, options)
  let accepted = 0
  let written = 0
  return {
    name,
    weight: 2,
    async one(rng) {
      const payload = input(rng)
      const refused = invalid(payload)
      await conn.get()
      const before = env.version()
      const outcome = await conn.publish(topic(rng), payload)
      if (outcome !== 'acked') throw new Violation(`publish not acknowledged (${outcome})`, payload)
      if (refused && env.version() !== before)
        throw new Violation('a payload the decoder refuses changed the database', payload)
      if (!refused) {
        accepted += 1
        if (env.version() !== before) written += 1
      }
    },
    finish() {
      conn.close()
      if (acceptedWrite && accepted >= 10 && written === 0)
        throw new Error(`the write probe saw no commit from ${accepted} accepted messages: it checks nothing`)
    },
  }
}

export function deviceTargets(env: FuzzGateway): FuzzTarget[] {
  const { device, onejson, camera, httpCamera } = env
  const dataTopic = `/huawei/v1/devices/${device.deviceId}/data/json`
  const replyIdentifiers = ['SET_DESIRED', 'Switch', 'x']
  const frames = cameraFrames(camera.sn)
  const topicConn = new Connection(env, () => deviceOptions({ id: device.deviceId, secret: device.secret }))
  const countChunks = () => env.count('telemetry_chunk')
  return [
    mqttTarget(
      env,
      'device:platform-mqtt',
      () => deviceOptions({ id: device.deviceId, secret: device.secret }),
      () => dataTopic,
      (rng) => fuzzText(rng, DEVICE_REQS),
      (p) => !decodeUplink(p, Date.now()).ok,
      true,
    ),
    mqttTarget(
      env,
      'onejson:invoke-reply',
      () => oneJsonOptions(onejson),
      (rng) => `$sys/${onejson.pid}/${onejson.name}/thing/service/${rng.pick(replyIdentifiers)}/invoke_reply`,
      (rng) => fuzzText(rng, INVOKE_REPLIES),
      (p) => !decodeInvokeReply(p).ok,
    ),
    mqttTarget(
      env,
      'camera:mqtt-frame',
      () => ({ clientId: camera.sn, username: camera.sn, password: camera.secret }),
      () => `cameras/${camera.sn}/up`,
      (rng) => fuzzText(rng, frames),
      (p) => parseCameraMessage(p.toString('utf8'), Date.now(), 300_000).kind === 'invalid',
    ),
    {
      // Topics a device may not publish on: the broker refuses (closes the connection), nothing is stored.
      name: 'device:mqtt-topic',
      weight: 1,
      async one(rng) {
        const topic = rng.chance(0.7)
          ? mutateBytes(Buffer.from(dataTopic), rng).toString('utf8')
          : randomString(rng)
        if (
          topic === dataTopic ||
          topic.length === 0 ||
          topic.includes('+') ||
          topic.includes('#') ||
          topic.includes(String.fromCharCode(0))
        )
          return
        const before = countChunks()
        const payload = Buffer.from(JSON.stringify(DEVICE_REQS[0]))
        const outcome = await topicConn.publish(topic, payload)
        if (outcome === 'timeout') throw new Violation('no PUBACK and no close', topic)
        if (countChunks() !== before) throw new Violation(`a publish to ${topic} was stored`, topic)
      },
      finish: () => topicConn.close(),
    },
    {
      name: 'camera:http-upload',
      weight: 2,
      async one(rng) {
        const body = fuzzText(rng, cameraFrames(httpCamera.sn))
        const auth = `Basic ${Buffer.from(`${httpCamera.sn}:${httpCamera.secret}`).toString('base64')}`
        const headers: Record<string, string> = {
          'content-type': rng.chance(0.9)
            ? 'application/json'
            : randomString(rng).replace(/[^\x20-\x7e]/g, ''),
          authorization: rng.chance(0.9) ? auth : mutateBytes(Buffer.from(auth), rng).toString('latin1'),
        }
        const refused = parseCameraMessage(body.toString('utf8'), Date.now(), 300_000).kind === 'invalid'
        const before = env.version()
        let status: number
        try {
          const res = await fetch(`${env.gw.httpUrl}/cameras/v1/upload`, { method: 'POST', headers, body })
          await res.arrayBuffer()
          status = res.status
        } catch (err) {
          // fetch refuses some header values itself (nothing was sent).
          if (refusedByClient(err)) return
          throw new Violation(
            `request failed: ${(err as Error).message} (${String((err as { cause?: unknown }).cause)})`,
            body,
          )
        }
        if (status >= 500) throw new Violation(`HTTP ${status}`, body)
        if ((refused || status >= 400) && env.version() !== before)
          throw new Violation(`a refused upload (HTTP ${status}) changed the database`, body)
      },
    },
  ]
}
