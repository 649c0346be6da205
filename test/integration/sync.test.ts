// Upstream sync against a real mosquitto as the cloud broker (issue 5): store-and-forward while the cloud is
// away, PUBACK before delete across broker restarts, lane order, compression, cloud commands and desired
// state down to local devices, bad cloud requests, status.
import type { Worker } from 'node:worker_threads'
import type { MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SyncStatus } from '../../src/sync/service.ts'
import { type CloudSimulator, simulateCloud } from '../helpers/cloud-simulator.ts'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.ts'
import { dataTopic, deviceOptions, openDevice, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { simulateDevice } from '../helpers/simulator.ts'
import { GW_ID, upstreamConfig } from '../helpers/upstream.ts'

const reading = (seq: number) =>
  JSON.stringify({ msgType: 'deviceReq', data: [{ serviceId: 'Meter', serviceData: { seq } }] })

describe.runIf(requireProgram('mosquitto'))('upstream sync to mosquitto', () => {
  let broker: Mosquitto
  let gw: RunningGateway
  let cloud: CloudSimulator | undefined
  let session: AppSession
  const clients: MqttClient[] = []

  beforeAll(async () => {
    // The cloud's persistent session exists before the gateway ever connects (as on the real platform, which
    // is always subscribed): mosquitto keeps it across its restarts, so nothing it acknowledged is dropped.
    broker = await startMosquitto()
    cloud = await simulateCloud(broker.url)
    await broker.stop()
    // Small messages, few in flight: a drain of a few thousand records lasts long enough to be cut.
    gw = await startGateway({
      config: upstreamConfig(broker.url, { maxMessageBytes: 1024, inflightMessages: 1 }),
    })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
  })
  afterAll(async () => {
    await cloud?.close()
    await gw.stop()
    await broker.dispose()
    removeDir(gw.dataDir)
  })

  const status = async () => (await callApi<SyncStatus>(gw.httpUrl, session, 'GET', '/sitegate/v1/sync')).body
  /** A cloudReq (A.5, with the local deviceId) from the cloud to the gateway's command topic. */
  const cloudReq = (req: Record<string, unknown>) =>
    (cloud as CloudSimulator).send(
      `/huawei/v1/devices/${GW_ID}/command/json`,
      JSON.stringify({ msgType: 'cloudReq', ...req }),
    )
  const device = async (nodeId: string) => {
    const d = await registerDevice(gw.httpUrl, session, nodeId)
    const { client } = await openDevice(gw.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
    clients.push(client)
    return { ...d, client }
  }

  it('keeps everything while the cloud is away, then delivers every record, in order per device', async () => {
    const a = await device('sync-a')
    const b = await device('sync-b')
    for (let i = 0; i < 40; i++) {
      await publishAcked(a.client, dataTopic(a.deviceId), reading(i))
      await publishAcked(b.client, dataTopic(b.deviceId), reading(i))
    }
    const offline = await status()
    expect(offline.enabled).toBe(true)
    expect(offline.connected).toBe(false)
    expect(offline.lanes.telemetry?.records).toBeGreaterThan(0)
    expect(offline.lastError).toMatch(/ECONNREFUSED|closed/)

    await broker.start()
    const telemetry = await (cloud as CloudSimulator).waitForUnique(80, 'telemetry')
    for (const d of [a, b]) {
      const seqs = telemetry.filter((r) => r.deviceId === d.deviceId).map((r) => r.serviceData.seq)
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i))
    }
    // The shadow update of each device was compacted to its latest state.
    const shadows = (cloud as CloudSimulator).unique('shadow').filter((r) => r.deviceId === a.deviceId)
    expect(shadows.at(-1)?.serviceData).toMatchObject({ reported: { seq: 39 } })
    const drained = await waitFor(async () => {
      const s = await status()
      return s.connected && s.backlog.records === 0 ? s : undefined
    }, 'an empty outbox')
    expect(drained.sent.records).toBeGreaterThanOrEqual(80)
    // Deflated on the binary topic: fewer bytes on the wire than the JSON they carry.
    expect(
      (cloud as CloudSimulator).messages.some((m) => m.topic === `/huawei/v1/devices/${GW_ID}/data/binary`),
    ).toBe(true)
    expect(drained.sent.wireBytes).toBeLessThan(drained.sent.rawBytes)
  })

  it('loses nothing when the cloud broker restarts again and again during a drain', async () => {
    const c = await device('sync-c')
    await broker.stop()
    const total = 10_000
    await Promise.all(
      Array.from({ length: total }, (_, i) => publishAcked(c.client, dataTopic(c.deviceId), reading(i))),
    )
    const cloudSim = cloud as CloudSimulator
    const arrived = () => cloudSim.unique('telemetry').filter((r) => r.deviceId === c.deviceId).length
    await broker.start()
    // Restart the broker each time another slice of the backlog has arrived: every restart cuts a drain.
    let cuts = 0
    for (let mark = 500; mark < total; mark += 1500) {
      await waitFor(() => arrived() >= mark, `${mark} records at the cloud`, 30_000)
      if (arrived() >= total) break
      await broker.stop()
      cuts += 1
      await broker.start()
    }
    expect(cuts).toBeGreaterThanOrEqual(3)
    const records = await cloudSim.waitForUnique(80 + total, 'telemetry', 60_000)
    const seqs = records.filter((r) => r.deviceId === c.deviceId).map((r) => r.serviceData.seq)
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i))
    // Resent records carry the keys they had the first time: duplicates are recognisable.
    const keysBySeq = new Map<unknown, Set<string>>()
    for (const r of cloudSim.records) {
      if (r.deviceId !== c.deviceId || r.kind !== 'telemetry') continue
      keysBySeq.set(r.serviceData.seq, (keysBySeq.get(r.serviceData.seq) ?? new Set()).add(r.idemKey))
    }
    expect([...keysBySeq.values()].every((keys) => keys.size === 1)).toBe(true)
    expect((await status()).reconnects).toBeGreaterThanOrEqual(3)
  })

  it('carries a cloud command to the local device and its result back with the cloud mid', async () => {
    const d = await registerDevice(gw.httpUrl, session, 'sync-cmd')
    const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    try {
      const c = cloud as CloudSimulator
      await cloudReq({ deviceId: d.deviceId, serviceId: 'Switch', cmd: 'ON', paras: { level: 3 }, mid: 4711 })
      const [req] = await sim.waitForCommands(1)
      expect(req).toMatchObject({ serviceId: 'Switch', cmd: 'ON', paras: { level: 3 } })
      const reply = await c.waitForReply((r) => r.body.mid === 4711)
      expect(reply.topic).toBe(`/huawei/v1/devices/${GW_ID}/data/json`)
      expect(reply.body).toMatchObject({
        msgType: 'deviceRsp',
        errcode: 0,
        body: { deviceId: d.deviceId, status: 'SUCCESSFUL' },
      })
      // The same request delivered again (a lost PUBACK) is not carried out twice.
      await cloudReq({ deviceId: d.deviceId, serviceId: 'Switch', cmd: 'ON', paras: { level: 3 }, mid: 4711 })
      await cloudReq({ deviceId: d.deviceId, serviceId: 'Switch', cmd: 'OFF', paras: {}, mid: 4712 })
      await c.waitForReply((r) => r.body.mid === 4712)
      expect(sim.received.map((r) => r.cmd)).toEqual(['ON', 'OFF'])
    } finally {
      await sim.close()
    }
  })

  it('puts a cloud desired change in the local shadow and delivers it to the device', async () => {
    const d = await registerDevice(gw.httpUrl, session, 'sync-desired')
    const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    try {
      const c = cloud as CloudSimulator
      await cloudReq({
        deviceId: d.deviceId,
        serviceId: 'Fan',
        cmd: 'SET_DESIRED',
        paras: { speed: 2 },
        mid: 900,
      })
      const reply = await c.waitForReply((r) => r.body.mid === 900)
      expect(reply.body).toMatchObject({
        errcode: 0,
        body: { deviceId: d.deviceId, serviceId: 'Fan', desiredVersion: 1 },
      })
      const [req] = await sim.waitForCommands(1)
      expect(req?.cmd).toBe('SET_DESIRED')
      expect(JSON.stringify(req?.paras)).toContain('"speed":2')
      const shadow = await callApi<{ shadow: { serviceId: string; desired: { properties: unknown } }[] }>(
        gw.httpUrl,
        session,
        'GET',
        `/iocm/app/shadow/v1.5.0/devices/${d.deviceId}`,
      )
      expect(JSON.stringify(shadow.body)).toContain('"speed":2')
    } finally {
      await sim.close()
    }
  })

  it('answers a request it cannot carry out with errcode 1 and the reason, and changes nothing', async () => {
    const c = cloud as CloudSimulator
    await cloudReq({ deviceId: 'no-such-device', serviceId: 'S', cmd: 'X', paras: {}, mid: 31 })
    expect((await c.waitForReply((r) => r.body.mid === 31)).body).toMatchObject({
      errcode: 1,
      body: { error_code: '100403' },
    })
    await cloudReq({ deviceId: 'x', serviceId: 'S', cmd: 'X', paras: 'not an object', mid: 32 })
    expect((await c.waitForReply((r) => r.body.mid === 32)).body).toMatchObject({
      errcode: 1,
      body: { error_code: '100022', error_desc: 'paras must be a JSON object' },
    })
    // Not JSON, no usable mid: logged and dropped; the link and later requests are unaffected.
    await c.send(`/huawei/v1/devices/${GW_ID}/command/json`, Buffer.from([0xff, 0x00, 0x13]))
    await cloudReq({ deviceId: 'nobody', serviceId: 'S', cmd: 'X', paras: {}, mid: 33 })
    await c.waitForReply((r) => r.body.mid === 33)
    expect(c.replies.filter((r) => r.body.mid === undefined)).toEqual([])
    expect((await status()).connected).toBe(true)
  })

  it('reports its state and backlog per lane', async () => {
    const s = await status()
    expect(s).toMatchObject({ enabled: true, profile: 'platform', connected: true, url: broker.url })
    expect(Object.keys(s.lanes)).toEqual(['safety', 'commandResult', 'shadow', 'telemetry', 'snapshot'])
    expect(s.since).toMatch(/^\d{8}T\d{6}Z$/)
    for (const lane of Object.values(s.lanes)) expect(lane.dropped.records).toBe(0)
  })

  it('keeps draining after the writer thread, which builds the messages, dies and is restarted', async () => {
    const d = await device('sync-writer-restart')
    const seqsAtCloud = () =>
      new Set(
        (cloud as CloudSimulator)
          .unique('telemetry')
          .filter((r) => r.deviceId === d.deviceId)
          .map((r) => r.serviceData.seq),
      )
    for (let i = 0; i < 20; i++) await publishAcked(d.client, dataTopic(d.deviceId), reading(i))
    await waitFor(async () => (seqsAtCloud().size === 20 ? true : undefined), 'the first 20 records upstream')
    const ingest = gw.gateway.ingest as unknown as { worker: Worker | undefined }
    const first = ingest.worker!
    await first.terminate()
    await waitFor(
      async () => (ingest.worker && ingest.worker !== first ? true : undefined),
      'a new writer thread',
    )
    for (let i = 20; i < 40; i++) await publishAcked(d.client, dataTopic(d.deviceId), reading(i))
    // A builder channel opened while the old thread was still going down is given up after 5 s and reopened.
    await waitFor(
      async () => (seqsAtCloud().size === 40 ? true : undefined),
      'all 40 records upstream',
      30_000,
    )
    expect([...seqsAtCloud()].sort((x, y) => Number(x) - Number(y))).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    )
  })

  it('builds upstream messages in the writer thread: two heaps, no third thread', async () => {
    const res = await callApi<{ heaps: Record<string, { usedBytes: number } | null> }>(
      gw.httpUrl,
      session,
      'GET',
      '/sitegate/v1/process',
    )
    expect(Object.keys(res.body.heaps)).toEqual(['main', 'ingestWriter'])
    expect(res.body.heaps.ingestWriter!.usedBytes).toBeGreaterThan(1_000_000)
  })
})
