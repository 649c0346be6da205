import { readdirSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import type { BusSlave, ModbusBus } from './modbus-bus.ts'
import type { SerialLine } from './serial-line.ts'
import { serialPortClass } from './serialport-module.ts'
import type { SlaveCounters, SlavePhase } from './slave-state.ts'

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export interface SlaveStatus extends SlaveCounters {
  unitId: number
  nodeId: string
  deviceId: string | null
  /** unknown (not answered yet), online, quarantined, offline (its port is away). */
  state: SlavePhase
  quarantined: boolean
  failuresInARow: number
  lastSuccess: string | null
  lastError: string | null
  nextProbe: string | null
}

export interface PortStatus extends SlaveCounters {
  path: string
  baudRate: number
  dataBits: number
  parity: string
  stopBits: number
  turnaroundMs: number
  /** closed, opening, open, stopped. */
  state: string
  openedAt: string | null
  closedAt: string | null
  lastError: string | null
  openAttempts: number
  nextOpenAttempt: string | null
  queuedWrites: number
  slaves: SlaveStatus[]
}

const COUNTERS = [
  'requests',
  'responses',
  'timeouts',
  'crcErrors',
  'exceptions',
  'badFrames',
  'quarantines',
] as const

export function portStatus(
  line: SerialLine,
  bus: ModbusBus,
  deviceIdOf: (slave: BusSlave) => string | undefined,
): PortStatus {
  const l = line.snapshot()
  const { spec } = line
  const slaves = bus.slaves.map(
    (slave): SlaveStatus => ({
      unitId: slave.spec.unitId,
      nodeId: slave.spec.nodeId,
      deviceId: deviceIdOf(slave) ?? null,
      state: slave.state.phase,
      quarantined: slave.state.quarantined,
      failuresInARow: slave.state.failuresInARow,
      ...slave.state.counters,
      lastSuccess: iso(slave.state.lastSuccessAt),
      lastError: slave.state.lastError,
      nextProbe: slave.state.quarantined ? iso(slave.state.probeAt) : null,
    }),
  )
  const totals = Object.fromEntries(
    COUNTERS.map((name) => [name, slaves.reduce((sum, s) => sum + s[name], 0)]),
  ) as unknown as SlaveCounters
  return {
    path: spec.path,
    baudRate: spec.baudRate,
    dataBits: spec.dataBits,
    parity: spec.parity,
    stopBits: spec.stopBits,
    turnaroundMs: spec.turnaroundMs,
    state: l.state,
    openedAt: iso(l.openedAt),
    closedAt: iso(l.closedAt),
    lastError: l.lastError,
    openAttempts: l.openAttempts,
    nextOpenAttempt: iso(l.nextAttemptAt),
    queuedWrites: bus.queuedWrites,
    ...totals,
    slaves,
  }
}

export interface AvailablePort {
  path: string
  /** The stable /dev/serial/by-id links to it: the paths to configure. */
  byId: string[]
  manufacturer: string | null
  serialNumber: string | null
  vendorId: string | null
  productId: string | null
  pnpId: string | null
}

const BY_ID = '/dev/serial/by-id'

/** The serial ports the operating system knows (for the dashboard's port picker). */
export async function availablePorts(): Promise<AvailablePort[]> {
  const links = new Map<string, string[]>()
  try {
    for (const name of readdirSync(BY_ID)) {
      const link = join(BY_ID, name)
      try {
        const target = realpathSync(link)
        links.set(target, [...(links.get(target) ?? []), link])
      } catch {
        // a dangling link: its adapter is being unplugged
      }
    }
  } catch {
    // no USB serial adapters: the directory does not exist
  }
  const ports = await serialPortClass().list()
  return ports.map((p) => ({
    path: p.path,
    byId: links.get(p.path) ?? [],
    manufacturer: p.manufacturer ?? null,
    serialNumber: p.serialNumber ?? null,
    vendorId: p.vendorId ?? null,
    productId: p.productId ?? null,
    pnpId: p.pnpId ?? null,
  }))
}
