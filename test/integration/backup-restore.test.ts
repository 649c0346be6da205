// Backup and restore (issue 10 item 6) through the real CLI: `sitegate backup` taken while a gateway (its own
// process) runs and writes, `sitegate restore` into another data directory, and a gateway started on the
// restored directory serving every device, shadow, command, snapshot and pending outbox row of the backup.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { createGzip, gunzipSync, gzipSync } from 'node:zlib'
import BetterSqlite3 from 'better-sqlite3'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deviceCredentials } from '../../src/broker/credentials.ts'
import { MANIFEST_NAME } from '../../src/ops/backup/manifest.ts'
import { TarWriter } from '../../src/ops/backup/tar.ts'
import { openDatabase } from '../../src/store/db.ts'
import { knownMigrations } from '../../src/store/migrate.ts'
import { fakeJpeg, HttpCamera, registerCamera } from '../helpers/camera-simulator.ts'
import {
  type ApiResponse,
  type AppSession,
  callApi,
  connectDevice,
  deviceReq,
  firstApp,
  login,
  ROOT,
  registerDevice,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { commandTopic, dataTopic, publishAcked, subscribeGranted } from '../helpers/mqtt.ts'

const run = promisify(execFile)

/** Runs the CLI; resolves with its exit code and output whatever the code. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      timeout: 60_000,
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

const startOn = (dataDir: string) =>
  spawnGateway(['--data-dir', dataDir, '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0'])

async function stopGateway(gw: SpawnedGateway | undefined): Promise<void> {
  if (!gw || gw.child.exitCode !== null) return
  gw.child.kill('SIGTERM')
  await gw.exited
}

/** What a restore must bring back, read from a gateway's SQLite file (a second connection: WAL allows it). */
function contents(dataDir: string) {
  const db = new BetterSqlite3(join(dataDir, 'sitegate.db'), { readonly: true })
  try {
    const all = (sql: string) => db.prepare(sql).all()
    return {
      devices: all('SELECT device_id, node_id, secret FROM devices ORDER BY device_id'),
      shadows: all(
        'SELECT device_id, service_id, reported_json, desired_json, desired_version FROM shadows ORDER BY device_id, service_id',
      ),
      commands: all('SELECT command_id, device_id, status FROM commands ORDER BY command_id'),
      outbox: all('SELECT seq, lane, kind, device_id, idem_key, payload FROM outbox ORDER BY seq'),
    }
  } finally {
    db.close()
  }
}

describe('backup and restore', () => {
  let dir: string
  let source: string
  let gw: SpawnedGateway
  let restoredGw: SpawnedGateway | undefined
  let session: AppSession
  let api: (method: string, path: string, body?: unknown) => Promise<ApiResponse>
  let sensor: { deviceId: string; secret: string }
  let valve: { deviceId: string; secret: string }
  let pump: { deviceId: string; secret: string }
  let camera: { deviceId: string; secret: string; sn: string }
  let image: Buffer
  let snapshotId: string
  let commandId: string
  let client: MqttClient
  let before: ReturnType<typeof contents>
  let backupFile: string

  beforeAll(async () => {
    dir = tempDir('sitegate-backup-')
    source = join(dir, 'source')
    gw = await startOn(source)
    const httpUrl = `http://127.0.0.1:${gw.httpPort}`
    session = await login(httpUrl, firstApp(source))
    api = (method, path, body) => callApi(httpUrl, session, method, path, body)
    sensor = await registerDevice(httpUrl, session, 'dust-1')
    valve = await registerDevice(httpUrl, session, 'valve-1')
    pump = await registerDevice(httpUrl, session, 'pump-1')
    // A persistent session with a subscription: broker state (data/broker) that the backup must carry.
    client = await connectDevice(
      `mqtt://127.0.0.1:${gw.mqttPort}`,
      { id: sensor.deviceId, secret: sensor.secret },
      { clean: false },
    )
    expect(await subscribeGranted(client, commandTopic(sensor.deviceId))).toEqual([1])
    for (const pm25 of [31, 32, 33]) {
      await publishAcked(
        client,
        dataTopic(sensor.deviceId),
        deviceReq([{ serviceId: 'Dust', serviceData: { pm25 } }]),
      )
    }
    // Desired state and a cached command for devices that are offline: both wait in the ledger.
    expect(
      (
        await api('PUT', `/iocm/app/shadow/v1.5.0/devices/${valve.deviceId}`, {
          serviceDesireds: [{ serviceId: 'Valve', desired: { open: 40 } }],
        })
      ).status,
    ).toBe(200)
    const cmd = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId: pump.deviceId,
      command: { serviceId: 'Pump', method: 'START', paras: { speed: 2 } },
    })
    expect(cmd.status).toBe(201)
    commandId = cmd.body.commandId as string
    // A camera snapshot: a file under data/snapshots and its index row.
    camera = await registerCamera(httpUrl, session.headers, 'CAM-BACKUP-1')
    image = fakeJpeg(40_000, 7)
    const cam = new HttpCamera(camera.sn, `${httpUrl}/cameras/v1/upload`, camera.secret)
    expect((await cam.uploadSnapshot(image)).body.ret).toBe(0)
    const list = await api('GET', `/sitegate/v1/cameras/${camera.deviceId}/snapshots`)
    snapshotId = (list.body.snapshots as { snapshotId: string }[])[0]!.snapshotId
    before = contents(source)
  })
  afterAll(async () => {
    client?.end(true)
    await stopGateway(gw)
    await stopGateway(restoredGw)
    removeDir(dir)
  })

  it('takes a backup while the gateway runs', async () => {
    backupFile = join(dir, 'site.tar.gz')
    const res = await cli('backup', backupFile, '--data-dir', source)
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    const summary = JSON.parse(res.stdout) as {
      online: boolean
      counts: Record<string, number>
      vanished: string[]
    }
    expect(summary.online).toBe(true)
    expect(summary.counts).toMatchObject({
      devices: 4,
      commands: before.commands.length,
      outbox: before.outbox.length,
      snapshots: 1,
    })
    expect(summary.vanished).toEqual([])
    // The gateway keeps going; what happens after the backup is not in it.
    await publishAcked(
      client,
      dataTopic(sensor.deviceId),
      deviceReq([{ serviceId: 'Dust', serviceData: { pm25: 999 } }]),
    )
  })

  it('refuses to restore into the data directory of a running gateway', async () => {
    const res = await cli('restore', backupFile, '--data-dir', source, '--force')
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/is in use by a running gateway/)
  })

  it('restores into a new directory, and a gateway started on it serves everything the backup held', async () => {
    const target = join(dir, 'restored')
    const res = await cli('restore', backupFile, '--data-dir', target)
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    // The schema version of this build: the newest migration it ships.
    const schemaVersion = Math.max(...knownMigrations().map((m) => m.version))
    expect(JSON.parse(res.stdout)).toMatchObject({ dataDir: target, schemaVersion })
    // Exactly the rows of the moment of the backup (nothing written afterwards, nothing lost).
    const restored = contents(target)
    expect(restored.devices).toEqual(before.devices)
    expect(restored.shadows).toEqual(before.shadows)
    expect(restored.commands).toEqual(before.commands)
    expect(restored.outbox).toEqual(before.outbox)
    expect(restored.outbox.length).toBeGreaterThanOrEqual(4)

    restoredGw = await startOn(target)
    const httpUrl = `http://127.0.0.1:${restoredGw.httpPort}`
    const s2 = await login(httpUrl, firstApp(target))
    const api2 = (method: string, path: string, body?: unknown) => callApi(httpUrl, s2, method, path, body)
    for (const d of [sensor, valve, pump, camera]) {
      expect((await api2('GET', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`)).status).toBe(200)
    }
    const history = await api2(
      'GET',
      `/iocm/app/data/v1.2.0/deviceDataHistory?deviceId=${sensor.deviceId}&pageSize=100`,
    )
    expect(
      (history.body.deviceDataHistoryDTOs as { data: { pm25: number } }[]).map((r) => r.data.pm25),
    ).toEqual([33, 32, 31])
    const shadow = await api2('GET', `/iocm/app/shadow/v1.5.0/devices/${valve.deviceId}`)
    const services = shadow.body.services as { serviceId: string; desiredProps: Record<string, unknown> }[]
    expect(services.find((x) => x.serviceId === 'Valve')?.desiredProps).toEqual({ open: 40 })
    const commands = await api2('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${pump.deviceId}`)
    expect(commands.body.data).toEqual([
      expect.objectContaining({
        commandId,
        status: 'PENDING',
        command: expect.objectContaining({ method: 'START' }),
      }),
    ])
    const snap = await fetch(`${httpUrl}/sitegate/v1/cameras/${camera.deviceId}/snapshots/${snapshotId}`, {
      headers: s2.headers,
    })
    expect(snap.status).toBe(200)
    expect(Buffer.from(await snap.arrayBuffer()).equals(image)).toBe(true)
    // Every outbox row of the backup is still waiting to go upstream on the restored gateway (before any device
    // publishes: a new shadow report would compact the device's pending shadow row into a new one).
    const keys = new Set(contents(target).outbox.map((r) => (r as { idem_key: string }).idem_key))
    for (const row of before.outbox) expect(keys.has((row as { idem_key: string }).idem_key)).toBe(true)
    // The devices' credentials came back too: the sensor connects to the restored gateway and is acknowledged.
    // Its persistent session (the broker store) came back as well: CONNACK says the session is present.
    const creds = deviceCredentials({ id: sensor.deviceId, secret: sensor.secret })
    const again = mqtt.connect(`mqtt://127.0.0.1:${restoredGw.mqttPort}`, {
      clientId: creds.clientId,
      username: creds.username,
      password: creds.password,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      again.once('connect', resolve)
      again.once('error', reject)
    })
    expect(connack.sessionPresent).toBe(true)
    await publishAcked(
      again,
      dataTopic(sensor.deviceId),
      deviceReq([{ serviceId: 'Dust', serviceData: { pm25: 34 } }]),
    )
    again.end(true)
    await stopGateway(restoredGw)
  })

  it('replaces a non-empty directory only with --force, keeping the old contents beside it', async () => {
    const target = join(dir, 'occupied')
    mkdirSync(target)
    writeFileSync(join(target, 'note.txt'), 'old contents')
    const refused = await cli('restore', backupFile, '--data-dir', target)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/is not empty; .*--force/)
    expect(readdirSync(target)).toEqual(['note.txt'])
    const forced = await cli('restore', backupFile, '--data-dir', target, '--force')
    expect(forced.code).toBe(0)
    const previous = (JSON.parse(forced.stdout) as { previous: string }).previous
    expect(readFileSync(join(previous, 'note.txt'), 'utf8')).toBe('old contents')
    expect(existsSync(join(target, 'sitegate.db'))).toBe(true)
  })

  it('refuses a damaged backup: a changed byte, a truncated file, not a backup at all', async () => {
    const tar = gunzipSync(readFileSync(backupFile))
    const changed = join(dir, 'changed.tar.gz')
    writeFileSync(changed, gzipSync(flipInEntry(tar, 'sitegate.db', 5000)))
    const a = await cli('restore', changed, '--data-dir', join(dir, 'r-changed'))
    expect(a.code).toBe(1)
    expect(a.stderr).toMatch(/damaged backup: sitegate\.db does not match its SHA-256/)
    expect(existsSync(join(dir, 'r-changed'))).toBe(false)

    const truncated = join(dir, 'truncated.tar.gz')
    const whole = readFileSync(backupFile)
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)))
    const b = await cli('restore', truncated, '--data-dir', join(dir, 'r-truncated'))
    expect(b.code).toBe(1)
    expect(b.stderr).toMatch(/not a readable sitegate backup/)
    expect(existsSync(join(dir, 'r-truncated'))).toBe(false)

    const other = join(dir, 'other.tar.gz')
    writeFileSync(other, 'hello')
    const c = await cli('restore', other, '--data-dir', join(dir, 'r-other'))
    expect(c.code).toBe(1)
    expect(c.stderr).toMatch(/not a readable sitegate backup/)
  })

  it('refuses the database of a newer sitegate, in backup and in restore', async () => {
    const newer = join(dir, 'newer')
    const db = openDatabase(join(newer, 'sitegate.db'))
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run()
    db.close()
    const backup = await cli('backup', join(dir, 'newer.tar.gz'), '--data-dir', newer)
    expect(backup.code).toBe(1)
    expect(backup.stderr).toMatch(/migration 999_future, which this sitegate does not know/)

    // An archive as a newer sitegate would write it.
    const file = join(dir, 'from-newer.tar.gz')
    const gzip = createGzip()
    const written = pipeline(gzip, createWriteStream(file))
    const tar = new TarWriter(gzip)
    const entry = await tar.addFile('sitegate.db', join(newer, 'sitegate.db'))
    const manifest = {
      format: 'sitegate-backup',
      version: 1,
      createdAt: new Date().toISOString(),
      sitegateVersion: '9.0.0',
      schema: { version: 999, migrations: [{ version: 999, name: 'future' }] },
      online: false,
      counts: {},
      files: [entry],
    }
    await tar.addBuffer(MANIFEST_NAME, Buffer.from(JSON.stringify(manifest)))
    await tar.finish()
    await written
    const restore = await cli('restore', file, '--data-dir', join(dir, 'r-newer'))
    expect(restore.code).toBe(1)
    expect(restore.stderr).toMatch(/taken by a newer sitegate \(9\.0\.0\)/)
    expect(existsSync(join(dir, 'r-newer'))).toBe(false)
    expect(
      createHash('sha256')
        .update(readFileSync(join(newer, 'sitegate.db')))
        .digest('hex'),
    ).toBe(entry.sha256)
  })
})

/** Flips one byte of an entry's content in an uncompressed tar (the header checksums do not cover content). */
function flipInEntry(tar: Buffer, name: string, at: number): Buffer {
  const out = Buffer.from(tar)
  let offset = 0
  while (offset < out.length) {
    const entryName = out.toString('utf8', offset, offset + 100).replace(/\0.*$/s, '')
    const size = Number.parseInt(out.toString('latin1', offset + 124, offset + 136).replace(/\0.*$/s, ''), 8)
    if (entryName === name) {
      out[offset + 512 + at] = out[offset + 512 + at]! ^ 0xff
      return out
    }
    offset += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${name} not in the archive`)
}
