// The device view cache (src/devices/view-cache.ts) on a real SQLite file: its bodies are the bytes the views
// made before it existed, it forgets what it is told was written, and it stays within its bound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { deviceInfoOf, deviceRecordOf } from '../../src/devices/view.ts'
import { DeviceViewCache } from '../../src/devices/view-cache.ts'
import { shadowViewOf } from '../../src/shadows/service.ts'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

describe('DeviceViewCache', () => {
  let dir: string
  let store: Store
  let views: DeviceViewCache

  const addDevice = (id: string, app = 'app', at = 1_700_000_000_000) =>
    store.devices.insert({
      device_id: id,
      app_id: app,
      node_id: `node-${id}`,
      secret: 's',
      psk: 'p',
      gateway_id: id,
      node_type: 'ENDPOINT',
      name: `name-${id}`,
      device_type: null,
      model: null,
      manufacturer_id: null,
      manufacturer_name: null,
      protocol_type: null,
      product_id: null,
      location: null,
      info_json: '{"imsi":"460001"}',
      created_at: at,
      modified_at: at,
    })
  const report = (id: string, serviceId: string, data: Record<string, unknown>, at: number) =>
    store.shadows.upsertReported({
      device_id: id,
      service_id: serviceId,
      service_type: serviceId,
      reported_json: JSON.stringify(data),
      version: 1,
      event_time: at,
      modified_at: at,
    })

  beforeEach(() => {
    dir = tempDir()
    store = createStore(openDatabase(`${dir}/t.db`))
    store.db.exec(`INSERT INTO applications (app_id, name, secret_hash, source, created_at)
      VALUES ('app', 'a', 'x', 'cli', 0), ('other', 'o', 'x', 'cli', 0)`)
    views = new DeviceViewCache(store, 3)
  })
  afterEach(() => {
    store.db.close()
    removeDir(dir)
  })

  it('answers the bytes JSON.stringify makes of the views, for the owning application only', () => {
    addDevice('d1')
    report('d1', 'Env', { t: 1 }, 1_700_000_001_000)
    report('d1', 'Bat', { level: 80 }, 1_700_000_002_000)
    const row = store.devices.get('d1')!
    const rows = store.shadows.forDevice('d1')
    expect(views.shadowJson('app', 'd1')).toBe(JSON.stringify(shadowViewOf(row, rows, deviceInfoOf(row))))
    expect(views.recordJson('app', 'd1', false)).toBe(JSON.stringify(deviceRecordOf(row, rows, false)))
    expect(views.recordJson('app', 'd1', true)).toBe(JSON.stringify(deviceRecordOf(row, rows, true)))
    // The wire shapes, field order included (§4.9, §5.1): what clients of the earlier serialiser got.
    const shadow = JSON.parse(views.shadowJson('app', 'd1')!) as Record<string, Record<string, unknown>[]>
    expect(Object.keys(shadow)).toEqual([
      'deviceId',
      'gatewayId',
      'nodeType',
      'createTime',
      'lastModifiedTime',
      'deviceInfo',
      'services',
    ])
    expect(shadow.createTime).toBe('20231114T221320Z')
    expect(shadow.lastModifiedTime).toBe('20231114T221322Z')
    expect(Object.keys(shadow.services![0]!)).toEqual([
      'serviceId',
      'reportedProps',
      'desiredProps',
      'eventTime',
      'serviceType',
    ])
    const record = JSON.parse(views.recordJson('app', 'd1', true)!) as Record<string, unknown>
    expect(Object.keys(record)).toEqual([...Object.keys(shadow).slice(0, 7), 'alarmInfo'])
    expect(record.deviceInfo).toMatchObject({
      nodeId: 'node-d1',
      name: 'name-d1',
      imsi: '460001',
      model: null,
    })
    expect(views.shadowJson('other', 'd1')).toBeUndefined()
    expect(views.recordJson('other', 'd1', false)).toBeUndefined()
    expect(views.shadowJson('app', 'missing')).toBeUndefined()
  })

  it('keeps serving what it read until told the device was written', () => {
    addDevice('d1')
    report('d1', 'Env', { t: 1 }, 1_700_000_001_000)
    expect(views.shadowJson('app', 'd1')).toContain('"t":1')
    // Written behind its back (as the writer thread does before its batch result arrives): still the old body.
    report('d1', 'Env', { t: 2 }, 1_700_000_003_000)
    expect(views.shadowJson('app', 'd1')).toContain('"t":1')
    views.invalidateMany(['d1'])
    expect(views.shadowJson('app', 'd1')).toContain('"t":2')
    report('d1', 'Env', { t: 3 }, 1_700_000_004_000)
    views.invalidateMany(null)
    expect(views.shadowJson('app', 'd1')).toContain('"t":3')
    report('d1', 'Env', { t: 4 }, 1_700_000_005_000)
    views.invalidate('d1')
    expect(views.recordJson('app', 'd1', false)).toContain('"t":4')
  })

  it('the repositories tell it of every write when wired as the gateway does', () => {
    store.devices.onWrite = (id) => views.invalidate(id)
    store.shadows.onWrite = (id) => views.invalidate(id)
    addDevice('d1')
    expect(views.shadowJson('app', 'd1')).toContain('"status":"INACTIVE"')
    store.devices.setOnline('d1', 1_700_000_010_000)
    expect(views.shadowJson('app', 'd1')).toContain('"status":"ONLINE"')
    store.devices.update('d1', { name: 'renamed' }, 1_700_000_011_000)
    expect(views.recordJson('app', 'd1', false)).toContain('"name":"renamed"')
    report('d1', 'Env', { t: 9 }, 1_700_000_012_000)
    expect(views.shadowJson('app', 'd1')).toContain('"t":9')
    store.devices.resetOnline()
    expect(views.shadowJson('app', 'd1')).toContain('"status":"OFFLINE"')
    store.devices.delete('d1')
    expect(views.shadowJson('app', 'd1')).toBeUndefined()
  })

  it('a page keeps the order of its ids, reads the missing devices, and leaves out deleted ones', () => {
    for (const id of ['a', 'b', 'c']) {
      addDevice(id)
      report(id, 'Env', { id }, 1_700_000_001_000)
    }
    expect(views.shadowJson('app', 'b')).toBeDefined()
    const { total, records } = views.page(() => ({ total: 7, ids: ['c', 'gone', 'b', 'a'] }), false)
    expect(total).toBe(7)
    expect(records.map((r) => (JSON.parse(r) as { deviceId: string }).deviceId)).toEqual(['c', 'b', 'a'])
    expect(records[0]).toBe(
      JSON.stringify(deviceRecordOf(store.devices.get('c')!, store.shadows.forDevice('c'), false)),
    )
  })

  it('holds at most its bound, dropping the oldest loaded first', () => {
    for (const id of ['a', 'b', 'c', 'd']) addDevice(id)
    for (const id of ['a', 'b', 'c']) views.shadowJson('app', id)
    expect(views.size).toBe(3)
    views.shadowJson('app', 'd')
    expect(views.size).toBe(3)
    // 'a' went first: it is read again (and shows a write it was not told of).
    report('a', 'Env', { fresh: true }, 1_700_000_001_000)
    expect(views.shadowJson('app', 'a')).toContain('"fresh":true')
  })
})
