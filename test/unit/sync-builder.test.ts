// The drain's message builder over a real SQLite outbox: lane priority, answers on their own, snapshots newest
// first when nothing else waits, and live telemetry interleaved with a backlog without reordering any device.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.ts'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { Lane } from '../../src/store/repos/outbox.ts'
import { type BuiltMessage, MessageBuilder } from '../../src/sync/message-builder.ts'
import { PlatformProfile } from '../../src/sync/platform-profile.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

let dir: string
let store: Store
beforeEach(() => {
  dir = tempDir('sitegate-builder-')
  store = createStore(openDatabase(`${dir}/db.sqlite`, { synchronous: 'NORMAL' }))
  store.db.pragma('foreign_keys = OFF')
})
afterEach(() => {
  store.db.close()
  removeDir(dir)
})

const profile = new PlatformProfile('gw', 'secret')
const builder = (
  maxMessageBytes = 100_000,
  images?: (doc: Record<string, unknown>) => { base64: string } | undefined,
) => new MessageBuilder(store, profile, { compress: false, maxMessageBytes }, createLogger('silent'), images)

let reading = 0
/** A telemetry row as ingest writes it: a history chunk and the row pointing at it. */
function telemetry(deviceId: string): void {
  reading += 1
  const body = JSON.stringify([
    {
      msgType: 'deviceReq',
      data: [{ serviceId: 'M', serviceData: { n: reading }, eventTime: '20260102T030405Z' }],
    },
  ])
  const chunkId = store.telemetry.insert({
    deviceId,
    firstEvent: 0,
    lastEvent: 0,
    receivedAt: 0,
    records: 1,
    body,
  })
  store.outbox.append(Lane.telemetry, 'telemetry', deviceId, `{"chunkId":${chunkId},"records":1}`, 0, {
    ref: chunkId,
    bytes: body.length,
  })
}

const records = (m: BuiltMessage | undefined) =>
  m && typeof m.payload === 'string'
    ? (JSON.parse(m.payload).data as {
        deviceId: string
        kind: string
        serviceId: string
        serviceData: Record<string, unknown>
      }[])
    : []

/** Builds until nothing is left (as the drain does while every message is acknowledged at once). */
function drain(b: MessageBuilder): BuiltMessage[] {
  const out: BuiltMessage[] = []
  for (let m = b.build(0); m; m = b.build(0)) {
    out.push(m)
    for (const run of m.runs) store.outbox.deleteRange(run.lane, run.from, run.to)
  }
  return out
}

describe('message builder', () => {
  it('takes lanes in priority order and sends an answer to the cloud as a message of its own', () => {
    telemetry('d1')
    store.outbox.append(
      Lane.shadow,
      'shadow.reported',
      'd1',
      JSON.stringify({ deviceId: 'd1', services: [] }),
      0,
    )
    store.outbox.append(Lane.safety, 'sos', 'h1', '{"level":"high"}', 0)
    store.outbox.append(
      Lane.commandResult,
      'cloud.reply',
      'd1',
      JSON.stringify({ ref: { id: '5' }, success: true, body: {} }),
      0,
    )
    store.outbox.append(
      Lane.commandResult,
      'command.result',
      'd1',
      '{"commandId":"c","serviceId":"S","status":"FAILED"}',
      0,
    )
    const messages = drain(builder())
    expect(messages.map((m) => m.topic)).toEqual([
      '/huawei/v1/devices/gw/data/json',
      '/huawei/v1/devices/gw/data/json',
      '/huawei/v1/devices/gw/data/json',
    ])
    expect(records(messages[0]).map((r) => r.kind)).toEqual(['event'])
    expect(JSON.parse(String(messages[1]?.payload))).toMatchObject({
      msgType: 'deviceRsp',
      mid: 5,
      errcode: 0,
    })
    expect(records(messages[2]).map((r) => r.kind)).toEqual(['commandResult', 'telemetry'])
    // The shadow row (no services) carried nothing but went with the others: the outbox is empty.
    expect(store.outbox.count()).toBe(0)
  })

  it('sends snapshots newest first, with their images, only when no other lane has anything', () => {
    for (const id of ['p1', 'p2', 'p3'])
      store.outbox.append(Lane.snapshot, 'snapshot', 'cam', JSON.stringify({ snapshotId: id }), 0)
    telemetry('d1')
    const b = builder(100_000, (doc) =>
      doc.snapshotId === 'p2' ? undefined : { base64: `img-${String(doc.snapshotId)}` },
    )
    const first = b.build(0)
    expect(records(first).map((r) => r.kind)).toEqual(['telemetry'])
    for (const run of first?.runs ?? []) store.outbox.deleteRange(run.lane, run.from, run.to)
    const second = b.build(0)
    expect(records(second).map((r) => r.serviceData)).toEqual([
      { snapshotId: 'p3', image: 'img-p3' },
      { snapshotId: 'p2' },
      { snapshotId: 'p1', image: 'img-p1' },
    ])
    expect(second?.snapshotRows).toBe(3)
  })

  it('interleaves live telemetry with a backlog, every device still in order', () => {
    // Backlog: 300 readings of device A. Then, after link-up, live readings of B (no backlog) and of A.
    for (let i = 0; i < 300; i++) telemetry('A')
    const b = builder(4000)
    const liveA: number[] = []
    const liveB: number[] = []
    for (let i = 0; i < 20; i++) {
      telemetry('B')
      liveB.push(reading)
      telemetry('A')
      liveA.push(reading)
    }
    b.wake()
    const messages = drain(b)
    const all = messages.flatMap(records)
    // B's live readings went out in the first message, ahead of A's backlog.
    expect(records(messages[0]).filter((r) => r.deviceId === 'B').length).toBeGreaterThan(0)
    expect(all.filter((r) => r.deviceId === 'B').map((r) => r.serviceData.n)).toEqual(liveB)
    // A: every reading once, in the order written, live ones after its backlog.
    const a = all.filter((r) => r.deviceId === 'A').map((r) => r.serviceData.n as number)
    expect(a).toEqual([...a].sort((x, y) => x - y))
    expect(a).toHaveLength(320)
    expect(a.slice(-20)).toEqual(liveA)
    expect(store.outbox.count()).toBe(0)
  })

  it('never deletes a row it did not send: runs end at rows the live path took', () => {
    const backlog: number[] = []
    for (let i = 0; i < 5; i++) {
      telemetry('A')
      backlog.push(reading)
    }
    const b = builder(100_000)
    telemetry('B') // live, B has no backlog: goes first
    const liveB = reading
    telemetry('A') // live, A is catching up: after A's backlog
    const liveA = reading
    b.wake()
    const m = b.build(0)
    expect(records(m).map((r) => [r.deviceId, r.serviceData.n])).toEqual([
      ['B', liveB],
      ...backlog.map((n) => ['A', n]),
      ['A', liveA],
    ])
    // Every row the message covers is one it carried: B's row sits between A's backlog and A's live row.
    expect(m?.rows).toBe(7)
    const covered = store.outbox
      .head(Lane.telemetry, 100)
      .filter((row) =>
        (m?.runs ?? []).some((r) => r.lane === row.lane && r.from <= row.seq && row.seq <= r.to),
      )
    expect(covered).toHaveLength(7)
    // …and by exactly one run: B's row, sent on its own, is not inside the run of A's backlog.
    for (const row of covered) {
      const runs = (m?.runs ?? []).filter((r) => r.lane === row.lane && r.from <= row.seq && row.seq <= r.to)
      expect(runs).toHaveLength(1)
    }
  })
})
