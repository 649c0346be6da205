import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

/** A chunk of `n` one-entry messages whose serviceData.i runs from `from`. */
function chunkOf(from: number, n: number): string {
  const messages = Array.from({ length: n }, (_, k) => ({
    msgType: 'deviceReq',
    data: [{ serviceId: 'S', serviceData: { i: from + k }, eventTime: '20260102T030405Z' }],
  }))
  return JSON.stringify(messages)
}

describe('TelemetryRepo history paging over chunks', () => {
  let dir: string
  let store: Store
  beforeEach(() => {
    dir = tempDir()
    store = createStore(openDatabase(`${dir}/t.db`))
    store.db.exec(`INSERT INTO applications (app_id, name, secret_hash, source, created_at) VALUES ('app', 'a', 'x', 'cli', 0);
      INSERT INTO devices (device_id, app_id, node_id, secret, psk, gateway_id, node_type, info_json, created_at,
        modified_at) VALUES ('d', 'app', 'n', 's', 'p', 'd', 'ENDPOINT', '{}', 0, 0)`)
    // Records 0..9 in chunks of 3, 4 and 3.
    for (const [from, n] of [
      [0, 3],
      [3, 4],
      [7, 3],
    ] as const) {
      const t = Date.UTC(2026, 0, 2, 3, 4, 5)
      store.telemetry.insert({
        deviceId: 'd',
        firstEvent: t,
        lastEvent: t,
        receivedAt: from,
        records: n,
        body: chunkOf(from, n),
      })
    }
  })
  afterEach(() => {
    store.db.close()
    removeDir(dir)
  })

  const page = (limit: number, offset: number) =>
    store.telemetry.forDevice('d', limit, offset).map((r) => (r.data as { i: number }).i)

  it('pages newest first across chunk boundaries', () => {
    expect(page(100, 0)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    expect(page(4, 0)).toEqual([9, 8, 7, 6])
    expect(page(4, 4)).toEqual([5, 4, 3, 2])
    expect(page(4, 8)).toEqual([1, 0])
    expect(page(2, 3)).toEqual([6, 5])
    expect(page(5, 10)).toEqual([])
  })

  it('counts records, not chunks, and deletes a device history', () => {
    expect(store.telemetry.countForDevice('d')).toBe(10)
    expect(store.telemetry.count()).toBe(10)
    store.telemetry.deleteDevice('d')
    expect(store.telemetry.countForDevice('d')).toBe(0)
  })
})
