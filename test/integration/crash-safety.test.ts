// Crash safety (issue 10 item 2): 20 rounds of SIGKILL at a random moment — 10 while devices publish at QoS 1,
// 10 while the upstream drain sends a backlog to a real mosquitto — each followed by a restart of the real CLI
// over the same data dir. After every kill: each PUBACKed message is in the history exactly once and
// `PRAGMA integrity_check` is ok. At the end: every record ever stored reaches the cloud (by idempotency key),
// so no outbox row was lost. The kill moments come from a seeded PRNG (CRASH_SEED=N replays them).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import type { MqttClient } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { TelemetryRepo } from '../../src/store/repos/telemetry.ts'
import { Rng, randomSeed } from '../fuzz/prng.ts'
import { type CloudSimulator, simulateCloud } from '../helpers/cloud-simulator.ts'
import {
  connectDevice,
  firstApp,
  login,
  registerDevice,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.ts'
import { dataTopic, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'

const ROUNDS = 20
const DEVICES = 4
const WINDOW = 20
const seed = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : randomSeed()

type Device = { deviceId: string; secret: string }

describe.runIf(requireProgram('mosquitto'))(`SIGKILL during ingest and drain (seed ${seed})`, () => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
  })

  it('loses no acknowledged message and no outbox row over 20 kills', async () => {
    const rng = new Rng(seed)
    const broker: Mosquitto = await startMosquitto()
    cleanups.push(() => broker.dispose())
    const cloud: CloudSimulator = await simulateCloud(broker.url)
    cleanups.push(() => cloud.close())
    const dir = tempDir('sitegate-crash-')
    cleanups.push(() => removeDir(dir))
    const config = join(dir, 'sitegate.yaml')
    // Small messages, one in flight: the drain of a few thousand rows takes long enough to be cut.
    writeFileSync(
      config,
      `http:\n  throttle:\n    maxCalls: 0\n    windowSeconds: 60\nupstream:\n  url: ${broker.url}\n` +
        '  deviceId: gw-crash\n  secret: s3cret-crash\n  maxMessageBytes: 1024\n  inflightMessages: 1\n' +
        '  initialBackoffMs: 50\n  maxBackoffMs: 200\n',
    )
    let current: SpawnedGateway | undefined
    cleanups.push(() => {
      current?.child.kill('SIGKILL')
    })
    const start = async () => {
      current = await spawnGateway([
        ...['--config', config, '--data-dir', dir, '--host', '127.0.0.1'],
        ...['--mqtt-port', '0', '--http-port', '0'],
      ])
      return current
    }
    const kill = async (g: SpawnedGateway) => {
      g.child.kill('SIGKILL')
      expect(await g.exited).toEqual({ code: null, signal: 'SIGKILL' })
    }

    let g = await start()
    const httpUrl = () => `http://127.0.0.1:${g.httpPort}`
    const session = await login(httpUrl(), firstApp(dir))
    const devices: Device[] = []
    for (let i = 0; i < DEVICES; i++) devices.push(await registerDevice(httpUrl(), session, `crash-${i}`))
    const acked = new Set<string>()

    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0) g = await start()
      const duringDrain = round % 2 === 1
      const ackedBefore = acked.size
      if (duringDrain) await broker.stop()
      const clients = await Promise.all(
        devices.map((d) =>
          connectDevice(`mqtt://127.0.0.1:${g.mqttPort}`, { id: d.deviceId, secret: d.secret }),
        ),
      )
      const killed = { yes: false }
      const streams = clients.map((client, i) =>
        stream(client, devices[i]!, `r${round}d${i}m`, duringDrain ? 400 : 100_000, acked, killed),
      )
      if (duringDrain) {
        // The cloud broker is down while the devices publish, so a backlog builds; it comes back, and the
        // gateway is killed while that backlog goes up.
        await Promise.all(streams)
        const atCloud = cloud.unique('telemetry').length
        await broker.start()
        await waitFor(
          () => cloud.unique('telemetry').length > atCloud,
          'part of the backlog at the cloud',
          20_000,
        )
        await new Promise((r) => setTimeout(r, rng.int(0, 100)))
      } else {
        // Killed at a random moment while every device still publishes, PUBACKs on the wire.
        await waitFor(() => acked.size > ackedBefore, 'a first PUBACK')
        await new Promise((r) => setTimeout(r, rng.int(20, 500)))
      }
      killed.yes = true
      await kill(g)
      for (const c of clients) c.end(true)
      await Promise.all(streams)

      const db = new BetterSqlite3(join(dir, 'sitegate.db'), { readonly: true, fileMustExist: true })
      try {
        expect(db.pragma('integrity_check', { simple: true }), `round ${round}`).toBe('ok')
        const stored = storedIds(db, devices)
        for (const id of acked) expect(stored.get(id), `round ${round}: history of ${id}`).toBe(1)
      } finally {
        db.close()
      }
    }

    // Everything ever stored goes up once the gateway runs again: no outbox row was lost to a kill.
    await broker.start()
    g = await start()
    const db = new BetterSqlite3(join(dir, 'sitegate.db'), { readonly: true, fileMustExist: true })
    const stored = [...storedIds(db, devices).keys()]
    db.close()
    expect(stored.length).toBeGreaterThanOrEqual(acked.size)
    const atCloud = await waitFor(
      () => {
        const ids = new Set(cloud.unique('telemetry').map((r) => String(r.serviceData.id)))
        return stored.every((id) => ids.has(id)) ? ids : undefined
      },
      `all ${stored.length} stored records at the cloud`,
      60_000,
    )
    for (const id of acked) expect(atCloud.has(id), id).toBe(true)
    console.log(
      `crash safety (seed ${seed}): ${ROUNDS} kills, ${acked.size} acknowledged messages, ${stored.length} stored, ` +
        `${cloud.records.filter((r) => r.kind === 'telemetry').length} telemetry records received by the cloud ` +
        `(${atCloud.size} distinct)`,
    )
    g.child.kill('SIGTERM')
    expect(await g.exited).toEqual({ code: 0, signal: null })
  }, 300_000)
})

/**
 * Publishes QoS 1 messages with unique ids, WINDOW unacknowledged at most, until `total` are sent or the
 * gateway is killed; records every PUBACKed id in `acked`.
 */
function stream(
  client: MqttClient,
  device: Device,
  prefix: string,
  total: number,
  acked: Set<string>,
  killed: { yes: boolean },
): Promise<void> {
  client.on('error', () => {})
  let sent = 0
  let open = 0
  return new Promise((resolve) => {
    const next = () => {
      while (!killed.yes && client.connected && sent < total && open < WINDOW) {
        const id = `${prefix}${sent++}`
        open += 1
        const payload = JSON.stringify({
          msgType: 'deviceReq',
          data: [{ serviceId: 'Load', serviceData: { id } }],
        })
        client.publish(dataTopic(device.deviceId), payload, { qos: 1 }, (err) => {
          open -= 1
          if (!err) acked.add(id)
          next()
        })
      }
      if (open === 0 || !client.connected) resolve()
    }
    client.once('close', () => resolve())
    next()
  })
}

/** How many times each message id is in the history. */
function storedIds(db: BetterSqlite3.Database, devices: Device[]): Map<string, number> {
  const repo = new TelemetryRepo(db)
  const counts = new Map<string, number>()
  for (const d of devices) {
    for (const r of repo.forDevice(d.deviceId, Number.MAX_SAFE_INTEGER)) {
      const id = String((r.data as { id: unknown }).id)
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
  }
  return counts
}
