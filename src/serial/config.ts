// The serial section resolved: every default filled in, and the rules a schema cannot express checked
// (duplicates, data types that do not fit a table, spans past the address space, …), each error naming its key.
import type { Static } from '@sinclair/typebox'
import type { DATA_TYPES, POINT_FUNCTIONS, SerialConfigSchema } from './config-schema.ts'

export type SerialConfig = Static<typeof SerialConfigSchema>
export type PointFunction = (typeof POINT_FUNCTIONS)[number]
export type DataType = (typeof DATA_TYPES)[number]
export type Order = 'big' | 'little'

/** Registers one value of a data type takes (a bool on a register is one register, non-zero = true). */
export const REGISTERS_OF: Record<DataType, number> = {
  bool: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
}

export interface PointSpec {
  name: string
  serviceId: string
  function: PointFunction
  address: number
  count: number
  dataType: DataType
  wordOrder: Order
  byteOrder: Order
  scale: number
  offset: number
  pollMs: number
  writable: boolean
  writeMultiple: boolean
  /** Coils or registers one read of the point covers. */
  span: number
}

export interface SlaveSpec {
  unitId: number
  nodeId: string
  name: string
  deviceType: string | undefined
  manufacturerName: string | undefined
  model: string | undefined
  timeoutMs: number
  retries: number
  quarantineAfter: number
  reprobeMs: number
  reprobeMaxMs: number
  points: PointSpec[]
}

export interface PortSpec {
  path: string
  baudRate: number
  dataBits: 5 | 6 | 7 | 8
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space'
  stopBits: 1 | 1.5 | 2
  turnaroundMs: number
  reopenMinMs: number
  reopenMaxMs: number
  slaves: SlaveSpec[]
}

export const isBitTable = (fn: PointFunction): boolean => fn === 'coil' || fn === 'discrete'

/** Modbus limits per read (application protocol v1.1b3 §6.1–6.4): 2000 coils, 125 registers. */
const MAX_BITS = 2000
const MAX_REGISTERS = 125

/**
 * Bits on the wire per character: start + data + parity + stop. Modbus over serial line §2.5.1 asks for
 * 11 (8 data bits with parity, or two stop bits); other framings are counted as configured.
 */
export function bitsPerChar(port: Pick<PortSpec, 'dataBits' | 'parity' | 'stopBits'>): number {
  return 1 + port.dataBits + (port.parity === 'none' ? 0 : 1) + port.stopBits
}

/**
 * Modbus over serial line §2.5.1.1: frames are separated by at least 3.5 character times, a fixed 1.75 ms
 * above 19200 baud; in whole milliseconds (the timer's resolution), rounded up.
 */
export function defaultTurnaroundMs(port: Pick<PortSpec, 'baudRate' | 'dataBits' | 'parity' | 'stopBits'>) {
  const t35 = port.baudRate > 19200 ? 1.75 : (3.5 * bitsPerChar(port) * 1000) / port.baudRate
  return Math.ceil(t35)
}

/** Checks the section beyond its schema; returns the first problem as `key: what is wrong`, or undefined. */
export function checkSerialConfig(serial: SerialConfig): string | undefined {
  try {
    resolveSerial(serial)
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** Fills in the defaults; throws an Error naming the key of the first problem. */
export function resolveSerial(serial: SerialConfig): PortSpec[] {
  const paths = new Map<string, number>()
  const nodeIds = new Map<string, string>()
  return serial.ports.map((port, p) => {
    const portKey = `serial.ports.${p}`
    const fail = (key: string, what: string): never => {
      throw new Error(`${key}: ${what}`)
    }
    const earlier = paths.get(port.path)
    if (earlier !== undefined)
      fail(`${portKey}.path`, `"${port.path}" is already serial.ports.${earlier} (one owner per port)`)
    paths.set(port.path, p)
    const framing = {
      baudRate: port.baudRate ?? 9600,
      dataBits: port.dataBits ?? 8,
      parity: port.parity ?? 'none',
      stopBits: port.stopBits ?? 1,
    }
    const reopenMinMs = port.reopenMinMs ?? 500
    const reopenMaxMs = port.reopenMaxMs ?? Math.max(30_000, reopenMinMs)
    if (reopenMaxMs < reopenMinMs) fail(`${portKey}.reopenMaxMs`, `must not be less than reopenMinMs`)
    const units = new Set<number>()
    const slaves = port.slaves.map((slave, s): SlaveSpec => {
      const slaveKey = `${portKey}.slaves.${s}`
      if (units.has(slave.unitId))
        fail(`${slaveKey}.unitId`, `unit ${slave.unitId} is used twice on ${port.path}`)
      units.add(slave.unitId)
      const other = nodeIds.get(slave.nodeId)
      if (other !== undefined) fail(`${slaveKey}.nodeId`, `"${slave.nodeId}" is already ${other}`)
      nodeIds.set(slave.nodeId, slaveKey)
      const reprobeMs = slave.reprobeMs ?? 5000
      const reprobeMaxMs = slave.reprobeMaxMs ?? Math.max(60_000, reprobeMs)
      if (reprobeMaxMs < reprobeMs) fail(`${slaveKey}.reprobeMaxMs`, 'must not be less than reprobeMs')
      const properties = new Set<string>()
      const points = slave.points.map((point, i): PointSpec => {
        const key = `${slaveKey}.points.${i}`
        const serviceId = point.serviceId ?? slave.serviceId
        if (serviceId === undefined) fail(`${key}.serviceId`, 'needed (or serviceId on the slave)')
        const property = `${serviceId}/${point.name}`
        if (properties.has(property))
          fail(`${key}.name`, `"${point.name}" is already a property of service ${serviceId}`)
        properties.add(property)
        const bits = isBitTable(point.function)
        const dataType = point.dataType ?? (bits ? 'bool' : 'uint16')
        if (bits && dataType !== 'bool')
          fail(`${key}.dataType`, `${point.function} points are bool, not ${dataType}`)
        const count = point.count ?? 1
        const span = bits ? count : count * REGISTERS_OF[dataType]
        const max = bits ? MAX_BITS : MAX_REGISTERS
        if (span > max) fail(`${key}.count`, `${span} ${bits ? 'coils' : 'registers'} exceed ${max} per read`)
        if (point.address + span > 65536)
          fail(`${key}.address`, `${point.address} + ${span} runs past the last address 65535`)
        if (point.writable && (point.function === 'discrete' || point.function === 'input'))
          fail(`${key}.writable`, `${point.function} points are read-only`)
        if (point.writeMultiple && !point.writable) fail(`${key}.writeMultiple`, 'needs writable: true')
        const scale = point.scale ?? 1
        if (scale === 0 || !Number.isFinite(scale)) fail(`${key}.scale`, 'must be a non-zero number')
        if ((point.scale !== undefined || point.offset !== undefined) && dataType === 'bool')
          fail(`${key}.scale`, 'bool points take no scale or offset')
        return {
          name: point.name,
          serviceId: serviceId as string,
          function: point.function,
          address: point.address,
          count,
          dataType,
          wordOrder: point.wordOrder ?? 'big',
          byteOrder: point.byteOrder ?? 'big',
          scale,
          offset: point.offset ?? 0,
          pollMs: point.pollMs ?? slave.pollMs ?? 1000,
          writable: point.writable ?? false,
          writeMultiple: point.writeMultiple ?? false,
          span,
        }
      })
      return {
        unitId: slave.unitId,
        nodeId: slave.nodeId,
        name: slave.name ?? slave.nodeId,
        deviceType: slave.deviceType,
        manufacturerName: slave.manufacturerName,
        model: slave.model,
        timeoutMs: slave.timeoutMs ?? 500,
        retries: slave.retries ?? 1,
        quarantineAfter: slave.quarantineAfter ?? 3,
        reprobeMs,
        reprobeMaxMs,
        points,
      }
    })
    return {
      path: port.path,
      ...framing,
      turnaroundMs: port.turnaroundMs ?? defaultTurnaroundMs(framing),
      reopenMinMs,
      reopenMaxMs,
      slaves,
    }
  })
}
