// A site camera speaking the camera JSON protocol (device-mqtt.md Part C, seed 003) over MQTT (upload_type 1:
// `cameras/{sn}/up` and `/down`) or HTTP (upload_type 0: POSTs to the gateway's upload endpoint, requests in
// the responses). It answers the gateway's requests as a camera would: reports and applies its configuration,
// downloads firmware from package_url, takes snapshots, sets its IO outputs.
import { createHash, randomUUID } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { connectRaw } from './gateway.ts'

/** A tiny valid JPEG header + filler of the wanted size (the gateway checks magic bytes, not decodability). */
export function fakeJpeg(size: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(size, seed & 0xff)
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0)
  for (let i = 4; i < size; i += 997) bytes[i] = (i + seed) & 0xff
  return bytes
}

export function fakePng(size: number): Buffer {
  const bytes = Buffer.alloc(size, 7)
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0)
  return bytes
}

export interface CameraConfig {
  mac: string
  upload_type: number
  upload_addr: string
  hb_interval: number
  run_time: number
}

export type Message = Record<string, unknown>

/** What a camera does with the gateway's requests; shared by both transports. */
export class CameraBehaviour {
  config: CameraConfig
  io: { io0: number; io1: number } = { io0: 0, io1: 0 }
  /** Every request the gateway sent, in order. */
  readonly received: Message[] = []
  /** Firmware packages downloaded through upgrade_dev, with their SHA-256. */
  readonly upgrades: { url: string; sha256: string; size: number }[] = []
  /** The image take_snapshot returns. */
  snapshotImage: Buffer = fakeJpeg(2048, 1)
  /** Set to make the camera answer with this ret (and msg) instead of doing the work. */
  failWith: { ret: number; msg: string } | undefined

  constructor(
    readonly sn: string,
    config: Partial<CameraConfig> = {},
  ) {
    this.config = {
      mac: '11:22:33:44:55:66',
      upload_type: 1,
      upload_addr: '',
      hb_interval: 60,
      run_time: 1000,
      ...config,
    }
  }

  request(operate: string, extra: Message = {}, timestamp = Math.floor(Date.now() / 1000)): Message {
    return { operate, request_id: randomUUID(), timestamp, sn: this.sn, ...extra }
  }

  /** The `_rsp` to one of the gateway's requests (C.6–C.9). */
  async answer(req: Message): Promise<Message> {
    this.received.push(req)
    const base = { operate: `${String(req.operate)}_rsp`, request_id: req.request_id, sn: this.sn }
    if (this.failWith) return { ...base, ...this.failWith }
    switch (req.operate) {
      case 'get_dev_config':
        return { ...base, ret: 0, msg: '', ...this.config }
      case 'set_dev_config': {
        const hb = req.hb_interval as number
        if (!Number.isInteger(hb) || hb < 15 || hb > 360)
          return { ...base, ret: 1, msg: 'hb_interval out of range' }
        this.config = {
          ...this.config,
          upload_type: req.upload_type as number,
          upload_addr: req.upload_addr as string,
          hb_interval: hb,
        }
        return { ...base, ret: 0, msg: '' }
      }
      case 'upgrade_dev': {
        const url = String(req.package_url)
        const res = await fetch(url)
        if (res.status !== 200) return { ...base, ret: 2, msg: `download failed: HTTP ${res.status}` }
        const bytes = Buffer.from(await res.arrayBuffer())
        this.upgrades.push({
          url,
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        })
        return { ...base, ret: 0, msg: '' }
      }
      case 'control_cmd': {
        const cmd = req.cmd_data as Message
        if (cmd.type === 'take_snapshot') {
          return {
            ...base,
            ret: 0,
            msg: '',
            cmd_data: { type: 'take_snapshot', data: this.snapshotImage.toString('base64') },
          }
        }
        if (cmd.type === 'io_control') {
          if (cmd.io0 !== undefined) this.io.io0 = cmd.io0 as number
          if (cmd.io1 !== undefined) this.io.io1 = cmd.io1 as number
          return { ...base, ret: 0, msg: '', cmd_data: { type: 'io_control', data: null } }
        }
        return { ...base, ret: 3, msg: 'unknown cmd_data.type' }
      }
      default:
        return { ...base, ret: 4, msg: 'unknown operate' }
    }
  }
}

/** A camera on MQTT (upload_type 1). */
export class MqttCamera extends CameraBehaviour {
  client: MqttClient | undefined
  private readonly replies = new Map<string, (m: Message) => void>()

  /** Connects with ClientId = User Name = sn and Password = its secret, and subscribes to its down topic. */
  async connect(mqttUrl: string, secret: string): Promise<void> {
    const client = await connectRaw(mqttUrl, { clientId: this.sn, username: this.sn, password: secret })
    this.client = client
    client.on('message', (_topic, payload) => {
      const msg = JSON.parse(payload.toString()) as Message
      const op = String(msg.operate)
      if (op.endsWith('_rsp')) {
        this.replies.get(String(msg.request_id))?.(msg)
        return
      }
      void this.answer(msg).then((rsp) =>
        this.client?.publish(`cameras/${this.sn}/up`, JSON.stringify(rsp), { qos: 1 }),
      )
    })
    await client.subscribeAsync(`cameras/${this.sn}/down`, { qos: 1 })
  }

  /** Publishes a request (or any text) on its up topic and resolves with the gateway's `_rsp`. */
  send(msg: Message | string, timeoutMs = 10_000): Promise<Message> {
    const client = this.client
    if (!client) throw new Error('not connected')
    const text = typeof msg === 'string' ? msg : JSON.stringify(msg)
    const id =
      typeof msg === 'string' ? String((JSON.parse(msg) as Message).request_id) : String(msg.request_id)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${id}`)), timeoutMs)
      this.replies.set(id, (m) => {
        clearTimeout(timer)
        this.replies.delete(id)
        resolve(m)
      })
      client.publish(`cameras/${this.sn}/up`, text, { qos: 1 })
    })
  }

  heartbeat(): Promise<Message> {
    return this.send(this.request('heartbeat'))
  }

  uploadSnapshot(image: Buffer | string, timestamp?: number): Promise<Message> {
    const data = typeof image === 'string' ? image : image.toString('base64')
    return this.send(this.request('upload_snapshot', { data }, timestamp))
  }

  async close(): Promise<void> {
    const client = this.client
    if (!client) return
    // A connection the gateway closed is only released: waiting for a clean end would wait forever.
    if (!client.connected) client.end(true)
    else await client.endAsync()
  }
}

/** A camera on HTTP (upload_type 0): it POSTs to the upload address and does what the responses ask. */
export class HttpCamera extends CameraBehaviour {
  constructor(
    sn: string,
    readonly uploadUrl: string,
    private readonly secret: string | undefined,
    config: Partial<CameraConfig> = {},
  ) {
    super(sn, { upload_type: 0, upload_addr: uploadUrl, ...config })
  }

  /** POSTs one message; answers any requests the response carries (POSTing each `_rsp`). Returns the first body. */
  async post(
    msg: Message | string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Message }> {
    const auth: Record<string, string> =
      this.secret === undefined
        ? {}
        : { authorization: `Basic ${Buffer.from(`${this.sn}:${this.secret}`).toString('base64')}` }
    const res = await fetch(this.uploadUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth, ...headers },
      body: typeof msg === 'string' ? msg : JSON.stringify(msg),
    })
    const text = await res.text()
    const body = (text === '' ? {} : JSON.parse(text)) as Message
    if (Array.isArray(body.requests)) {
      for (const req of body.requests as Message[]) await this.post(await this.answer(req))
    }
    return { status: res.status, body }
  }

  heartbeat(): Promise<{ status: number; body: Message }> {
    return this.post(this.request('heartbeat'))
  }

  uploadSnapshot(image: Buffer | string, timestamp?: number): Promise<{ status: number; body: Message }> {
    const data = typeof image === 'string' ? image : image.toString('base64')
    return this.post(this.request('upload_snapshot', { data }, timestamp))
  }
}

/** Registers a camera (spec §4.2 with deviceInfo.deviceType "Camera", nodeId = its sn). */
export async function registerCamera(
  httpUrl: string,
  headers: Record<string, string>,
  sn: string,
): Promise<{ deviceId: string; secret: string; sn: string }> {
  const res = await fetch(`${httpUrl}/iocm/app/reg/v2.0.0/deviceCredentials`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ deviceInfo: { nodeId: sn, name: `camera ${sn}`, deviceType: 'Camera' } }),
  })
  if (res.status !== 200) throw new Error(`registration failed: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { deviceId: string; secret: string }
  return { ...body, sn }
}
