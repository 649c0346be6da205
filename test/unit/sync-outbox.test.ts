// The outbox as the sync engine sees it: rows → records, compaction, quotas (real SQLite file).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { Lane, type OutboxReadRow } from '../../src/store/repos/outbox.ts'
import type { OpContext } from '../../src/store/write-ops.ts'
import { contentOf } from '../../src/sync/records.ts'
import { enforceQuota } from '../../src/sync/sync-ops.ts'
import { ReportedShadows } from '../../src/telemetry/reported-shadows.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

let dir: string
let store: Store
beforeEach(() => {
  dir = tempDir('sitegate-outbox-')
  store = createStore(openDatabase(`${dir}/db.sqlite`, { synchronous: 'NORMAL' }))
})
afterEach(() => {
  store.db.close()
  removeDir(dir)
})

const ctx = (now: number): OpContext => ({ store, reported: new ReportedShadows(store), now })
const row = (over: Partial<OutboxReadRow>): OutboxReadRow => ({
  seq: 1,
  lane: Lane.telemetry,
  kind: 'telemetry',
  device_id: 'd1',
  idem_key: 'k',
  created_at: Date.UTC(2026, 0, 2, 3, 4, 5),
  payload: '{}',
  chunk: null,
  ...over,
})

describe('rows → records', () => {
  it('a telemetry row is one record per ServiceData entry of its chunk, with stable keys', () => {
    const chunk = JSON.stringify([
      {
        msgType: 'deviceReq',
        data: [{ serviceId: 'A', serviceData: { v: 1 }, eventTime: '20260102T030000Z' }],
      },
      {
        msgType: 'deviceReq',
        data: [
          { serviceId: 'A', serviceData: { v: 2 }, eventTime: '20260102T030001Z' },
          { serviceId: 'B', serviceData: { w: true }, eventTime: '20260102T030001Z' },
        ],
      },
    ])
    const out = contentOf(row({ chunk, idem_key: 'key1' }))
    expect(out.type).toBe('records')
    const records = out.type === 'records' ? out.records.map((r) => JSON.parse(r)) : []
    expect(records).toEqual([
      {
        serviceId: 'A',
        serviceData: { v: 1 },
        eventTime: '20260102T030000Z',
        deviceId: 'd1',
        kind: 'telemetry',
        idemKey: 'key1:0',
      },
      {
        serviceId: 'A',
        serviceData: { v: 2 },
        eventTime: '20260102T030001Z',
        deviceId: 'd1',
        kind: 'telemetry',
        idemKey: 'key1:1',
      },
      {
        serviceId: 'B',
        serviceData: { w: true },
        eventTime: '20260102T030001Z',
        deviceId: 'd1',
        kind: 'telemetry',
        idemKey: 'key1:2',
      },
    ])
    // The same row read again (a resend) gives the same keys.
    expect(contentOf(row({ chunk, idem_key: 'key1' }))).toEqual(out)
  })

  it('a telemetry row whose chunk is gone has nothing left to send', () => {
    expect(contentOf(row({ chunk: null }))).toEqual({ type: 'nothing' })
  })

  it('a shadow row is one record per service with its version', () => {
    const payload = JSON.stringify({
      deviceId: 'd1',
      services: [{ serviceId: 'A', reported: { v: 3 }, version: 4, eventTime: '20260102T030000Z' }],
    })
    const out = contentOf(row({ lane: Lane.shadow, kind: 'shadow.reported', payload, idem_key: 's' }))
    expect(out.type === 'records' && JSON.parse(out.records[0] ?? '')).toEqual({
      serviceId: 'A',
      serviceData: { reported: { v: 3 }, version: 4 },
      eventTime: '20260102T030000Z',
      deviceId: 'd1',
      kind: 'shadow',
      idemKey: 's:A',
    })
  })

  it('a command result is a record, or the answer to the cloud request it came from', () => {
    const local = JSON.stringify({
      commandId: 'c1',
      origin: 'ledger',
      serviceId: 'S',
      status: 'TIMEOUT',
      result: null,
    })
    const out = contentOf(
      row({ lane: Lane.commandResult, kind: 'command.result', payload: local, idem_key: 'r' }),
    )
    expect(out.type === 'records' && JSON.parse(out.records[0] ?? '')).toMatchObject({
      serviceId: 'S',
      kind: 'commandResult',
      serviceData: { commandId: 'c1', status: 'TIMEOUT' },
      eventTime: '20260102T030405Z',
    })
    const cloud = JSON.stringify({
      commandId: 'c2',
      origin: 'cloud',
      status: 'SUCCESSFUL',
      result: {},
      cloudRef: { id: '9' },
    })
    expect(
      contentOf(row({ lane: Lane.commandResult, kind: 'command.result', payload: cloud, idem_key: 'q' })),
    ).toEqual({
      type: 'reply',
      reply: {
        ref: { id: '9' },
        success: true,
        body: { deviceId: 'd1', commandId: 'c2', status: 'SUCCESSFUL', result: {}, idemKey: 'q' },
      },
    })
  })

  it('a snapshot row carries its image when the store still has it', () => {
    const payload = JSON.stringify({ snapshotId: 'p1', size: 3 })
    const out = contentOf(row({ lane: Lane.snapshot, kind: 'snapshot', payload }), (doc) =>
      doc.snapshotId === 'p1' ? { base64: 'AAEC' } : undefined,
    )
    expect(out.type === 'records' && JSON.parse(out.records[0] ?? '').serviceData).toEqual({
      snapshotId: 'p1',
      size: 3,
      image: 'AAEC',
    })
  })
})

describe('shadow compaction', () => {
  it('keeps one pending row per device, holding every service at its latest state, moved to the end', () => {
    const outbox = store.outbox
    outbox.appendShadow('d1', [{ serviceId: 'A', reported: { v: 1 } } as never], 1)
    outbox.append(Lane.shadow, 'shadow.reported', 'd2', JSON.stringify({ deviceId: 'd2', services: [] }), 2)
    outbox.appendShadow('d1', [{ serviceId: 'B', reported: { w: 1 } } as never], 3)
    outbox.appendShadow('d1', [{ serviceId: 'A', reported: { v: 2 } } as never], 4)
    const rows = outbox.head(Lane.shadow, 10)
    expect(rows.map((r) => r.device_id)).toEqual(['d2', 'd1'])
    expect(JSON.parse(rows[1]?.payload ?? '').services).toEqual([
      { serviceId: 'B', reported: { w: 1 } },
      { serviceId: 'A', reported: { v: 2 } },
    ])
    expect(outbox.totals()[Lane.shadow].records).toBe(2)
  })
})

describe('quotas', () => {
  const fill = (lane: 0 | 1 | 2 | 3 | 4, n: number, bytes: number, at: (i: number) => number) => {
    for (let i = 0; i < n; i++) store.outbox.append(lane, `k${lane}`, 'd', `{"i":${i}}`, at(i), { bytes })
  }
  const limits = { maxBytes: 1e12, maxAgeSeconds: 1e9, lanes: {}, maxRows: 10_000 }

  it('drops the oldest telemetry first, then snapshots, never safety, command results or shadows', () => {
    fill(Lane.safety, 5, 1000, () => 0)
    fill(Lane.commandResult, 5, 1000, () => 0)
    fill(Lane.shadow, 5, 1000, () => 0)
    fill(Lane.telemetry, 10, 1000, (i) => i)
    fill(Lane.snapshot, 10, 1000, (i) => i)
    const lengths = store.outbox.totals()
    const total = Object.values(lengths).reduce((s, t) => s + t.bytes, 0)
    // Room for everything but 15 rows' worth: all 10 telemetry rows go, then the 5 oldest snapshots.
    const report = enforceQuota(ctx(100), { ...limits, maxBytes: total - 15 * 1000 - 100 })
    expect(report.dropped).toEqual({ [Lane.telemetry]: 10, [Lane.snapshot]: 5 })
    const after = store.outbox.totals()
    expect([
      after[0].records,
      after[1].records,
      after[2].records,
      after[3].records,
      after[4].records,
    ]).toEqual([5, 5, 5, 0, 5])
    expect(store.outbox.head(Lane.snapshot, 10).map((r) => JSON.parse(r.payload).i)).toEqual([5, 6, 7, 8, 9])
    const drops = store.outbox.drops()
    expect(drops[Lane.telemetry]).toMatchObject({ records: 10, lastAt: 100 })
    expect(drops[Lane.snapshot].records).toBe(5)
    expect(drops[Lane.safety].records + drops[Lane.commandResult].records + drops[Lane.shadow].records).toBe(
      0,
    )
  })

  it('drops rows older than the age limit, and a lane over its own byte limit', () => {
    fill(Lane.telemetry, 10, 100, (i) => i * 1000)
    fill(Lane.snapshot, 10, 100, (i) => i * 1000)
    fill(Lane.commandResult, 3, 100, () => 0)
    const report = enforceQuota(ctx(10_500), {
      ...limits,
      maxAgeSeconds: 5,
      lanes: { snapshot: { maxBytes: 300 } },
    })
    // Telemetry written more than 5 s ago goes (6 rows); snapshots by age (6), then two more (of ~107 bytes
    // each) to come down to 300 bytes.
    expect(report.dropped).toEqual({ [Lane.telemetry]: 6, [Lane.snapshot]: 8 })
    expect(store.outbox.totals()[Lane.snapshot].bytes).toBeLessThanOrEqual(300)
    expect(store.outbox.totals()[Lane.commandResult].records).toBe(3)
  })

  it('works in bounded steps and says when there is more', () => {
    fill(Lane.telemetry, 30, 100, () => 0)
    const report = enforceQuota(ctx(1), { ...limits, maxBytes: 0, maxRows: 20 })
    expect(report).toEqual({ dropped: { [Lane.telemetry]: 20 }, more: true })
    expect(enforceQuota(ctx(1), { ...limits, maxBytes: 0, maxRows: 20 })).toEqual({
      dropped: { [Lane.telemetry]: 10 },
      more: false,
    })
  })
})
