// deviceReq ingest (spec device-mqtt.md A.4) over real MQTT into the real SQLite store: history rows, the
// merged reported shadow, outbox rows; invalid input changes nothing; concurrent devices lose nothing.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { parsePlatformTime, toPlatformTime } from '../../src/time.ts'
import {
  type AppSession,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import {
  dataTopic,
  deviceOptions,
  getShadow,
  openDevice,
  publishAcked,
  storeSnapshot,
} from '../helpers/mqtt.ts'

type Registered = Awaited<ReturnType<typeof registerDevice>>
type Service = { serviceId: string; serviceData: Record<string, unknown>; eventTime?: string }

const TELEMETRY_LANE = 3
const SHADOW_LANE = 2

describe('deviceReq ingest', () => {
  let gw: RunningGateway
  let session: AppSession
  let seq = 0
  const clients: MqttClient[] = []

  const store = () => gw.gateway.store
  /** A registered device and an open connection to the gateway. */
  const online = async (nodeId = `ingest-dev-${++seq}`): Promise<{ d: Registered; client: MqttClient }> => {
    const d = await registerDevice(gw.httpUrl, session, nodeId)
    const { client } = await openDevice(gw.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
    clients.push(client)
    return { d, client }
  }
  /** Publishes at QoS 1 and resolves on PUBACK (which the gateway sends only after the commit). */
  const report = (client: MqttClient, d: Registered, services: Service[]) =>
    publishAcked(client, dataTopic(d.deviceId), deviceReq(services))
  /** History records, oldest first. */
  const history = (deviceId: string) => store().telemetry.forDevice(deviceId, 10_000).reverse()
  const shadow = (deviceId: string, serviceId: string) => {
    const row = store().shadows.get(deviceId, serviceId)
    return row && { reported: JSON.parse(row.reported_json) as unknown, version: row.version }
  }
  const lanes = () => store().outbox.countByLane()
  const laneDelta = (before: Record<number, number>, lane: number) =>
    (lanes()[lane] ?? 0) - (before[lane] ?? 0)

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterAll(async () => {
    for (const c of clients) c.end(true)
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  it('several services in one message: one history row and one shadow service each', async () => {
    const { d, client } = await online()
    const before = lanes()
    const at = '20261123T101500Z'
    await report(client, d, [
      { serviceId: 'Temperature', serviceData: { celsius: 21.5 }, eventTime: at },
      { serviceId: 'Humidity', serviceData: { percent: 40 }, eventTime: at },
      { serviceId: 'Battery', serviceData: { level: 80, charging: false }, eventTime: at },
    ])
    const t = parsePlatformTime(at)
    expect(history(d.deviceId).sort((a, b) => a.serviceId.localeCompare(b.serviceId))).toEqual([
      expect.objectContaining({ serviceId: 'Battery', data: { level: 80, charging: false }, eventTime: t }),
      expect.objectContaining({ serviceId: 'Humidity', data: { percent: 40 }, eventTime: t }),
      expect.objectContaining({ serviceId: 'Temperature', data: { celsius: 21.5 }, eventTime: t }),
    ])
    expect(shadow(d.deviceId, 'Temperature')).toEqual({ reported: { celsius: 21.5 }, version: 1 })
    expect(shadow(d.deviceId, 'Battery')).toEqual({ reported: { level: 80, charging: false }, version: 1 })
    expect(store().devices.get(d.deviceId)?.shadow_version).toBe(1)
    // One telemetry outbox row for the batch (not per service), pointing at the history chunk; and the shadow
    // change.
    expect(laneDelta(before, TELEMETRY_LANE)).toBe(1)
    expect(laneDelta(before, SHADOW_LANE)).toBe(1)
    const services = await getShadow(gw.httpUrl, session, d.deviceId)
    expect(services.map((s) => [s.serviceId, s.reportedProps, s.eventTime])).toEqual([
      ['Battery', { level: 80, charging: false }, at],
      ['Humidity', { percent: 40 }, at],
      ['Temperature', { celsius: 21.5 }, at],
    ])
  })

  it('properties merge across messages; history keeps every message as sent', async () => {
    const { d, client } = await online()
    const before = lanes()
    await report(client, d, [{ serviceId: 'Meter', serviceData: { a: 1, b: 2 } }])
    await report(client, d, [{ serviceId: 'Meter', serviceData: { b: 3, c: { nested: true } } }])
    await report(client, d, [{ serviceId: 'Valve', serviceData: { open: true } }])

    expect(shadow(d.deviceId, 'Meter')).toEqual({ reported: { a: 1, b: 3, c: { nested: true } }, version: 2 })
    expect(shadow(d.deviceId, 'Valve')).toEqual({ reported: { open: true }, version: 1 })
    expect(store().devices.get(d.deviceId)?.shadow_version).toBe(3)
    expect(history(d.deviceId).map((h) => [h.serviceId, h.data])).toEqual([
      ['Meter', { a: 1, b: 2 }],
      ['Meter', { b: 3, c: { nested: true } }],
      ['Valve', { open: true }],
    ])
    expect(laneDelta(before, TELEMETRY_LANE)).toBe(3)
    // Each message committed its own shadow update, and each collapsed into the device's one pending row
    // (compaction), which holds the latest state of both services.
    expect(laneDelta(before, SHADOW_LANE)).toBe(1)
    const pending = store()
      .outbox.head(SHADOW_LANE, 100)
      .filter((r) => r.device_id === d.deviceId)
    const carried = (
      JSON.parse(pending[0]?.payload ?? '{}') as { services: { serviceId: string; reported: unknown }[] }
    ).services
    expect(carried.map((s) => [s.serviceId, s.reported])).toEqual([
      ['Meter', { a: 1, b: 3, c: { nested: true } }],
      ['Valve', { open: true }],
    ])
    const services = await getShadow(gw.httpUrl, session, d.deviceId)
    expect(services.find((s) => s.serviceId === 'Meter')?.reportedProps).toEqual({
      a: 1,
      b: 3,
      c: { nested: true },
    })
  })

  it('the same service twice in one message: both in history, the later values win in the shadow', async () => {
    const { d, client } = await online()
    await report(client, d, [
      { serviceId: 'Gauge', serviceData: { v: 1, first: true } },
      { serviceId: 'Gauge', serviceData: { v: 2 } },
    ])
    expect(history(d.deviceId).map((h) => h.data)).toEqual([{ v: 1, first: true }, { v: 2 }])
    expect(shadow(d.deviceId, 'Gauge')?.reported).toEqual({ v: 2, first: true })
  })

  it('eventTime is used when well-formed, the receive time otherwise (absent or malformed)', async () => {
    const { d, client } = await online()
    const variants: [string, unknown][] = [
      ['Good', '20160503T121540Z'],
      ['Absent', undefined],
      ['Null', null],
      ['Dashed', '2016-05-03T12:15:40Z'],
      ['NoZ', '20160503T121540'],
      ['Month13', '20161319T114920Z'],
      ['Feb30', '20160230T114920Z'],
      ['Minute60', '20160503T126040Z'],
      ['Number', 20160503121540],
      ['Empty', ''],
    ]
    const sentAt = Date.now()
    await publishAcked(
      client,
      dataTopic(d.deviceId),
      JSON.stringify({
        msgType: 'deviceReq',
        data: variants.map(([serviceId, eventTime]) => ({ serviceId, serviceData: { x: 1 }, eventTime })),
      }),
    )
    const ackedAt = Date.now()
    const rows = new Map(history(d.deviceId).map((h) => [h.serviceId, h]))
    expect(rows.size).toBe(variants.length)
    expect(rows.get('Good')?.eventTime).toBe(Date.UTC(2016, 4, 3, 12, 15, 40))
    // The receive time stands in, at the platform format's one-second precision.
    const sentSecond = Math.floor(sentAt / 1000) * 1000
    for (const [serviceId] of variants.slice(1)) {
      const row = rows.get(serviceId)!
      expect(row.eventTime % 1000, serviceId).toBe(0)
      expect(row.eventTime, serviceId).toBeGreaterThanOrEqual(sentSecond)
      expect(row.eventTime, serviceId).toBeLessThanOrEqual(ackedAt)
      expect(row.receivedAt).toBeGreaterThanOrEqual(sentAt)
      expect(row.receivedAt).toBeLessThanOrEqual(ackedAt)
    }
    const services = new Map((await getShadow(gw.httpUrl, session, d.deviceId)).map((s) => [s.serviceId, s]))
    expect(services.get('Good')?.eventTime).toBe('20160503T121540Z')
    expect(services.get('Dashed')?.eventTime).toBe(toPlatformTime(rows.get('Dashed')!.eventTime))
  })

  it('100 services in one message are accepted', async () => {
    const { d, client } = await online()
    const services = Array.from({ length: 100 }, (_, i) => ({ serviceId: `S${i}`, serviceData: { i } }))
    await report(client, d, services)
    expect(store().telemetry.countForDevice(d.deviceId)).toBe(100)
    expect(store().shadows.forDevice(d.deviceId)).toHaveLength(100)
  })

  describe('invalid payloads change nothing and keep the device connected', () => {
    let d: Registered
    let client: MqttClient
    let valid = 0
    beforeAll(async () => {
      ;({ d, client } = await online('ingest-invalid'))
    })
    // Should one case break the connection, that case fails; the next starts on a fresh one.
    beforeEach(async () => {
      if (client.connected) return
      client = (await openDevice(gw.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))).client
      clients.push(client)
    })

    const ok = { serviceId: 'Poisoned', serviceData: { poisoned: true } }
    const req = (data: unknown) => JSON.stringify({ msgType: 'deviceReq', data })
    const cases: [string, string, 'json' | 'binary'][] = [
      ['not JSON', '{"msgType":"deviceReq","data":[', 'json'],
      ['an empty payload', '', 'json'],
      ['a JSON array', JSON.stringify([{ msgType: 'deviceReq', data: [ok] }]), 'json'],
      ['a JSON number', '42', 'json'],
      ['JSON null', 'null', 'json'],
      ['missing msgType', JSON.stringify({ data: [ok] }), 'json'],
      ['a wrong msgType', JSON.stringify({ msgType: 'cloudReq', data: [ok] }), 'json'],
      ['msgType in another case', JSON.stringify({ msgType: 'DeviceReq', data: [ok] }), 'json'],
      ['data missing', JSON.stringify({ msgType: 'deviceReq' }), 'json'],
      ['data not an array', req(ok), 'json'],
      ['empty data', req([]), 'json'],
      ['a data entry that is not an object', req([ok, 'Poisoned']), 'json'],
      ['serviceId missing (in the 2nd entry)', req([ok, { serviceData: { poisoned: true } }]), 'json'],
      ['serviceId not a string', req([ok, { serviceId: 42, serviceData: { poisoned: true } }]), 'json'],
      ['serviceId empty', req([ok, { serviceId: '', serviceData: { poisoned: true } }]), 'json'],
      ['serviceData missing', req([ok, { serviceId: 'Poisoned' }]), 'json'],
      ['serviceData a string', req([ok, { serviceId: 'Poisoned', serviceData: 'poisoned' }]), 'json'],
      ['serviceData an array', req([ok, { serviceId: 'Poisoned', serviceData: [1, 2] }]), 'json'],
      ['serviceData null', req([ok, { serviceId: 'Poisoned', serviceData: null }]), 'json'],
      ['more than 100 entries', req(Array.from({ length: 101 }, () => ok)), 'json'],
      ['a deviceReq on the binary codec topic', req([ok]), 'binary'],
      ['a deviceRsp no command awaits', JSON.stringify({ msgType: 'deviceRsp', mid: 9, errcode: 0 }), 'json'],
    ]

    it.each(cases)('%s', async (_label, payload, codec) => {
      const before = storeSnapshot(store(), d.deviceId)
      await publishAcked(client, dataTopic(d.deviceId, codec), payload)
      expect(storeSnapshot(store(), d.deviceId)).toEqual(before)
      expect(client.connected).toBe(true)

      // The same connection still reports, and that report is the only change.
      valid += 1
      await report(client, d, [{ serviceId: 'Valid', serviceData: { n: valid } }])
      const after = storeSnapshot(store(), d.deviceId)
      expect(after.deviceTelemetry).toBe(before.deviceTelemetry + 1)
      expect(after.telemetry).toBe(before.telemetry + 1)
      expect(after.shadowVersion).toBe((before.shadowVersion ?? 0) + 1)
      expect(after.outbox[TELEMETRY_LANE]).toBe((before.outbox[TELEMETRY_LANE] ?? 0) + 1)
      const others = (s: typeof before) => s.shadows.filter((row) => row.service_id !== 'Valid')
      expect(others(after)).toEqual(others(before))
      expect(shadow(d.deviceId, 'Valid')?.reported).toEqual({ n: valid })
      expect(history(d.deviceId).at(-1)).toMatchObject({ serviceId: 'Valid', data: { n: valid } })
    })
  })

  it('20 devices × 50 concurrent QoS 1 messages: every acknowledged message is stored', async () => {
    const DEVICES = 20
    const MESSAGES = 50
    const fleet = await Promise.all(Array.from({ length: DEVICES }, (_, i) => online(`fleet-${i}`)))
    const before = lanes()
    const totalBefore = store().telemetry.count()

    await Promise.all(
      fleet.map(({ d, client }) =>
        Promise.all(
          Array.from({ length: MESSAGES }, (_, i) =>
            report(client, d, [{ serviceId: 'Counter', serviceData: { last: i, [`m${i}`]: i } }]),
          ),
        ),
      ),
    )

    expect(store().telemetry.count()).toBe(totalBefore + DEVICES * MESSAGES)
    // Telemetry outbox rows point at per-device chunks of a batch: every message is there exactly once.
    expect(laneDelta(before, TELEMETRY_LANE)).toBeGreaterThanOrEqual(DEVICES)
    for (const { d } of fleet) {
      const upstream = store()
        .outbox.head(TELEMETRY_LANE, 1_000_000)
        .filter((row) => row.device_id === d.deviceId)
        .flatMap((row) => {
          const { chunkId, records } = JSON.parse(row.payload) as { chunkId: number; records: number }
          const chunk = store().telemetry.chunk(chunkId)!
          expect(chunk.records).toBe(records)
          return (JSON.parse(chunk.body) as { data: { serviceData: { last: number } }[] }[]).flatMap(
            (m) => m.data,
          )
        })
        .map((record) => record.serviceData.last)
      expect(upstream.sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i))
    }
    for (const { d } of fleet) {
      const seen = history(d.deviceId).map((h) => (h.data as { last: number }).last)
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i))
      expect(store().devices.get(d.deviceId)?.shadow_version).toBe(MESSAGES)
      const reported = shadow(d.deviceId, 'Counter')?.reported as Record<string, number>
      for (let i = 0; i < MESSAGES; i++) expect(reported[`m${i}`]).toBe(i)
    }
  })
})
