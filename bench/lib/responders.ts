// Simulated platform devices for bench/command-rtt.ts: one mqtt.js client per device, subscribed to its command
// topic, answering each cloudReq at once with a QoS 1 deviceRsp errcode 0 (device-mqtt.md A.5/A.6), as
// test/helpers/simulator.ts does with `answerSuccess` (not imported: its helpers load the whole gateway).
import type { MqttClient } from 'mqtt'
import { commandTopic, dataTopic } from '../../src/protocols/platform-mqtt.ts'
import { connect, type DeviceSpec } from './load.ts'
import { nowMs } from './proc.ts'

export interface CloudReq {
  msgType: 'cloudReq'
  serviceId: string
  cmd: string
  paras: Record<string, unknown>
  mid: number
}

export interface ResponderHooks {
  /** A cloudReq arrived at device `index` (before the answer is published). */
  request(index: number, req: CloudReq, at: number): void
  /** The gateway acknowledged (PUBACK) the deviceRsp to `req`: with the gateway, once it was committed. */
  answerAcked(index: number, req: CloudReq, at: number): void
}

export interface Responders {
  clients: MqttClient[]
  close(): Promise<void>
}

export async function startResponders(
  url: string,
  devices: DeviceSpec[],
  hooks: ResponderHooks,
): Promise<Responders> {
  const clients = await Promise.all(
    devices.map(async (device, index) => {
      const client = await connect(url, device, true)
      const answerTopic = dataTopic(device.id)
      client.on('message', (topic, payload) => {
        const at = nowMs()
        if (!topic.endsWith('/command/json')) return
        const req = JSON.parse(payload.toString()) as CloudReq
        hooks.request(index, req, at)
        const rsp = { msgType: 'deviceRsp', mid: req.mid, errcode: 0, body: { result: 0, echo: req.cmd } }
        client.publish(answerTopic, JSON.stringify(rsp), { qos: 1 }, (err) => {
          if (!err) hooks.answerAcked(index, req, nowMs())
        })
      })
      await client.subscribeAsync(commandTopic(device.id), { qos: 1 })
      return client
    }),
  )
  return {
    clients,
    close: async () => {
      await Promise.all(clients.map((c) => c.endAsync()))
    },
  }
}
