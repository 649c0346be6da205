import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { Lane } from '../../src/store/repos/outbox.ts'
import { type IngestMessage, IngestWriter } from '../../src/telemetry/ingest-writer.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

function addDevice(store: Store, deviceId: string): void {
  store.applications.insert({
    app_id: `app-${deviceId}`,
    name: 'a',
    secret_hash: 'x',
    source: 'cli',
    created_at: 0,
  })
  store.devices.insert({
    device_id: deviceId,
    app_id: `app-${deviceId}`,
    node_id: `node-${deviceId}`,
    secret: 's',
    psk: 'p',
    gateway_id: deviceId,
    node_type: 'ENDPOINT',
    name: null,
    device_type: null,
    model: null,
    manufacturer_id: null,
    manufacturer_name: null,
    protocol_type: null,
    product_id: null,
    location: null,
    info_json: '{}',
    created_at: 0,
    modified_at: 0,
  })
}

const RECEIVED_AT = Date.UTC(2026, 0, 2, 3, 4, 5, 678)

const report = (deviceId: string, value: number, eventTime: unknown = '20260102T030000Z'): IngestMessage => ({
  deviceId,
  receivedAt: RECEIVED_AT,
  text: JSON.stringify({
    msgType: 'deviceReq',
    data: [{ serviceId: 'Dust', serviceData: { pm25: value }, eventTime }],
  }),
})
const raw = (deviceId: string, text: string): IngestMessage => ({ deviceId, receivedAt: RECEIVED_AT, text })

describe('IngestWriter', () => {
  let dir: string
  let store: Store
  beforeEach(() => {
    dir = tempDir()
    store = createStore(openDatabase(`${dir}/t.db`))
    addDevice(store, 'a')
    addDevice(store, 'b')
  })
  afterEach(() => {
    store.db.close()
    removeDir(dir)
  })

  it('writes a batch: a history chunk and two outbox rows per device, shadow version per message', () => {
    const writer = new IngestWriter(store)
    expect(writer.write([report('a', 1), report('b', 2), report('a', 3)]).outcomes).toEqual([
      null,
      null,
      null,
    ])
    expect(store.telemetry.forDevice('a').map((r) => r.data)).toEqual([{ pm25: 3 }, { pm25: 1 }])
    expect(store.telemetry.countForDevice('a')).toBe(2)
    expect(store.shadows.get('a', 'Dust')).toMatchObject({ version: 2, reported_json: '{"pm25":3}' })
    expect(store.devices.get('a')?.shadow_version).toBe(2)
    const rows = store.outbox.head(Lane.telemetry, 10)
    expect(rows.map((r) => r.device_id)).toEqual(['a', 'b'])
    const pointer = JSON.parse(rows[0]!.payload) as { chunkId: number; records: number }
    const chunk = store.telemetry.chunk(pointer.chunkId)
    expect(chunk).toMatchObject({ deviceId: 'a', records: 2, firstEvent: Date.UTC(2026, 0, 2, 3) })
    // The chunk holds the messages as the device sent them, in arrival order.
    expect(chunk!.body).toBe(`[${report('a', 1).text},${report('a', 3).text}]`)
    expect(new Set(rows.map((r) => r.idem_key)).size).toBe(2)
    expect(store.outbox.head(Lane.shadow, 10).map((r) => r.device_id)).toEqual(['a', 'b'])
  })

  it('invalid messages and deviceRsp write nothing and say why', () => {
    const writer = new IngestWriter(store)
    const { outcomes } = writer.write([
      raw('a', '{"msgType":"deviceReq","data":['),
      raw('a', '{"msgType":"deviceReq","data":[]}'),
      raw('a', '{"msgType":"deviceRsp","mid":7,"errcode":0,"body":{"ok":true}}'),
    ])
    expect(outcomes).toEqual([
      { kind: 'invalid', error: 'payload is not JSON' },
      { kind: 'invalid', error: 'deviceReq.data is empty' },
      { kind: 'response', response: { msgType: 'deviceRsp', mid: 7, errcode: 0, body: { ok: true } } },
    ])
    expect(store.telemetry.count()).toBe(0)
    expect(store.outbox.count()).toBe(0)
    expect(store.devices.get('a')?.shadow_version).toBe(0)
  })

  it('stores the receive time, in platform form, for an absent or malformed eventTime (A.4)', () => {
    const writer = new IngestWriter(store)
    const { outcomes } = writer.write([report('a', 1, null), report('a', 2, '2026-01-02T03:00:00Z')])
    expect(outcomes).toEqual([
      null,
      { kind: 'stored', warning: expect.stringMatching(/malformed eventTime/) },
    ])
    const second = Math.floor(RECEIVED_AT / 1000) * 1000
    expect(store.telemetry.forDevice('a').map((r) => r.eventTime)).toEqual([second, second])
    const chunkId = (JSON.parse(store.outbox.head(Lane.telemetry, 1)[0]!.payload) as { chunkId: number })
      .chunkId
    const stored = JSON.parse(store.telemetry.chunk(chunkId)!.body) as { data: { eventTime: string }[] }[]
    expect(stored.map((m) => m.data[0]!.eventTime)).toEqual(['20260102T030405Z', '20260102T030405Z'])
  })

  it('a poisoned item fails alone: its neighbours are committed, it writes nothing', () => {
    const writer = new IngestWriter(store)
    // 'ghost' is not registered: its rows violate foreign keys, so its transaction fails.
    const { outcomes } = writer.write([report('a', 1), report('ghost', 2), report('b', 3)])
    expect(outcomes[0]).toBeNull()
    expect(outcomes[1]).toEqual({ kind: 'failed', error: expect.stringMatching(/FOREIGN KEY/) })
    expect(outcomes[2]).toBeNull()
    expect(store.telemetry.countForDevice('ghost')).toBe(0)
    expect(store.outbox.head(Lane.telemetry, 10).map((r) => r.device_id)).toEqual(['a', 'b'])
    // The failed batch left no stale cache behind: versions continue from what is in SQLite.
    expect(writer.write([report('a', 4)]).outcomes).toEqual([null])
    expect(store.shadows.get('a', 'Dust')?.version).toBe(2)
  })

  it('returns device.reported payloads only when asked, and only for what was stored', () => {
    const writer = new IngestWriter(store)
    expect(writer.write([report('a', 1)]).reports).toBeUndefined()
    const { reports } = writer.write([report('a', 2), raw('b', 'nope'), report('ghost', 3)], true)
    expect(JSON.parse(reports!)).toEqual([
      {
        deviceId: 'a',
        services: [{ serviceId: 'Dust', data: { pm25: 2 }, eventTime: Date.UTC(2026, 0, 2, 3) }],
      },
    ])
  })
})
