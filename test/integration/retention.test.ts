// History retention (issue 10 item 7) on a real gateway: telemetry history and desired-state history pruned by
// age and size in the background, and never a telemetry chunk whose records have not gone upstream yet.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayConfig } from '../../src/config/schema.ts'
import { type CloudSimulator, simulateCloud } from '../helpers/cloud-simulator.ts'
import {
  type AppSession,
  callApi,
  connectDevice,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.ts'
import { dataTopic, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { upstreamConfig } from '../helpers/upstream.ts'

type Retention = GatewayConfig['retention']
const NO_LIMIT = { maxAgeDays: 0, maxBytes: 0 }

function withRetention(r: Partial<Retention>, more: (c: GatewayConfig) => void = () => {}) {
  return (c: GatewayConfig) => {
    c.retention = {
      ...c.retention,
      telemetry: NO_LIMIT,
      desiredHistory: NO_LIMIT,
      checkIntervalMs: 100,
      ...r,
    }
    more(c)
  }
}

/** §5.3 history of one device: its records' pm25 values, newest first. */
async function history(gw: RunningGateway, session: AppSession, deviceId: string): Promise<number[]> {
  const res = await callApi<{ totalCount: number; deviceDataHistoryDTOs: { data: { pm25: number } }[] }>(
    gw.httpUrl,
    session,
    'GET',
    `/iocm/app/data/v1.2.0/deviceDataHistory?deviceId=${deviceId}&pageSize=2000`,
  )
  expect(res.status).toBe(200)
  return res.body.deviceDataHistoryDTOs.map((d) => d.data.pm25)
}

async function publish(client: MqttClient, deviceId: string, values: number[], pad = 0): Promise<void> {
  for (const pm25 of values) {
    const serviceData = pad > 0 ? { pm25, note: 'x'.repeat(pad) } : { pm25 }
    await publishAcked(client, dataTopic(deviceId), deviceReq([{ serviceId: 'Dust', serviceData }]))
  }
}

describe.runIf(requireProgram('mosquitto'))('telemetry waiting to go upstream is not pruned', () => {
  let dataDir: string
  let broker: Mosquitto
  let cloud: CloudSimulator | undefined
  let device: { deviceId: string; secret: string }

  beforeAll(async () => {
    dataDir = tempDir()
    broker = await startMosquitto()
  })
  afterAll(async () => {
    await cloud?.close()
    await broker?.dispose()
    removeDir(dataDir)
  })

  it('keeps chunks over every limit while their outbox rows wait (the uplink is not configured)', async () => {
    // Every chunk is over the size limit (1 byte), and the round runs every 100 ms.
    const gw = await startGateway({
      dataDir,
      config: withRetention({ telemetry: { maxAgeDays: 0, maxBytes: 1 } }),
    })
    try {
      const session = await login(gw.httpUrl, firstApp(dataDir))
      device = await registerDevice(gw.httpUrl, session, 'dust-upstream')
      const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
      await publish(client, device.deviceId, [1, 2, 3, 4, 5])
      client.end(true)
      const { counters } = gw.gateway.ops.retention
      const since = Date.now()
      await waitFor(
        () => (counters.telemetry.lastRoundAt ?? 0) > since && counters.telemetry.keptForUpstream >= 5,
        'a round that kept the five chunks',
      )
      expect(counters.telemetry.deletedRecords).toBe(0)
      expect(await history(gw, session, device.deviceId)).toEqual([5, 4, 3, 2, 1])
      expect(gw.gateway.store.outbox.totals()[3].records).toBe(5)
    } finally {
      await gw.stop()
    }
  })

  it('prunes them once the cloud acknowledged them, and the cloud got every record', async () => {
    cloud = await simulateCloud(broker.url)
    const gw = await startGateway({
      dataDir,
      config: withRetention({ telemetry: { maxAgeDays: 0, maxBytes: 1 } }, upstreamConfig(broker.url)),
    })
    try {
      const session = await login(gw.httpUrl, firstApp(dataDir))
      const sent = await cloud.waitForUnique(5, 'telemetry')
      expect(sent.map((r) => r.serviceData.pm25)).toEqual([1, 2, 3, 4, 5])
      await waitFor(async () => (await history(gw, session, device.deviceId)).length === 0, 'history pruned')
      expect(gw.gateway.store.outbox.totals()[3].records).toBe(0)
      expect(gw.gateway.ops.retention.counters.telemetry.deletedRecords).toBe(5)
    } finally {
      await gw.stop()
    }
  })
})

describe('retention by age and size', () => {
  it('prunes telemetry older than maxAgeDays once the outbox quota dropped its rows', async () => {
    const gw = await startGateway({
      config: withRetention({ telemetry: { maxAgeDays: 0.5 / 86_400, maxBytes: 0 } }, (c) => {
        // The outbox may hold no telemetry at all: every row is dropped at the next quota check.
        c.upstream.quota = {
          ...c.upstream.quota,
          lanes: { telemetry: { maxBytes: 0 } },
          checkIntervalMs: 100,
        }
      }),
    })
    try {
      const session = await login(gw.httpUrl, firstApp(gw.dataDir))
      const device = await registerDevice(gw.httpUrl, session, 'dust-age')
      const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
      await publish(client, device.deviceId, [10, 11, 12])
      client.end(true)
      await waitFor(
        async () => (await history(gw, session, device.deviceId)).length === 0,
        'old history pruned',
      )
      expect(gw.gateway.store.outbox.drops()[3].records).toBe(3)
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })

  it('keeps telemetry and desired history under maxBytes, newest kept, while devices keep publishing', async () => {
    const gw = await startGateway({
      config: withRetention(
        {
          telemetry: { maxAgeDays: 0, maxBytes: 4000 },
          desiredHistory: { maxAgeDays: 0, maxBytes: 700 },
          stepRows: 3,
        },
        (c) => {
          c.upstream.quota = {
            ...c.upstream.quota,
            lanes: { telemetry: { maxBytes: 0 } },
            checkIntervalMs: 100,
          }
        },
      ),
    })
    try {
      const session = await login(gw.httpUrl, firstApp(gw.dataDir))
      const device = await registerDevice(gw.httpUrl, session, 'dust-size')
      const client = await connectDevice(gw.mqttUrl, { id: device.deviceId, secret: device.secret })
      // 60 messages of about 300 bytes, one chunk each: 18 KB, pruned in steps of 3 rows as they come.
      const values = Array.from({ length: 60 }, (_, i) => i)
      await publish(client, device.deviceId, values, 250)
      client.end(true)
      const totals = () =>
        gw.gateway.store.db
          .prepare("SELECT bytes FROM history_totals WHERE name = 'telemetry'")
          .pluck()
          .get() as number
      await waitFor(() => totals() <= 4000, 'telemetry history under 4000 bytes')
      const kept = await history(gw, session, device.deviceId)
      expect(kept.length).toBeGreaterThan(5)
      expect(kept).toEqual(values.slice(-kept.length).reverse())

      // Desired state: 20 changes of ~100 bytes each in §5.4 history.
      for (let i = 0; i < 20; i++) {
        const res = await callApi(
          gw.httpUrl,
          session,
          'PUT',
          `/iocm/app/shadow/v1.5.0/devices/${device.deviceId}`,
          {
            serviceDesireds: [{ serviceId: 'Dust', desired: { threshold: i, label: 'y'.repeat(80) } }],
          },
        )
        expect(res.status).toBe(200)
      }
      const desired = async () =>
        (
          await callApi<{ totalCount: number; deviceDesiredHistoryDTOs?: unknown[] }>(
            gw.httpUrl,
            session,
            'GET',
            `/iocm/app/shadow/v1.5.0/deviceDesiredHistory?deviceId=${device.deviceId}&pageSize=100`,
          )
        ).body
      const desiredBytes = () =>
        gw.gateway.store.db
          .prepare("SELECT bytes FROM history_totals WHERE name = 'desiredHistory'")
          .pluck()
          .get() as number
      await waitFor(() => desiredBytes() <= 700, 'desired history under 700 bytes')
      const pruned = await desired()
      expect(pruned.totalCount).toBeGreaterThan(0)
      expect(pruned.totalCount).toBeLessThan(20)
      expect(JSON.stringify(pruned)).toContain('"threshold":19')
      // The current desired state is the shadow's, not history: it stays.
      const shadow = await callApi<{
        services: { serviceId: string; desiredProps: Record<string, unknown> }[]
      }>(gw.httpUrl, session, 'GET', `/iocm/app/shadow/v1.5.0/devices/${device.deviceId}`)
      expect(shadow.body.services.find((s) => s.serviceId === 'Dust')?.desiredProps).toMatchObject({
        threshold: 19,
      })
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })
})
