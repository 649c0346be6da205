// The real gateway the live fuzz targets talk to: started in this process on free loopback ports over a temp data
// dir (so that an exception it lets escape is seen by the harness), with a platform device, a OneJSON device, a
// camera and a spare device registered, and — when mosquitto is installed — upstream sync to a real mosquitto
// with a cloud simulator on it. A read-only SQLite connection of its own tells whether anything was committed.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { registerCamera } from '../helpers/camera-simulator.ts'
import { type CloudSimulator, simulateCloud } from '../helpers/cloud-simulator.ts'
import {
  type AppSession,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.ts'
import { type OneJsonDevice, registerOneJsonDevice } from '../helpers/onejson-device.ts'
import { upstreamConfig } from '../helpers/upstream.ts'
import type { Rng } from './prng.ts'

export interface Registered {
  deviceId: string
  secret: string
}

export interface FuzzGateway {
  gw: RunningGateway
  /** The application's credentials (to log in again). */
  app: { appId: string; secret: string }
  session: AppSession
  device: Registered
  /** REST calls may act on (even delete) this one. */
  spare: Registered
  camera: Registered & { sn: string }
  /** A second camera, for the HTTP transport. */
  httpCamera: Registered & { sn: string }
  onejson: OneJsonDevice
  /** With `upstream`: the gateway syncs to a real mosquitto on which the cloud simulator sits. */
  cloud: { broker: Mosquitto; sim: CloudSimulator } | undefined
  /** SQLite's data_version as seen by a connection of our own: it changes when anyone else commits. */
  version(): number
  count(table: string): number
  /** undefined when the gateway still logs in an application and accepts a device; else what failed. */
  stillServing(): Promise<string | undefined>
  stop(): Promise<void>
}

function hasMosquitto(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v mosquitto'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export const mosquittoInstalled = hasMosquitto

/**
 * Without `upstream` nothing but the fuzz inputs writes to the database while they run (no drain deleting
 * outbox rows), so "no commit at all" can be checked after each invalid input.
 */
export async function startFuzzGateway(rng: Rng, opts: { upstream?: boolean } = {}): Promise<FuzzGateway> {
  const broker = opts.upstream ? await startMosquitto() : undefined
  const sim = broker ? await simulateCloud(broker.url) : undefined
  const gw = await startGateway({
    config: (c) => {
      if (broker) upstreamConfig(broker.url)(c)
      // Commands created by fuzzed calls must not time out and retransmit (a write) while invalid inputs run.
      c.commands.responseTimeoutMs = 600_000
      c.commands.syncCallTimeoutMs = 100
      c.cameras.httpCommandWaitMs = 0
    },
  })
  const app = firstApp(gw.dataDir)
  const session = await login(gw.httpUrl, app)
  const tag = rng.int(0, 1e9).toString(36)
  const device = await registerDevice(gw.httpUrl, session, `fuzz-dev-${tag}`)
  const spare = await registerDevice(gw.httpUrl, session, `fuzz-spare-${tag}`)
  const sn = `FUZZCAM${tag}`.toUpperCase()
  const camera = await registerCamera(gw.httpUrl, session.headers, sn)
  const httpCamera = await registerCamera(gw.httpUrl, session.headers, `${sn}H`)
  const onejson = await registerOneJsonDevice(gw.httpUrl, session, `fuzz-oj-${tag}`, 'fuzzpid01')
  const db = new BetterSqlite3(join(gw.dataDir, 'sitegate.db'), { readonly: true, fileMustExist: true })
  return {
    gw,
    app,
    session,
    device,
    spare,
    camera,
    httpCamera,
    onejson,
    cloud: broker && sim ? { broker, sim } : undefined,
    version: () => db.pragma('data_version', { simple: true }) as number,
    count: (table) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    async stillServing() {
      try {
        const s = await login(gw.httpUrl, app)
        const d = await registerDevice(gw.httpUrl, s, `fuzz-after-${tag}`)
        return d.deviceId ? undefined : 'registration after the run returned no deviceId'
      } catch (err) {
        return `the gateway no longer serves: ${(err as Error).message}`
      }
    },
    async stop() {
      db.close()
      await sim?.close()
      await gw.stop()
      await broker?.dispose()
      removeDir(gw.dataDir)
    },
  }
}
