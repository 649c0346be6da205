// Upstream sync under faults (issue 5): the gateway SIGKILLed mid-drain, the outbox over its quota while the
// cloud is away, a cloud broker that takes messages but never acknowledges them (watchdog).
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { SyncStatus } from '../../src/sync/service.ts'
import { simulateCloud } from '../helpers/cloud-simulator.ts'
import {
  callApi,
  firstApp,
  login,
  registerDevice,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { freePort, startMosquitto } from '../helpers/mosquitto.ts'
import { dataTopic, deviceOptions, openDevice, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { simulateDevice } from '../helpers/simulator.ts'
import { upstreamConfig } from '../helpers/upstream.ts'

const reading = (seq: number, pad = '') =>
  JSON.stringify({ msgType: 'deviceReq', data: [{ serviceId: 'Meter', serviceData: { seq, pad } }] })

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe.runIf(requireProgram('mosquitto'))('the gateway killed mid-drain', () => {
  const children: SpawnedGateway[] = []
  afterAll(() => {
    for (const c of children) c.child.kill('SIGKILL')
  })

  async function startCli(dir: string, config: string) {
    const g = await spawnGateway([
      '--config',
      config,
      '--data-dir',
      dir,
      '--host',
      '127.0.0.1',
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
    ])
    children.push(g)
    return g
  }

  it('resends what was not acknowledged and loses nothing', async () => {
    const broker = await startMosquitto()
    cleanups.push(() => broker.dispose())
    const cloud = await simulateCloud(broker.url)
    cleanups.push(() => cloud.close())
    const dir = tempDir('sitegate-sync-kill-')
    cleanups.push(() => removeDir(dir))
    const config = join(dir, 'sitegate.yaml')
    // The link starts refused (wrong port) so that a backlog builds; the second start points at mosquitto.
    const yaml = (port: number) =>
      `http:\n  throttle:\n    maxCalls: 0\n    windowSeconds: 60\nupstream:\n  url: mqtt://127.0.0.1:${port}\n` +
      `  deviceId: gw-kill\n  secret: s3cret-kill\n  maxMessageBytes: 1024\n  inflightMessages: 1\n` +
      `  initialBackoffMs: 50\n  maxBackoffMs: 200\n`
    writeFileSync(config, yaml(await freePort()))
    let g = await startCli(dir, config)
    const httpUrl = `http://127.0.0.1:${g.httpPort}`
    const session = await login(httpUrl, firstApp(dir))
    const d = await registerDevice(httpUrl, session, 'kill-node')
    const { client } = await openDevice(
      `mqtt://127.0.0.1:${g.mqttPort}`,
      deviceOptions({ id: d.deviceId, secret: d.secret }),
    )
    const total = 8000
    await Promise.all(
      Array.from({ length: total }, (_, i) => publishAcked(client, dataTopic(d.deviceId), reading(i))),
    )
    client.end(true)
    g.child.kill('SIGTERM')
    await g.exited

    writeFileSync(config, yaml(broker.port))
    for (let round = 0; round < 3; round++) {
      g = await startCli(dir, config)
      const before = cloud.unique('telemetry').length
      // Killed as soon as some of the backlog went up: the drain is cut with messages in flight.
      await waitFor(
        () => cloud.unique('telemetry').length > before,
        'part of the backlog at the cloud',
        20_000,
      )
      g.child.kill('SIGKILL')
      await g.exited
    }
    g = await startCli(dir, config)
    const records = await cloud.waitForUnique(total, 'telemetry', 60_000)
    expect(records.map((r) => r.serviceData.seq)).toEqual(Array.from({ length: total }, (_, i) => i))
    const s = await waitFor(async () => {
      const st = (
        await callApi<SyncStatus>(
          `http://127.0.0.1:${g.httpPort}`,
          await login(`http://127.0.0.1:${g.httpPort}`, firstApp(dir)),
          'GET',
          '/sitegate/v1/sync',
        )
      ).body
      return st.backlog.records === 0 ? st : undefined
    }, 'an empty outbox')
    expect(s.lanes.telemetry?.dropped.records).toBe(0)
    g.child.kill('SIGTERM')
    await g.exited
  }, 120_000)
})

describe('outbox quotas while the cloud is away', () => {
  it('drops the oldest telemetry only, counts every drop, and keeps command results', async () => {
    const port = await freePort()
    const gw = await startGateway({
      config: (c) => {
        upstreamConfig(`mqtt://127.0.0.1:${port}`)(c)
        c.upstream.quota = { ...c.upstream.quota, maxBytes: 20_000, checkIntervalMs: 100 }
        c.commands.responseTimeoutMs = 200
      },
    })
    cleanups.push(async () => {
      await gw.stop()
      removeDir(gw.dataDir)
    })
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const status = async () =>
      (await callApi<SyncStatus>(gw.httpUrl, session, 'GET', '/sitegate/v1/sync')).body
    const d = await registerDevice(gw.httpUrl, session, 'quota-node')
    // Commands that end (TIMEOUT: the device never answers) put command results in the outbox.
    const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret }, () => 'silent')
    cleanups.push(() => sim.close())
    for (let i = 0; i < 3; i++) {
      await callApi(gw.httpUrl, session, 'POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
        deviceId: d.deviceId,
        command: { serviceId: 'S', method: 'M', paras: { i } },
        expireTime: 0,
      })
    }
    await waitFor(async () => (await status()).lanes.commandResult?.records === 3, 'three command results')
    const pad = 'x'.repeat(400)
    for (let i = 0; i < 200; i++) await publishAcked(sim.client, dataTopic(d.deviceId), reading(i, pad))
    const s = await waitFor(async () => {
      const st = await status()
      return st.backlog.bytes <= 20_000 && (st.lanes.telemetry?.dropped.records ?? 0) > 0 ? st : undefined
    }, 'the outbox back under its quota')
    expect(s.lanes.commandResult?.records).toBe(3)
    expect(s.lanes.commandResult?.dropped.records).toBe(0)
    expect(s.lanes.shadow?.records).toBe(1)
    const tele = s.lanes.telemetry
    // What is left plus what was dropped is everything that was written.
    expect((tele?.records ?? 0) + (tele?.dropped.records ?? 0)).toBe(200)
    expect(tele?.dropped.lastAt).toMatch(/^\d{8}T\d{6}Z$/)
    // The oldest went: what remains are the newest readings.
    const left = gw.gateway.store.outbox.head(3, 1000).map((r) => r.seq)
    expect(left).toEqual([...left].sort((a, b) => a - b))
    const newest = JSON.parse(
      gw.gateway.store.telemetry.chunk(
        JSON.parse(gw.gateway.store.outbox.head(3, 1000).at(-1)?.payload ?? '{}').chunkId,
      )?.body ?? '[]',
    ) as { data: { serviceData: { seq: number } }[] }[]
    expect(newest[0]?.data[0]?.serviceData.seq).toBe(199)
  })
})

describe('a cloud broker that stops acknowledging', () => {
  it('is noticed by the watchdog, which makes a new connection', async () => {
    // A real aedes that accepts connections and publishes but never authorizes (so never PUBACKs) them.
    const broker = await Aedes.createBroker({ authorizePublish: () => {} })
    const server: Server = createServer(broker.handle)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    let connects = 0
    broker.on('client', () => {
      connects += 1
    })
    cleanups.push(async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    })
    const gw = await startGateway({
      config: upstreamConfig(`mqtt://127.0.0.1:${port}`, { ackTimeoutMs: 1000 }),
    })
    cleanups.push(async () => {
      await gw.stop()
      removeDir(gw.dataDir)
    })
    const session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const d = await registerDevice(gw.httpUrl, session, 'watchdog-node')
    const { client } = await openDevice(gw.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
    cleanups.push(() => {
      client.end(true)
    })
    await publishAcked(client, dataTopic(d.deviceId), reading(1))
    await waitFor(() => connects >= 2, 'a second connection after the watchdog fired', 15_000)
    const s = (await callApi<SyncStatus>(gw.httpUrl, session, 'GET', '/sitegate/v1/sync')).body
    // Nothing was acknowledged, so nothing left the outbox.
    expect(s.lanes.telemetry?.records).toBe(1)
    expect(s.reconnects).toBeGreaterThanOrEqual(1)
    expect(s.lastError).toMatch(/no PUBACK/)
  })
})
