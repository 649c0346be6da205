// The retention step (src/ops/retention-ops.ts) against a real SQLite file: what it deletes, what it keeps, and
// the totals migration 011 keeps by trigger.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type PruneArgs, pruneHistory } from '../../src/ops/retention-ops.ts'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { Lane } from '../../src/store/repos/outbox.ts'
import type { OpContext } from '../../src/store/write-ops.ts'
import type { ReportedShadows } from '../../src/telemetry/reported-shadows.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

const NOW = 1_800_000_000_000
const DAY = 86_400_000

describe('retention step', () => {
  let dir: string
  let store: Store
  const ctx = (): OpContext => ({ store, reported: {} as ReportedShadows, now: NOW })
  const args = (over: Partial<PruneArgs>): PruneArgs => ({
    history: 'telemetry',
    maxAgeMs: 0,
    maxBytes: 0,
    afterId: 0,
    stepRows: 1000,
    stepBytes: 1 << 30,
    ...over,
  })
  const chunkIds = () =>
    store.db.prepare('SELECT id FROM telemetry_chunk ORDER BY id').pluck().all() as number[]
  const totals = (name: string) =>
    store.db.prepare('SELECT records, bytes FROM history_totals WHERE name = ?').get(name) as {
      records: number
      bytes: number
    }
  /** A 100-byte chunk received `ageDays` ago, with a pending telemetry outbox row when `pending`. */
  const addChunk = (ageDays: number, pending: boolean): number => {
    const body = `[${'"x"'.padEnd(98, ' ')}]`
    const id = store.telemetry.insert({
      deviceId: 'd',
      firstEvent: 0,
      lastEvent: 0,
      receivedAt: NOW - ageDays * DAY,
      records: 1,
      body,
    })
    if (pending) store.outbox.append(Lane.telemetry, 'telemetry', 'd', `{"chunkId":${id}}`, 0, { ref: id })
    return id
  }

  beforeEach(() => {
    dir = tempDir()
    store = createStore(openDatabase(`${dir}/t.db`))
    store.db.exec(`INSERT INTO applications (app_id, name, secret_hash, source, created_at) VALUES ('app', 'a', 'x', 'cli', 0);
      INSERT INTO devices (device_id, app_id, node_id, secret, psk, gateway_id, node_type, info_json, created_at,
        modified_at) VALUES ('d', 'app', 'n', 's', 'p', 'd', 'ENDPOINT', '{}', 0, 0)`)
  })
  afterEach(() => {
    store.db.close()
    removeDir(dir)
  })

  it('prunes chunks older than the age limit, oldest first, and keeps the totals by trigger', () => {
    const ids = [10, 9, 8, 2, 1].map((age) => addChunk(age, false))
    expect(totals('telemetry')).toEqual({ records: 5, bytes: 500 })
    const r = pruneHistory(ctx(), args({ maxAgeMs: 5 * DAY }))
    expect(r).toMatchObject({ deleted: 3, deletedBytes: 300, done: true, records: 2, bytes: 200 })
    expect(chunkIds()).toEqual(ids.slice(3))
    expect(totals('telemetry')).toEqual({ records: 2, bytes: 200 })
  })

  it('keeps a chunk an outbox row still points at until that row is gone', () => {
    const old = addChunk(10, true)
    const older = addChunk(9, false)
    const r = pruneHistory(ctx(), args({ maxAgeMs: DAY }))
    expect(r).toMatchObject({ deleted: 1, keptForUpstream: 1 })
    expect(chunkIds()).toEqual([old])
    expect(older).toBeGreaterThan(old)
    // Acknowledged upstream (or dropped by the outbox quota): the row goes, then the chunk may.
    store.db.prepare('DELETE FROM outbox WHERE ref = ?').run(old)
    expect(pruneHistory(ctx(), args({ maxAgeMs: DAY })).deleted).toBe(1)
    expect(chunkIds()).toEqual([])
  })

  it('prunes by size down to the limit, newest kept, skipping chunks still waiting to go upstream', () => {
    const ids = [0, 0, 0, 0, 0, 0].map((_, i) => addChunk(0, i === 1))
    const r = pruneHistory(ctx(), args({ maxBytes: 250 }))
    // 600 bytes: the oldest unreferenced chunks go until at most 250 remain; ids[1] is kept for upstream.
    expect(r).toMatchObject({ done: true, keptForUpstream: 1, bytes: 200 })
    expect(chunkIds()).toEqual([ids[1], ids[5]])
  })

  it('works in bounded steps that continue where the previous one stopped', () => {
    for (let i = 0; i < 7; i++) addChunk(3, false)
    let afterId = 0
    let steps = 0
    for (;;) {
      const r = pruneHistory(ctx(), args({ maxAgeMs: DAY, stepRows: 3, afterId }))
      steps += 1
      expect(r.deleted).toBeLessThanOrEqual(3)
      afterId = r.nextAfterId
      if (r.done) break
    }
    expect(steps).toBe(3)
    expect(chunkIds()).toEqual([])
    // stepBytes bounds a step too.
    for (let i = 0; i < 4; i++) addChunk(3, false)
    expect(pruneHistory(ctx(), args({ maxAgeMs: DAY, stepBytes: 150 }))).toMatchObject({
      deleted: 2,
      done: false,
    })
  })

  it('prunes desired-state history by age and size', () => {
    const add = db(store)
    for (const [age, size] of [
      [30, 100],
      [20, 100],
      [1, 100],
      [0, 100],
    ] as const) {
      add.run('d', 'S', 'x'.repeat(size), 1, NOW - age * DAY)
    }
    expect(totals('desiredHistory')).toEqual({ records: 4, bytes: 400 })
    expect(pruneHistory(ctx(), args({ history: 'desiredHistory', maxAgeMs: 10 * DAY })).deleted).toBe(2)
    expect(pruneHistory(ctx(), args({ history: 'desiredHistory', maxBytes: 150 })).deleted).toBe(1)
    expect(totals('desiredHistory')).toEqual({ records: 1, bytes: 100 })
  })
})

function db(store: Store) {
  return store.db.prepare(
    'INSERT INTO shadow_desired_history (device_id, service_id, desired, version, at) VALUES (?, ?, ?, ?, ?)',
  )
}
