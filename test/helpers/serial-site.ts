// A site with one RS-485 bus for the serial suites: a socat PTY pair, the Modbus slave simulator on the
// device end, and a real gateway polling the other end, logged in over real HTTP.
import type { SerialConfig } from '../../src/serial/config.ts'
import type { PortStatus } from '../../src/serial/status.ts'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  removeDir,
  startGateway,
} from './gateway.ts'
import { ModbusSlaveSimulator, type SimulatorOptions } from './modbus-slave.ts'
import { waitFor } from './mqtt.ts'
import { PtyPair } from './pty-pair.ts'

export type SerialPortConfig = Omit<SerialConfig['ports'][number], 'path'>

export interface SerialSite {
  pty: PtyPair
  sim: ModbusSlaveSimulator
  gw: RunningGateway
  session: AppSession
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>
  /** GET /sitegate/v1/serial → the bus's port. */
  port(): Promise<PortStatus>
  slave(unitId: number): Promise<PortStatus['slaves'][number]>
  deviceId(nodeId: string): string
  /** The reported properties of a service, from the shadow API (§4.9). */
  reported(deviceId: string, serviceId: string): Promise<Record<string, unknown> | undefined>
  deviceStatus(deviceId: string): Promise<string>
  close(): Promise<void>
}

export async function openSerialSite(
  port: SerialPortConfig,
  options: { simulator?: SimulatorOptions; setup?: (sim: ModbusSlaveSimulator) => void } = {},
): Promise<SerialSite> {
  const pty = await PtyPair.open()
  const sim = await ModbusSlaveSimulator.open(pty.devicePath, options.simulator)
  options.setup?.(sim)
  const gw = await startGateway({
    config: (c) => {
      c.serial = { ports: [{ path: pty.gatewayPath, ...port }] }
    },
  })
  const session = await login(gw.httpUrl, firstApp(gw.dataDir))
  const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
    callApi<T>(gw.httpUrl, session, method, path, body)
  const site: SerialSite = {
    pty,
    sim,
    gw,
    session,
    api,
    async port() {
      const res = await api<{ ports: PortStatus[] }>('GET', '/sitegate/v1/serial')
      if (res.status !== 200) throw new Error(`GET /sitegate/v1/serial: ${res.status}`)
      return res.body.ports[0]!
    },
    async slave(unitId) {
      const p = await site.port()
      return p.slaves.find((s) => s.unitId === unitId)!
    },
    deviceId(nodeId) {
      const identity = gw.gateway.registry.lookup(nodeId, 'nodeId')
      if (!identity) throw new Error(`no device ${nodeId}`)
      return identity.deviceId
    },
    async reported(deviceId, serviceId) {
      const res = await api<{ services: { serviceId: string; reportedProps: Record<string, unknown> }[] }>(
        'GET',
        `/iocm/app/shadow/v1.5.0/devices/${deviceId}`,
      )
      return res.body.services?.find((s) => s.serviceId === serviceId)?.reportedProps
    },
    async deviceStatus(deviceId) {
      const res = await api<{ deviceInfo: { status: string } }>(
        'GET',
        `/iocm/app/dm/v1.4.0/devices/${deviceId}`,
      )
      return res.body.deviceInfo.status
    },
    async close() {
      try {
        await gw.stop()
      } finally {
        await sim.close()
        await pty.close()
        removeDir(gw.dataDir)
      }
    },
  }
  return site
}

/** Waits until a slave's status satisfies `check`. */
export function waitForSlave(
  site: SerialSite,
  unitId: number,
  what: string,
  check: (s: PortStatus['slaves'][number]) => boolean,
  timeoutMs = 10_000,
) {
  return waitFor(
    async () => {
      const s = await site.slave(unitId)
      return check(s) ? s : undefined
    },
    what,
    timeoutMs,
  )
}
