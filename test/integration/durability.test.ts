// What survives a restart and a crash: the real CLI in a child process (SIGTERM, SIGKILL) and in-process
// gateways restarted over the same data directory (MQTT persistent sessions and retained messages).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import type { MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { TelemetryRepo } from '../../src/store/repos/telemetry.ts'
import {
  type AppSession,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import {
  closed,
  commandTopic,
  dataTopic,
  deviceOptions,
  deviceStatus,
  getShadow,
  openDevice,
  publishAcked,
  subscribeGranted,
  waitFor,
} from '../helpers/mqtt.ts'

type Registered = Awaited<ReturnType<typeof registerDevice>>

const children: SpawnedGateway[] = []
const gateways: RunningGateway[] = []
const clients: MqttClient[] = []
const dirs: string[] = []

afterEach(async () => {
  try {
    for (const c of clients.splice(0)) c.end(true)
    for (const g of children.splice(0)) {
      if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL')
      await g.exited
    }
    for (const g of gateways.splice(0)) await g.stop()
  } finally {
    for (const d of dirs.splice(0)) removeDir(d)
  }
})

const newDir = () => {
  const dir = tempDir('sitegate-durability-')
  dirs.push(dir)
  return dir
}

/** `sitegate start` over `dir` on free loopback ports, as a user runs it. */
async function spawnOn(dir: string): Promise<SpawnedGateway & { httpUrl: string; mqttUrl: string }> {
  const g = await spawnGateway([
    '--data-dir',
    dir,
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--host',
    '127.0.0.1',
  ])
  children.push(g)
  return { ...g, httpUrl: `http://127.0.0.1:${g.httpPort}`, mqttUrl: `mqtt://127.0.0.1:${g.mqttPort}` }
}

/** SIGTERM, then the exit code and signal (failing if the process is still running after 5 s). */
async function terminate(g: SpawnedGateway): Promise<{ code: number | null; signal: string | null }> {
  g.child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const tooSlow = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running 5 s after SIGTERM:\n${g.output()}`)), 5000)
  })
  try {
    return await Promise.race([g.exited, tooSlow])
  } finally {
    clearTimeout(timer)
  }
}

async function startOn(dataDir: string): Promise<RunningGateway> {
  const gw = await startGateway({ dataDir })
  gateways.push(gw)
  return gw
}

async function stopInProcess(gw: RunningGateway): Promise<void> {
  gateways.splice(gateways.indexOf(gw), 1)
  await gw.stop()
}

async function connect(mqttUrl: string, options: Parameters<typeof openDevice>[1]) {
  const device = await openDevice(mqttUrl, options)
  clients.push(device.client)
  return device
}

/** Reads what a crashed or stopped gateway left in its SQLite file, without opening it for writing. */
function readDatabase(dataDir: string, deviceId: string) {
  const db = new BetterSqlite3(join(dataDir, 'sitegate.db'), { readonly: true, fileMustExist: true })
  try {
    // Oldest first.
    const history = new TelemetryRepo(db).forDevice(deviceId, Number.MAX_SAFE_INTEGER).reverse()
    const shadows = db
      .prepare('SELECT service_id, reported_json FROM shadows WHERE device_id = ? ORDER BY service_id')
      .all(deviceId) as { service_id: string; reported_json: string }[]
    return {
      history: history.map((r) => ({ serviceId: r.serviceId, data: r.data })),
      shadow: Object.fromEntries(shadows.map((s) => [s.service_id, JSON.parse(s.reported_json) as unknown])),
    }
  } finally {
    db.close()
  }
}

const cloudReq = (cmd: string) =>
  JSON.stringify({ msgType: 'cloudReq', serviceId: 'Light', cmd, paras: { level: 4 }, mid: 1 })

describe('a graceful restart of the real CLI keeps everything', () => {
  it('SIGTERM exits 0 with "stopped"; after a restart the app logs in, the device connects, data is intact', async () => {
    const dir = newDir()
    const first = await spawnOn(dir)
    const app = firstApp(dir)
    const credentialsFile = readFileSync(join(dir, 'first-app.json'), 'utf8')
    let session: AppSession = await login(first.httpUrl, app)
    const d = await registerDevice(first.httpUrl, session, 'durable_site_meter')
    const login1 = deviceOptions({ id: d.deviceId, secret: d.secret })
    const before = await connect(first.mqttUrl, login1)
    await publishAcked(
      before.client,
      dataTopic(d.deviceId),
      deviceReq([
        { serviceId: 'Power', serviceData: { kw: 12.5, phase: 'L1' }, eventTime: '20260102T030405Z' },
      ]),
    )

    expect(await terminate(first)).toEqual({ code: 0, signal: null })
    await waitFor(() => first.output().includes('"msg":"stopped"'), 'the "stopped" log line')
    await closed(before.client)

    const second = await spawnOn(dir)
    // The first start's credentials still work, and a restart does not hand out new ones.
    session = await login(second.httpUrl, app)
    expect(readFileSync(join(dir, 'first-app.json'), 'utf8')).toBe(credentialsFile)
    expect(await deviceStatus(second.httpUrl, session, d.deviceId)).toBe('OFFLINE')

    const after = await connect(second.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
    await waitFor(
      async () => (await deviceStatus(second.httpUrl, session, d.deviceId)) === 'ONLINE',
      'ONLINE',
    )
    expect(await getShadow(second.httpUrl, session, d.deviceId)).toEqual([
      expect.objectContaining({
        serviceId: 'Power',
        reportedProps: { kw: 12.5, phase: 'L1' },
        eventTime: '20260102T030405Z',
      }),
    ])
    // The device keeps reporting into the same shadow and history.
    await publishAcked(
      after.client,
      dataTopic(d.deviceId),
      deviceReq([{ serviceId: 'Power', serviceData: { kw: 13 } }]),
    )
    const stored = readDatabase(dir, d.deviceId)
    expect(stored.history).toEqual([
      { serviceId: 'Power', data: { kw: 12.5, phase: 'L1' } },
      { serviceId: 'Power', data: { kw: 13 } },
    ])
    expect(stored.shadow).toEqual({ Power: { kw: 13, phase: 'L1' } })
    expect(await terminate(second)).toEqual({ code: 0, signal: null })
  }, 60_000)
})

describe('MQTT session state survives a restart (in-process gateway over the same data dir)', () => {
  async function setUp(): Promise<{ gw: RunningGateway; d: Registered }> {
    const gw = await startOn(newDir())
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    return { gw, d: await registerDevice(gw.httpUrl, session, `session-dev-${Math.random()}`) }
  }

  it('a QoS 1 command queued for an offline persistent session is delivered after the restart, once', async () => {
    const { gw, d } = await setUp()
    // signType 0 with a fixed hour: the ClientId is the same on every connect, so the session can resume.
    const options = deviceOptions(
      { id: d.deviceId, secret: d.secret, signType: 0, now: Date.UTC(2025, 5, 1, 8) },
      { clean: false },
    )
    const first = await connect(gw.mqttUrl, options)
    expect(await subscribeGranted(first.client, commandTopic(d.deviceId), 1)).toEqual([1])
    await first.client.endAsync()
    await waitFor(() => gw.gateway.broker.connectedClients === 0, 'the device to be offline')
    await gw.gateway.broker.publish(commandTopic(d.deviceId), cloudReq('QUEUED'), 1)
    await stopInProcess(gw)

    const gw2 = await startOn(gw.dataDir)
    const back = await connect(gw2.mqttUrl, options)
    expect(back.sessionPresent).toBe(true)
    expect(await back.received(1)).toEqual([
      { topic: commandTopic(d.deviceId), payload: cloudReq('QUEUED'), qos: 1, retain: false },
    ])
    // The subscription itself was restored too: a live command arrives without subscribing again.
    await gw2.gateway.broker.publish(commandTopic(d.deviceId), cloudReq('LIVE'), 1)
    await back.received(2)
    await back.client.endAsync()

    // Acknowledged messages are not delivered again on the next resume.
    const again = await connect(gw2.mqttUrl, options)
    await gw2.gateway.broker.publish(commandTopic(d.deviceId), cloudReq('MARKER'), 1)
    await again.received(1)
    expect(again.inbox.map((m) => m.payload)).toEqual([cloudReq('MARKER')])
  })

  it('a retained command survives the restart and reaches a device subscribing afterwards', async () => {
    const { gw, d } = await setUp()
    await gw.gateway.broker.publish(commandTopic(d.deviceId), cloudReq('RETAINED'), 1, true)
    await stopInProcess(gw)

    const gw2 = await startOn(gw.dataDir)
    const device = await connect(gw2.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
    expect(await subscribeGranted(device.client, commandTopic(d.deviceId), 1)).toEqual([1])
    expect(await device.received(1)).toEqual([
      { topic: commandTopic(d.deviceId), payload: cloudReq('RETAINED'), qos: 1, retain: true },
    ])
  })
})

describe('SIGKILL right after PUBACK loses nothing that was acknowledged', () => {
  /**
   * Streams up to `burst` QoS 1 messages with `window` of them in flight at a time, and SIGKILLs the gateway
   * the moment the `killAfter`-th PUBACK arrives, so the kill lands while later messages are still in flight.
   * Returns the ids of every message that was acknowledged (PUBACKs already on the wire count too).
   */
  async function streamThenKill(
    g: SpawnedGateway & { mqttUrl: string },
    d: Registered,
    round: number,
    plan: { burst: number; window: number; killAfter: number },
  ): Promise<string[]> {
    const { client } = await connect(g.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
    const acked: string[] = []
    let sent = 0
    const sendNext = () => {
      if (sent >= plan.burst || g.child.signalCode !== null || g.child.killed) return
      const id = `r${round}m${sent++}`
      const payload = deviceReq([{ serviceId: 'Crane', serviceData: { id, [id]: true } }])
      client.publishAsync(dataTopic(d.deviceId), payload, { qos: 1 }).then(
        () => {
          acked.push(id)
          if (acked.length === plan.killAfter) g.child.kill('SIGKILL')
          sendNext()
        },
        () => {},
      )
    }
    for (let i = 0; i < plan.window; i++) sendNext()
    expect(await g.exited).toEqual({ code: null, signal: 'SIGKILL' })
    await closed(client)
    client.end(true)
    return acked
  }

  it('5 rounds of streamed QoS 1 messages, killed mid-stream: every acknowledged message is stored', async () => {
    const dir = newDir()
    const rounds = [
      { burst: 1, window: 1, killAfter: 1 },
      { burst: 50, window: 5, killAfter: 25 },
      { burst: 100, window: 10, killAfter: 50 },
      { burst: 200, window: 20, killAfter: 100 },
      { burst: 300, window: 50, killAfter: 150 },
    ]
    let d: Registered | undefined
    const acked: string[] = []
    for (const [round, plan] of rounds.entries()) {
      const g = await spawnOn(dir)
      d ??= await registerDevice(g.httpUrl, await login(g.httpUrl, firstApp(dir)), 'crane_load_cell')
      const ids = await streamThenKill(g, d, round, plan)
      expect(ids.length).toBeGreaterThanOrEqual(plan.killAfter)
      acked.push(...ids)

      const stored = readDatabase(dir, d.deviceId)
      const historyIds = stored.history.map((h) => (h.data as { id: string }).id)
      const reported = (stored.shadow.Crane ?? {}) as Record<string, unknown>
      for (const id of acked) {
        expect(
          historyIds.filter((h) => h === id),
          `history of ${id}`,
        ).toHaveLength(1)
        expect(reported[id], `shadow of ${id}`).toBe(true)
      }
    }

    // A normal start over the crashed data dir serves the same data, and the device is no longer ONLINE.
    const g = await spawnOn(dir)
    const session = await login(g.httpUrl, firstApp(dir))
    expect(await deviceStatus(g.httpUrl, session, d!.deviceId)).toBe('OFFLINE')
    const [crane] = await getShadow(g.httpUrl, session, d!.deviceId)
    for (const id of acked) expect(crane?.reportedProps[id], id).toBe(true)
    expect(await terminate(g)).toEqual({ code: 0, signal: null })
  }, 120_000)
})
