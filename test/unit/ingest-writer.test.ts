import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { Lane } from '../../src/store/repos/outbox.ts'
import { type IngestItem, IngestWriter } from '../../src/telemetry/ingest-writer.ts'
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

const item = (deviceId: string, value: number): IngestItem => ({
  deviceId,
  receivedAt: 1_700_000_000_000,
  data: [
    {
      serviceId: 'Dust',
      serviceData: { pm25: value },
      eventTime: 1_700_000_000_000 + value,
      eventTimeMalformed: false,
    },
  ],
})

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

  it('writes a batch: history per entry, merged shadow with version per message, outbox rows per device', () => {
    const writer = new IngestWriter(store)
    expect(writer.write([item('a', 1), item('b', 2), item('a', 3)])).toEqual([null, null, null])
    expect(store.telemetry.countForDevice('a')).toBe(2)
    expect(store.shadows.get('a', 'Dust')).toMatchObject({ version: 2, reported_json: '{"pm25":3}' })
    expect(store.devices.get('a')?.shadow_version).toBe(2)
    const rows = store.outbox.head(Lane.telemetry, 10)
    expect(rows.map((r) => r.device_id)).toEqual(['a', 'b'])
    const records = (JSON.parse(rows[0]!.payload) as { data: { serviceData: { pm25: number } }[] }).data
    expect(records.map((r) => r.serviceData.pm25)).toEqual([1, 3])
    expect(new Set(rows.map((r) => r.idem_key)).size).toBe(2)
  })

  it('a poisoned item fails alone: its neighbours are committed, it writes nothing', () => {
    const writer = new IngestWriter(store)
    // 'ghost' is not registered: its shadow row violates the foreign key, so its transaction fails.
    const results = writer.write([item('a', 1), item('ghost', 2), item('b', 3)])
    expect(results[0]).toBeNull()
    expect(results[1]).toMatch(/FOREIGN KEY/)
    expect(results[2]).toBeNull()
    expect(store.telemetry.countForDevice('ghost')).toBe(0)
    expect(store.outbox.head(Lane.telemetry, 10).map((r) => r.device_id)).toEqual(['a', 'b'])
    // The failed batch left no stale cache behind: versions continue from what is in SQLite.
    expect(writer.write([item('a', 4)])).toEqual([null])
    expect(store.shadows.get('a', 'Dust')?.version).toBe(2)
  })
})
