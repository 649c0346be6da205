// Snapshot storage against a real gateway: files under DATA_DIR/snapshots indexed in the SQLite file, the byte
// quota with oldest-first eviction, the outbox's snapshot lane, the REST listing by time range with paging, and
// what survives a restart and a camera's deletion.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lane } from '../../src/store/repos/outbox.ts'
import { toPlatformTime } from '../../src/time.ts'
import { fakeJpeg, HttpCamera, registerCamera } from '../helpers/camera-simulator.ts'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  removeDir,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'

interface SnapshotView {
  snapshotId: string
  deviceId: string
  time: string
  size: number
  sha256: string
  contentType: string
  source: string
}

const QUOTA = 1024 * 1024

describe('camera snapshots', () => {
  const dataDir = tempDir()
  let gw: RunningGateway
  let session: AppSession
  const start = async () => {
    gw = await startGateway({
      dataDir,
      config: (c) => {
        c.cameras.snapshotQuotaBytes = QUOTA
        c.cameras.maxImageBytes = 400 * 1024
      },
    })
    session = await login(gw.httpUrl, firstApp(dataDir))
  }
  beforeAll(start)
  afterAll(async () => {
    await gw.stop()
    removeDir(dataDir)
  })

  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const list = async (deviceId: string, query = '') =>
    (await api('GET', `/sitegate/v1/cameras/${deviceId}/snapshots${query}`)).body as {
      totalCount: number
      pageNo: number
      pageSize: number
      snapshots: SnapshotView[]
    }
  const now = Math.floor(Date.now() / 1000)
  let camera: { deviceId: string; secret: string; sn: string }
  let cam: HttpCamera
  const images = [0, 1, 2, 3, 4].map((i) => fakeJpeg(300_000, i))

  it('keeps the newest snapshots within the byte quota, deleting the oldest files first', async () => {
    camera = await registerCamera(gw.httpUrl, session.headers, '200000000777')
    cam = new HttpCamera(camera.sn, `${gw.httpUrl}/cameras/v1/upload`, camera.secret)
    for (const [i, image] of images.entries()) {
      expect((await cam.uploadSnapshot(image, now - 50 + i * 10)).body.ret).toBe(0)
    }
    const all = await list(camera.deviceId)
    // 3 × 300,000 bytes fit in 1 MiB, 4 do not.
    expect(all.totalCount).toBe(3)
    expect(all.snapshots.map((s) => s.time)).toEqual([
      toPlatformTime((now - 10) * 1000),
      toPlatformTime((now - 20) * 1000),
      toPlatformTime((now - 30) * 1000),
    ])
    expect(readdirSync(join(dataDir, 'snapshots', camera.deviceId))).toHaveLength(3)
    const usage = gw.gateway.store.cameras.usage()
    expect(usage).toEqual({ bytes: 900_000, count: 3 })
  })

  it('puts every snapshot in the outbox snapshot lane; an evicted one reads as undefined', async () => {
    const rows = gw.gateway.store.outbox
      .head(Lane.snapshot, 100)
      .filter((r) => r.device_id === camera.deviceId)
    expect(rows).toHaveLength(5)
    const payloads = rows.map((r) => JSON.parse(r.payload) as Record<string, unknown>)
    expect(rows.every((r) => r.kind === 'snapshot')).toBe(true)
    expect(payloads[4]).toMatchObject({
      deviceId: camera.deviceId,
      time: toPlatformTime((now - 10) * 1000),
      size: 300_000,
      contentType: 'image/jpeg',
    })
    expect(await gw.gateway.snapshots.read(payloads[0]?.snapshotId as string)).toBeUndefined()
    const newest = await gw.gateway.snapshots.read(payloads[4]?.snapshotId as string)
    expect(newest?.contentType).toBe('image/jpeg')
    expect(newest?.bytes.equals(images[4] as Buffer)).toBe(true)
  })

  it('lists by time range with paging, newest first', async () => {
    const range = `?startTime=${toPlatformTime((now - 25) * 1000)}&endTime=${toPlatformTime(now * 1000)}`
    const page0 = await list(camera.deviceId, `${range}&pageSize=1&pageNo=0`)
    const page1 = await list(camera.deviceId, `${range}&pageSize=1&pageNo=1`)
    expect(page0.totalCount).toBe(2)
    expect(page0.snapshots.map((s) => s.time)).toEqual([toPlatformTime((now - 10) * 1000)])
    expect(page1.snapshots.map((s) => s.time)).toEqual([toPlatformTime((now - 20) * 1000)])
    const bad = await api('GET', `/sitegate/v1/cameras/${camera.deviceId}/snapshots?startTime=yesterday`)
    expect(bad.status).toBe(400)
  })

  it('answers 404 for an evicted snapshot and for one asked through another device', async () => {
    const other = await registerCamera(gw.httpUrl, session.headers, '200000000778')
    const [first] = (await list(camera.deviceId)).snapshots
    const wrong = await api('GET', `/sitegate/v1/cameras/${other.deviceId}/snapshots/${first?.snapshotId}`)
    expect(wrong.status).toBe(404)
    const rows = gw.gateway.store.outbox.head(Lane.snapshot, 1)
    const evictedId = (JSON.parse(rows[0]?.payload ?? '{}') as { snapshotId: string }).snapshotId
    const gone = await api('GET', `/sitegate/v1/cameras/${camera.deviceId}/snapshots/${evictedId}`)
    expect(gone.status).toBe(404)
    expect(gone.body.error_code).toBe('100225')
  })

  it('keeps snapshots across a restart, and removes them with the camera', async () => {
    await gw.stop()
    await start()
    const after = await list(camera.deviceId)
    expect(after.totalCount).toBe(3)
    const res = await fetch(
      `${gw.httpUrl}/sitegate/v1/cameras/${camera.deviceId}/snapshots/${after.snapshots[0]?.snapshotId}`,
      {
        headers: session.headers,
      },
    )
    expect(Buffer.from(await res.arrayBuffer()).equals(images[4] as Buffer)).toBe(true)
    expect((await api('DELETE', `/iocm/app/dm/v1.4.0/devices/${camera.deviceId}`)).status).toBe(204)
    expect(gw.gateway.store.cameras.usage()).toEqual({ bytes: 0, count: 0 })
    await expect
      .poll(() => existsSync(join(dataDir, 'snapshots', camera.deviceId)), { timeout: 10_000 })
      .toBe(false)
  })
})
