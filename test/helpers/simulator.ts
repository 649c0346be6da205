// A device simulator on mqtt.js: subscribes to its command topic and answers each cloudReq with a deviceRsp
// (device-mqtt.md A.5/A.6) as its policy says — at once, later, failing, or not at all.
import type { IClientOptions, MqttClient } from 'mqtt'
import { type DeviceLogin, deviceOptions, openDevice, waitFor } from './mqtt.ts'

export interface CloudReq {
  msgType: 'cloudReq'
  serviceId: string
  cmd: string
  paras: Record<string, unknown>
  mid: number
}

/** What the device does with a command: answer with errcode/body, or stay silent. */
export type AnswerPolicy = (req: CloudReq) => { errcode: number; body?: Record<string, unknown> } | 'silent'

export interface SimulatedDevice {
  client: MqttClient
  /** Every cloudReq received, in order (retransmissions included). */
  received: CloudReq[]
  policy: AnswerPolicy
  /** Waits until at least n commands arrived; returns them. */
  waitForCommands(n: number, timeoutMs?: number): Promise<CloudReq[]>
  close(): Promise<void>
}

export const answerSuccess: AnswerPolicy = (req) => ({ errcode: 0, body: { result: 0, echo: req.cmd } })

export async function simulateDevice(
  mqttUrl: string,
  login: DeviceLogin,
  policy: AnswerPolicy = answerSuccess,
  extra: IClientOptions = {},
): Promise<SimulatedDevice> {
  const { client } = await openDevice(mqttUrl, deviceOptions(login, extra))
  const id = login.id
  const sim: SimulatedDevice = {
    client,
    received: [],
    policy,
    waitForCommands: (n, timeoutMs = 10_000) =>
      waitFor(
        () => (sim.received.length >= n ? sim.received : undefined),
        `${n} command(s) at ${id}`,
        timeoutMs,
      ),
    close: () => new Promise((resolve) => client.end(true, {}, () => resolve())),
  }
  client.on('message', (topic, payload) => {
    if (!topic.includes('/command/')) return
    const req = JSON.parse(payload.toString()) as CloudReq
    sim.received.push(req)
    const answer = sim.policy(req)
    if (answer === 'silent') return
    client.publish(
      `/huawei/v1/devices/${id}/data/json`,
      JSON.stringify({
        msgType: 'deviceRsp',
        mid: req.mid,
        errcode: answer.errcode,
        body: answer.body ?? {},
      }),
      { qos: 1 },
    )
  })
  await new Promise<void>((resolve, reject) =>
    client.subscribe(`/huawei/v1/devices/${id}/command/json`, { qos: 1 }, (err) =>
      err ? reject(err) : resolve(),
    ),
  )
  return sim
}
