// Register maps (issue 8): raw registers ⇄ values for every data type, word and byte order, with scale and
// offset, and the checks a write value goes through.
import { describe, expect, it } from 'vitest'
import { decodeBits, decodeRegisters, encodeValue } from '../../src/serial/codec.ts'
import { type PointSpec, REGISTERS_OF } from '../../src/serial/config.ts'

const point = (over: Partial<PointSpec>): PointSpec => {
  const p = {
    name: 'p',
    serviceId: 'S',
    function: 'holding',
    address: 0,
    count: 1,
    dataType: 'uint16',
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
    pollMs: 1000,
    writable: true,
    writeMultiple: false,
    ...over,
  } as PointSpec
  return { ...p, span: p.count * REGISTERS_OF[p.dataType] }
}
const wire = (...bytes: number[]) => Buffer.from(bytes)

describe('decodeRegisters', () => {
  it('reads 16-bit values signed and unsigned, with scale and offset', () => {
    expect(decodeRegisters(wire(0xff, 0xfe), point({ dataType: 'uint16' }))).toBe(65534)
    expect(decodeRegisters(wire(0xff, 0xfe), point({ dataType: 'int16' }))).toBe(-2)
    expect(decodeRegisters(wire(0x00, 0xeb), point({ dataType: 'int16', scale: 0.1 }))).toBe(23.5)
    expect(decodeRegisters(wire(0x00, 0x03), point({ scale: 0.1 }))).toBe(0.3)
    expect(decodeRegisters(wire(0x00, 0x41), point({ offset: -40 }))).toBe(25)
    expect(decodeRegisters(wire(0x00, 0x00), point({ dataType: 'bool' }))).toBe(false)
    expect(decodeRegisters(wire(0x00, 0x02), point({ dataType: 'bool' }))).toBe(true)
  })

  it('reads 32-bit values in each word and byte order', () => {
    // 0x12345678 = 305419896 laid out ABCD, CDAB, BADC, DCBA
    const v = 0x12345678
    expect(decodeRegisters(wire(0x12, 0x34, 0x56, 0x78), point({ dataType: 'uint32' }))).toBe(v)
    expect(
      decodeRegisters(wire(0x56, 0x78, 0x12, 0x34), point({ dataType: 'uint32', wordOrder: 'little' })),
    ).toBe(v)
    expect(
      decodeRegisters(wire(0x34, 0x12, 0x78, 0x56), point({ dataType: 'uint32', byteOrder: 'little' })),
    ).toBe(v)
    expect(
      decodeRegisters(
        wire(0x78, 0x56, 0x34, 0x12),
        point({ dataType: 'uint32', wordOrder: 'little', byteOrder: 'little' }),
      ),
    ).toBe(v)
    expect(decodeRegisters(wire(0xff, 0xff, 0xff, 0xfe), point({ dataType: 'int32' }))).toBe(-2)
  })

  it('reads float32 as the shortest decimal that is the same float', () => {
    const f = Buffer.alloc(4)
    f.writeFloatBE(23.4)
    expect(decodeRegisters(f, point({ dataType: 'float32' }))).toBe(23.4)
    expect(decodeRegisters(wire(0xc0, 0x70, 0x00, 0x00), point({ dataType: 'float32' }))).toBe(-3.75)
    expect(
      decodeRegisters(wire(0x00, 0x00, 0xc0, 0x70), point({ dataType: 'float32', wordOrder: 'little' })),
    ).toBe(-3.75)
  })

  it('reads an array when count > 1', () => {
    expect(decodeRegisters(wire(0, 1, 0xff, 0xff, 0, 3), point({ dataType: 'int16', count: 3 }))).toEqual([
      1, -1, 3,
    ])
    expect(() => decodeRegisters(wire(0, 1), point({ count: 2 }))).toThrow(/expected 4 bytes/)
  })
})

describe('decodeBits', () => {
  it('takes the states a point covers from a padded response', () => {
    const states = [true, false, true, false, false, false, false, false]
    expect(decodeBits(states, point({ function: 'coil', dataType: 'bool' }))).toBe(true)
    expect(decodeBits(states, point({ function: 'coil', dataType: 'bool', count: 3 }))).toEqual([
      true,
      false,
      true,
    ])
  })
})

describe('encodeValue', () => {
  it('is the inverse of decoding for every type and order', () => {
    const cases: [Partial<PointSpec>, number][] = [
      [{ dataType: 'int16', scale: 0.1 }, -21.5],
      [{ dataType: 'uint16', offset: -40 }, 25],
      [{ dataType: 'int32', wordOrder: 'little' }, -123456],
      [{ dataType: 'uint32', byteOrder: 'little' }, 4000000000],
      [{ dataType: 'float32', wordOrder: 'little', byteOrder: 'little' }, 1013.25],
      [{ dataType: 'float32', scale: 2, offset: 1 }, 7],
    ]
    for (const [over, value] of cases) {
      const p = point(over)
      const encoded = encodeValue(value, p)
      if (encoded.kind !== 'registers') throw new Error('expected registers')
      const bytes = Buffer.alloc(encoded.words.length * 2)
      for (const [i, w] of encoded.words.entries()) bytes.writeUInt16BE(w, i * 2)
      expect(decodeRegisters(bytes, p)).toBe(value)
    }
  })

  it('lays out a float32 in the configured word order', () => {
    expect(encodeValue(-3.75, point({ dataType: 'float32' }))).toEqual({
      kind: 'registers',
      words: [0xc070, 0],
    })
    expect(encodeValue(-3.75, point({ dataType: 'float32', wordOrder: 'little' }))).toEqual({
      kind: 'registers',
      words: [0, 0xc070],
    })
  })

  it('writes coils as states', () => {
    expect(encodeValue(true, point({ function: 'coil', dataType: 'bool' }))).toEqual({
      kind: 'bits',
      states: [true],
    })
    expect(encodeValue([1, 0, true], point({ function: 'coil', dataType: 'bool', count: 3 }))).toEqual({
      kind: 'bits',
      states: [true, false, true],
    })
  })

  it('refuses values that do not fit, saying why', () => {
    expect(() => encodeValue(70000, point({ dataType: 'uint16' }))).toThrow(/out of range for uint16/)
    expect(() => encodeValue(-1, point({ dataType: 'uint16' }))).toThrow(/out of range/)
    expect(() => encodeValue(3300, point({ dataType: 'int16', scale: 0.1 }))).toThrow(/raw 33000/)
    expect(() => encodeValue('12', point({}))).toThrow(/expected a number/)
    expect(() => encodeValue(Number.NaN, point({}))).toThrow(/expected a number/)
    expect(() => encodeValue('on', point({ function: 'coil', dataType: 'bool' }))).toThrow(/true or false/)
    expect(() => encodeValue([1, 2], point({ count: 3 }))).toThrow(/array of 3 values/)
  })
})
