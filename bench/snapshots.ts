// Snapshot ingest benchmark: 20 cameras (simulated in this process) upload 100 KB JPEG snapshots to the real
// gateway (a child process started through its CLI) as upload_snapshot messages (device-mqtt.md C.5), over MQTT
// (`cameras/{sn}/up`, each reply awaited on `/down`) and over HTTP (POST to the upload endpoint). A snapshot
// counts when its `_rsp` with ret 0 arrives, which the gateway sends only once the file is fsynced and its index
// and outbox rows are committed. Baseline in the same run: this process writes the same bytes to files directly,
// with the same durability (write, fsync the file, fsync its directory) and the same concurrency. Prints MB/s
// (image bytes) and snapshots/s for each, and the ratio. Exits non-zero only when a snapshot is lost or refused.
//
//   npx tsx bench/snapshots.ts [--cameras 20] [--per-camera 50] [--size 102400] [--window 2]
//                              [--transport both|mqtt|http] [--keep]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { cpuMs, nowMs } from './lib/proc.ts'
import { type GatewayTarget, startGateway } from './lib/targets.ts'

const { values: opts } = parseArgs({
  options: {
    cameras: { type: 'string', default: '20' },
    'per-camera': { type: 'string', default: '50' },
    size: { type: 'string', default: String(100 * 1024) },
    // Snapshots in flight per camera (a camera waits for each reply before the next beyond this).
    window: { type: 'string', default: '2' },
    transport: { type: 'string', default: 'both' },
    keep: { type: 'boolean', default: false },
  },
})
const cameras = Number(opts.cameras)
const perCamera = Number(opts['per-camera'])
const size = Number(opts.size)
const window = Number(opts.window)
const transports = opts.transport === 'both' ? ['mqtt', 'http'] : [String(opts.transport)]

/** A 100 KB "JPEG" (magic bytes + filler), different for every (camera, k). */
function image(camera: number, k: number): Buffer {
  const bytes = Buffer.alloc(size, (camera * 31 + k) & 0xff)
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0)
  bytes.writeUInt32BE(camera * 1_000_000 + k, 4)
  return bytes
}

interface Result {
  name: string
  ms: number
  snapshots: number
  bytes: number
}

const line = (r: Result) =>
  `${r.name.padEnd(34)} ${(r.bytes / 1024 / 1024 / (r.ms / 1000)).toFixed(1).padStart(7)} MB/s  ${(r.snapshots / (r.ms / 1000)).toFixed(0).padStart(6)} snapshots/s  (${r.snapshots} in ${(r.ms / 1000).toFixed(2)} s)`

/** Runs `perCamera` uploads for each camera with `window` in flight per camera. */
async function drive(send: (camera: number, k: number) => Promise<void>): Promise<number> {
  const start = nowMs()
  await Promise.all(
    Array.from({ length: cameras }, async (_, c) => {
      let next = 0
      const lane = async () => {
        while (next < perCamera) await send(c, next++)
      }
      await Promise.all(Array.from({ length: window }, lane))
    }),
  )
  return nowMs() - start
}

/** Baseline: the same bytes written straight to files, fsynced with their directory, same concurrency. */
async function baseline(): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'sitegate-bench-files-'))
  try {
    for (let c = 0; c < cameras; c++) mkdirSync(join(dir, String(c)))
    const ms = await drive(async (c, k) => {
      const file = await open(join(dir, String(c), `${k}.jpg`), 'wx', 0o600)
      await file.writeFile(image(c, k))
      await file.sync()
      await file.close()
      const d = await open(join(dir, String(c)), 'r')
      await d.sync()
      await d.close()
    })
    return {
      name: 'baseline: files written directly',
      ms,
      snapshots: cameras * perCamera,
      bytes: cameras * perCamera * size,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function registerCameras(gw: GatewayTarget, prefix: string): Promise<{ sn: string; secret: string }[]> {
  const out: { sn: string; secret: string }[] = []
  for (let c = 0; c < cameras; c++) {
    const sn = `${prefix}${String(c).padStart(4, '0')}`
    const res = await fetch(`${gw.httpUrl}/iocm/app/reg/v2.0.0/deviceCredentials`, {
      method: 'POST',
      headers: gw.headers,
      body: JSON.stringify({ deviceInfo: { nodeId: sn, deviceType: 'Camera' } }),
    })
    if (res.status !== 200) throw new Error(`registration failed: ${res.status} ${await res.text()}`)
    out.push({ sn, secret: ((await res.json()) as { secret: string }).secret })
  }
  return out
}

const message = (sn: string, c: number, k: number) =>
  JSON.stringify({
    operate: 'upload_snapshot',
    request_id: `${c}-${k}`,
    timestamp: Math.floor(Date.now() / 1000),
    sn,
    data: image(c, k).toString('base64'),
  })

function check(rsp: { ret?: unknown; msg?: unknown }, what: string): void {
  if (rsp.ret !== 0) throw new Error(`${what} refused: ret ${String(rsp.ret)} ${String(rsp.msg)}`)
}

async function overMqtt(gw: GatewayTarget): Promise<Result> {
  const cams = await registerCameras(gw, '3100')
  const clients: MqttClient[] = []
  const waiting = new Map<string, () => void>()
  for (const cam of cams) {
    const client = await mqtt.connectAsync(gw.mqttUrl, {
      clientId: cam.sn,
      username: cam.sn,
      password: cam.secret,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    client.on('message', (_t, payload) => {
      const rsp = JSON.parse(payload.toString()) as { request_id: string; ret: number; msg: string }
      check(rsp, `snapshot ${rsp.request_id}`)
      waiting.get(rsp.request_id)?.()
    })
    await client.subscribeAsync(`cameras/${cam.sn}/down`, { qos: 1 })
    clients.push(client)
  }
  try {
    const ms = await drive(
      (c, k) =>
        new Promise<void>((resolve, reject) => {
          const cam = cams[c] as { sn: string }
          waiting.set(`${c}-${k}`, resolve)
          ;(clients[c] as MqttClient).publish(
            `cameras/${cam.sn}/up`,
            message(cam.sn, c, k),
            { qos: 1 },
            (err) => {
              if (err) reject(err)
            },
          )
        }),
    )
    return {
      name: 'sitegate, cameras over MQTT',
      ms,
      snapshots: cameras * perCamera,
      bytes: cameras * perCamera * size,
    }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()))
  }
}

async function overHttp(gw: GatewayTarget): Promise<Result> {
  const cams = await registerCameras(gw, '3200')
  const url = `${gw.httpUrl}/cameras/v1/upload`
  const ms = await drive(async (c, k) => {
    const cam = cams[c] as { sn: string; secret: string }
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${cam.sn}:${cam.secret}`).toString('base64')}`,
      },
      body: message(cam.sn, c, k),
    })
    check((await res.json()) as { ret?: unknown }, `snapshot ${c}-${k}`)
  })
  return {
    name: 'sitegate, cameras over HTTP',
    ms,
    snapshots: cameras * perCamera,
    bytes: cameras * perCamera * size,
  }
}

async function main(): Promise<void> {
  console.log(
    `${cameras} cameras × ${perCamera} snapshots of ${(size / 1024).toFixed(0)} KB, ${window} in flight per camera`,
  )
  const base = await baseline()
  console.log(line(base))
  const dir = mkdtempSync(join(tmpdir(), 'sitegate-bench-conf-'))
  const config = join(dir, 'bench.yaml')
  writeFileSync(config, 'http:\n  throttle:\n    maxCalls: 0\n    windowSeconds: 60\n')
  const gw = await startGateway(0, { config })
  try {
    for (const transport of transports) {
      const cpuBefore = cpuMs(gw.child.pid)
      const r = transport === 'http' ? await overHttp(gw) : await overMqtt(gw)
      const cpu = cpuMs(gw.child.pid) - cpuBefore
      console.log(
        `${line(r)}  ratio ${(base.ms / r.ms).toFixed(2)}  gateway CPU ${(cpu / r.snapshots).toFixed(2)} ms/snapshot`,
      )
    }
    const usage = await fetch(`${gw.httpUrl}/sitegate/v1/cameras/firmware`, { headers: gw.headers })
    if (usage.status !== 200) throw new Error('gateway API not answering after the run')
  } finally {
    await gw.stop()
    if (!opts.keep) gw.removeDirs()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
