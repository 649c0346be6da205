// Register maps: raw coils and registers ⇄ property values. Modbus sends each register high byte first
// (application protocol §4.2); how a 32-bit value spreads over two registers is the device's choice, hence
// wordOrder (which register holds the high word) and byteOrder (whether a register's bytes are swapped).
import { type DataType, isBitTable, type Order, type PointSpec, REGISTERS_OF } from './config.ts'

export type PointValue = number | boolean | (number | boolean)[]

/** Bytes of one value in big-endian order (ABCD), from the registers as they came off the wire. */
function normalise(wire: Buffer, wordOrder: Order, byteOrder: Order): Buffer {
  const out = Buffer.from(wire)
  if (byteOrder === 'little') out.swap16()
  if (wordOrder === 'little' && out.length === 4) {
    const high = Buffer.from(out.subarray(2, 4))
    out.copy(out, 2, 0, 2)
    high.copy(out, 0)
  }
  return out
}

/** The inverse of normalise: big-endian bytes of one value → the registers to put on the wire. */
function denormalise(bytes: Buffer, wordOrder: Order, byteOrder: Order): Buffer {
  // Both steps are their own inverse, and swapping bytes commutes with swapping words.
  return normalise(bytes, wordOrder, byteOrder)
}

/** The shortest decimal that reads back as the same float32 (23.4, not 23.399999618530273). */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(v.toPrecision(p))
    if (Math.fround(candidate) === v) return candidate
  }
  return v
}

function readRaw(bytes: Buffer, dataType: DataType): number {
  switch (dataType) {
    case 'bool':
    case 'uint16':
      return bytes.readUInt16BE(0)
    case 'int16':
      return bytes.readInt16BE(0)
    case 'uint32':
      return bytes.readUInt32BE(0)
    case 'int32':
      return bytes.readInt32BE(0)
    case 'float32':
      return shortestFloat32(bytes.readFloatBE(0))
  }
}

/** raw × scale + offset, without binary noise (0.1 × 3 is 0.3, not 0.30000000000000004). */
function scaled(raw: number, point: PointSpec): number {
  if (point.scale === 1 && point.offset === 0) return raw
  return Number((raw * point.scale + point.offset).toPrecision(12))
}

/** A point's value from the bytes of its registers (FC 3/4 response data). */
export function decodeRegisters(data: Buffer, point: PointSpec): PointValue {
  const width = REGISTERS_OF[point.dataType] * 2
  if (data.length < width * point.count)
    throw new Error(`expected ${width * point.count} bytes for ${point.name}, got ${data.length}`)
  const values: (number | boolean)[] = []
  for (let i = 0; i < point.count; i++) {
    const bytes = normalise(data.subarray(i * width, (i + 1) * width), point.wordOrder, point.byteOrder)
    const raw = readRaw(bytes, point.dataType)
    values.push(point.dataType === 'bool' ? raw !== 0 : scaled(raw, point))
  }
  return point.count === 1 ? values[0]! : values
}

/** A point's value from coil or discrete-input states (FC 1/2 response, padded to whole bytes). */
export function decodeBits(states: boolean[], point: PointSpec): PointValue {
  if (states.length < point.count)
    throw new Error(`expected ${point.count} states for ${point.name}, got ${states.length}`)
  return point.count === 1 ? states[0]! : states.slice(0, point.count)
}

const INTEGER_RANGE: Partial<Record<DataType, [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
}

/** What a write needs: coil states, or register words in wire order. */
export type Encoded = { kind: 'bits'; states: boolean[] } | { kind: 'registers'; words: number[] }

function asBool(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value
  if (value === 0 || value === 1) return value === 1
  throw new Error(`${name}: expected true or false, got ${JSON.stringify(value)}`)
}

function encodeOne(value: unknown, point: PointSpec): Buffer {
  const bytes = Buffer.alloc(REGISTERS_OF[point.dataType] * 2)
  if (point.dataType === 'bool') {
    bytes.writeUInt16BE(asBool(value, point.name) ? 1 : 0)
    return bytes
  }
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`${point.name}: expected a number, got ${JSON.stringify(value)}`)
  const raw = (value - point.offset) / point.scale
  if (point.dataType === 'float32') {
    bytes.writeFloatBE(raw)
    return bytes
  }
  const rounded = Math.round(raw)
  const [min, max] = INTEGER_RANGE[point.dataType]!
  if (rounded < min || rounded > max)
    throw new Error(`${point.name}: ${value} is out of range for ${point.dataType} (raw ${rounded})`)
  if (point.dataType === 'int16') bytes.writeInt16BE(rounded)
  else if (point.dataType === 'uint16') bytes.writeUInt16BE(rounded)
  else if (point.dataType === 'int32') bytes.writeInt32BE(rounded)
  else bytes.writeUInt32BE(rounded)
  return bytes
}

/** A value to write to a point: checked against its type and range; throws an Error saying what is wrong. */
export function encodeValue(value: unknown, point: PointSpec): Encoded {
  const values = point.count === 1 ? [value] : value
  if (!Array.isArray(values) || values.length !== point.count)
    throw new Error(`${point.name}: expected an array of ${point.count} values`)
  if (isBitTable(point.function)) return { kind: 'bits', states: values.map((v) => asBool(v, point.name)) }
  const wire = Buffer.concat(
    values.map((v) => denormalise(encodeOne(v, point), point.wordOrder, point.byteOrder)),
  )
  const words: number[] = []
  for (let i = 0; i < wire.length; i += 2) words.push(wire.readUInt16BE(i))
  return { kind: 'registers', words }
}
