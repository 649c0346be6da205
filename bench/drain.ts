// Upstream drain benchmark (issue 5): a backlog of outbox records from `devices` devices, built while the
// cloud is unreachable, drained by the real gateway (CLI child process) to a real mosquitto on loopback once
// it comes up. Each record is one telemetry outbox row pointing at a one-reading history chunk, as ingest
// writes them. Printed: records/s, seconds (first message at the cloud → outbox empty), bytes on the wire
// against the raw JSON of the records, and the same-run baseline: mosquitto pass-through of the same number
// of QoS 1 messages (one per record, the record's JSON as payload) from one mqtt.js client to a subscriber.
//
//   npx tsx bench/drain.ts [--records 1000000] [--devices 500] [--window 100] [--keep] [--profile]
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { openDatabase } from '../src/store/db.ts'
import { createStore } from '../src/store/index.ts'
import { Lane } from '../src/store/repos/outbox.ts'
import type { SyncStatus } from '../src/sync/service.ts'
import { toPlatformTime } from '../src/time.ts'
import { startMosquitto } from '../test/helpers/mosquitto.ts'
import { printProfiles } from './lib/cpu-profile.ts'
import { freePort, nowMs, peakRssMiB } from './lib/proc.ts'
import { startGateway } from './lib/targets.ts'

const TARGET_SECONDS = 20
const TARGET_WIRE_RATIO = 0.3

const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    devices: { type: 'string', default: '500' },
    // Baseline: QoS 1 messages in flight at once from the one client.
    window: { type: 'string', default: '100' },
    keep: { type: 'boolean', default: false },
    // The gateway under --cpu-prof; each thread's profile over the drain is printed.
    profile: { type: 'boolean', default: false },
  },
})
const recordCount = Number(opts.records)
const deviceCount = Number(opts.devices)
const window = Number(opts.window)

const GW_ID = 'bench-gateway'

/** A reading as a site's dust/noise monitor sends it; values vary as real ones do (compression is honest). */
function reading(i: number, at: number): string {
  const data = {
    pm25: Math.round(20 + 30 * Math.random()),
    pm10: Math.round(40 + 60 * Math.random()),
    noise: Math.round(550 + 250 * Math.random()) / 10,
    temperature: Math.round(150 + 100 * Math.random()) / 10,
    humidity: Math.round(300 + 400 * Math.random()) / 10,
    windSpeed: Math.round(100 * Math.random()) / 10,
    seq: i,
  }
  return JSON.stringify([
    {
      msgType: 'deviceReq',
      data: [{ serviceId: 'Environment', serviceData: data, eventTime: toPlatformTime(at) }],
    },
  ])
}

function subscriber(
  url: string,
  filter: string,
): Promise<{
  client: MqttClient
  counts: { messages: number; bytes: number; first: number | undefined; last: number | undefined }
}> {
  const counts = {
    messages: 0,
    bytes: 0,
    first: undefined as number | undefined,
    last: undefined as number | undefined,
  }
  const client = mqtt.connect(url, { clientId: `bench-sub-${Date.now()}`, protocolVersion: 4 })
  client.on('message', (_t, payload) => {
    const t = nowMs()
    counts.first ??= t
    counts.last = t
    counts.messages += 1
    counts.bytes += payload.length
  })
  return new Promise((resolve, reject) => {
    client.once('error', reject)
    client.once('connect', () =>
      client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve({ client, counts }))),
    )
  })
}

async function syncStatus(httpUrl: string, headers: Record<string, string>): Promise<SyncStatus> {
  const res = await fetch(`${httpUrl}/sitegate/v1/sync`, { headers })
  return (await res.json()) as SyncStatus
}

/** Writes the backlog into the gateway's database (the gateway is running, its uplink down). */
function writeBacklog(database: string, deviceIds: string[]): { seconds: number } {
  const t0 = nowMs()
  const store = createStore(openDatabase(database, { synchronous: 'NORMAL' }))
  const start = Date.now() - recordCount * 10
  const per = 20_000
  for (let done = 0; done < recordCount; done += per) {
    store.transaction(() => {
      for (let i = done; i < Math.min(recordCount, done + per); i++) {
        const deviceId = deviceIds[i % deviceIds.length] as string
        const at = start + i * 10
        const body = reading(i, at)
        const chunkId = store.telemetry.insert({
          deviceId,
          firstEvent: at,
          lastEvent: at,
          receivedAt: at,
          records: 1,
          body,
        })
        store.outbox.append(Lane.telemetry, 'telemetry', deviceId, `{"chunkId":${chunkId},"records":1}`, at, {
          ref: chunkId,
          bytes: body.length,
        })
      }
    })
  }
  store.db.close()
  return { seconds: (nowMs() - t0) / 1000 }
}

async function baseline(sampleRecord: string): Promise<{ seconds: number; bytes: number }> {
  const broker = await startMosquitto()
  try {
    const sub = await subscriber(broker.url, 'bench/#')
    const pub = mqtt.connect(broker.url, { clientId: 'bench-pub', protocolVersion: 4 })
    await new Promise<void>((resolve) => pub.once('connect', () => resolve()))
    const t0 = nowMs()
    let sent = 0
    let acked = 0
    await new Promise<void>((resolve) => {
      const next = () => {
        while (sent < recordCount && sent - acked < window) {
          sent += 1
          pub.publish('bench/records', sampleRecord, { qos: 1 }, () => {
            acked += 1
            if (acked === recordCount) resolve()
            else next()
          })
        }
      }
      next()
    })
    while (sub.counts.messages < recordCount) await new Promise((r) => setTimeout(r, 20))
    const seconds = (nowMs() - t0) / 1000
    pub.end(true)
    sub.client.end(true)
    return { seconds, bytes: sub.counts.bytes }
  } finally {
    await broker.dispose()
  }
}

async function main() {
  console.log(
    `drain: ${recordCount.toLocaleString('en')} outbox records from ${deviceCount} devices → mosquitto (loopback)`,
  )
  const port = await freePort()
  const config = join(tmpdir(), `sitegate-drain-${process.pid}.yaml`)
  writeFileSync(
    config,
    [
      'http:',
      '  throttle:',
      '    maxCalls: 0',
      '    windowSeconds: 60',
      'upstream:',
      `  url: mqtt://127.0.0.1:${port}`,
      `  deviceId: ${GW_ID}`,
      '  secret: bench-secret',
      '  initialBackoffMs: 50',
      '  maxBackoffMs: 200',
    ].join('\n'),
  )
  const gw = await startGateway(deviceCount, { config, profile: opts.profile })
  let sub: Awaited<ReturnType<typeof subscriber>> | undefined
  let broker: Awaited<ReturnType<typeof startMosquitto>> | undefined
  try {
    const built = writeBacklog(
      gw.database,
      gw.devices.map((d) => d.id),
    )
    const before = await syncStatus(gw.httpUrl, gw.headers)
    console.log(
      `  backlog written in ${built.seconds.toFixed(1)} s while the uplink is down: ${before.lanes.telemetry?.records} rows, ` +
        `${((before.lanes.telemetry?.bytes ?? 0) / 1024 ** 2).toFixed(1)} MiB`,
    )
    broker = await startMosquitto({ port })
    sub = await subscriber(broker.url, `/huawei/v1/devices/${GW_ID}/data/#`)
    let status = before
    for (;;) {
      status = await syncStatus(gw.httpUrl, gw.headers)
      if (status.connected && status.backlog.records === 0) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const end = nowMs()
    const sub0First = sub.counts.first
    const seconds = (end - (sub.counts.first ?? end)) / 1000
    const rate = recordCount / seconds
    const wireRatio = status.sent.wireBytes / status.sent.rawBytes
    const rss = peakRssMiB(gw.child.pid)
    console.log(
      `  sitegate: ${status.sent.records.toLocaleString('en')} records in ${status.sent.messages} messages, ` +
        `${seconds.toFixed(2)} s, ${Math.round(rate).toLocaleString('en')} records/s`,
    )
    console.log(
      `  bytes on the wire ${(status.sent.wireBytes / 1024 ** 2).toFixed(1)} MiB vs raw JSON ${(status.sent.rawBytes / 1024 ** 2).toFixed(1)} MiB → ` +
        `${(100 * wireRatio).toFixed(1)} % (target ≤ ${100 * TARGET_WIRE_RATIO} %); gateway peak RSS ${rss.toFixed(0)} MiB`,
    )
    if (status.sent.records !== recordCount)
      throw new Error(`the cloud was sent ${status.sent.records} records, not ${recordCount}`)
    sub.client.end(true)
    sub = undefined
    await gw.stop()
    if (gw.profileDir) printProfiles(gw.profileDir, sub0First ?? end, end, 'the drain')
    await broker.dispose()
    broker = undefined

    const sample = reading(0, Date.now())
    const base = await baseline(sample)
    const baseRate = recordCount / base.seconds
    console.log(
      `  baseline (mosquitto pass-through, one mqtt.js client, ${recordCount.toLocaleString('en')} QoS 1 messages of ${sample.length} B, ` +
        `${window} in flight): ${base.seconds.toFixed(2)} s, ${Math.round(baseRate).toLocaleString('en')} msg/s, ${(base.bytes / 1024 ** 2).toFixed(1)} MiB`,
    )
    console.log(
      `  ratio sitegate/baseline records per second: ${(rate / baseRate).toFixed(2)}; ` +
        `target ≤ ${TARGET_SECONDS} s: ${seconds <= TARGET_SECONDS ? 'met' : 'NOT met'}; ` +
        `wire ≤ ${100 * TARGET_WIRE_RATIO} %: ${wireRatio <= TARGET_WIRE_RATIO ? 'met' : 'NOT met'}`,
    )
  } finally {
    sub?.client.end(true)
    await gw.stop()
    await broker?.dispose()
    if (!opts.keep) gw.removeDirs()
    else console.log(`  data kept in ${gw.dataDir}`)
    rmSync(config, { force: true })
  }
}

await main()
