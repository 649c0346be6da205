// Input generators for the fuzz harness: random JSON, structure-aware mutation of a valid example (a field
// removed, retyped, replaced by an edge value, a key added), and byte-level mutation of its text (bit flips,
// insertions, deletions, truncation, duplicated ranges). Mutating valid examples reaches the checks behind
// the first JSON.parse, which random bytes almost never do.
import type { Rng } from './prng.ts'

const EDGE_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '😀',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '../../etc/passwd',
  '%00',
  '%',
  '<x/>',
  '$' + '{x}',
  "' OR 1=1 --",
  'null',
  'true',
  '0',
  '-1',
  '1e999',
  'NaN',
  '20261124T101500Z',
  '2026-11-24T10:15:00Z',
  'deviceReq',
  'deviceRsp',
  'cloudReq',
  'heartbeat',
  'upload_snapshot',
  'SET_DESIRED',
]

const EDGE_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  255,
  256,
  65535,
  65536,
  2 ** 31,
  -(2 ** 31),
  2 ** 53 + 2,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e21,
]

const KEYS = [
  'msgType',
  'data',
  'serviceId',
  'serviceData',
  'eventTime',
  'mid',
  'errcode',
  'body',
  'deviceId',
  'id',
  'code',
  'msg',
  'params',
  'operate',
  'request_id',
  'timestamp',
  'sn',
  'ret',
  '__proto__',
  'constructor',
  'x',
]

export function randomString(rng: Rng): string {
  const r = rng.next()
  if (r < 0.3) return rng.pick(EDGE_STRINGS)
  if (r < 0.35) return 'A'.repeat(rng.int(1000, 70_000))
  const n = rng.int(0, 40)
  let s = ''
  for (let i = 0; i < n; i++) {
    const k = rng.next()
    s +=
      k < 0.7
        ? String.fromCharCode(rng.int(0x20, 0x7e))
        : k < 0.8
          ? String.fromCharCode(rng.int(0, 0x1f))
          : String.fromCharCode(rng.int(0x80, 0xffff))
  }
  return s
}

export function randomNumber(rng: Rng): number {
  const r = rng.next()
  if (r < 0.4) return rng.pick(EDGE_NUMBERS)
  if (r < 0.7) return rng.int(-1000, 100_000)
  return (rng.next() - 0.5) * 10 ** rng.int(0, 30)
}

export function randomJson(rng: Rng, depth = 0): unknown {
  const r = rng.next()
  if (depth > 4 || r < 0.15) return rng.pick([null, true, false])
  if (r < 0.35) return randomNumber(rng)
  if (r < 0.6) return randomString(rng)
  if (r < 0.75) return Array.from({ length: rng.int(0, 5) }, () => randomJson(rng, depth + 1))
  const out: Record<string, unknown> = {}
  for (let i = rng.int(0, 6); i > 0; i--) {
    const key = rng.chance(0.7) ? rng.pick(KEYS) : randomString(rng)
    // defineProperty: a "__proto__" key becomes an own property, as JSON.parse makes it.
    Object.defineProperty(out, key, {
      value: randomJson(rng, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

/** A deep copy of `value` with one node changed (replaced, removed, retyped, or a key added). */
export function mutateJson(value: unknown, rng: Rng): unknown {
  const copy = structuredClone(value)
  const containers: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = []
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        containers.push({ parent: v, key: i })
        walk(item)
      })
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        containers.push({ parent: v as Record<string, unknown>, key: k })
        walk(item)
      }
    }
  }
  walk(copy)
  if (containers.length === 0) return randomJson(rng)
  for (let n = rng.int(1, 3); n > 0; n--) {
    const { parent, key } = rng.pick(containers)
    const r = rng.next()
    const current = (parent as Record<string | number, unknown>)[key]
    if (r < 0.25) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1)
      else delete parent[key as string]
    } else if (r < 0.5) (parent as Record<string | number, unknown>)[key] = randomJson(rng, 3)
    else if (r < 0.65) (parent as Record<string | number, unknown>)[key] = retype(current, rng)
    else if (r < 0.8 && typeof current === 'object' && current !== null && !Array.isArray(current)) {
      ;(current as Record<string, unknown>)[rng.pick(KEYS)] = randomJson(rng, 2)
    } else if (typeof current === 'string') {
      ;(parent as Record<string | number, unknown>)[key] = rng.chance(0.5)
        ? randomString(rng)
        : mutateBytes(Buffer.from(current), rng).toString('utf8')
    } else (parent as Record<string | number, unknown>)[key] = rng.pick([null, randomNumber(rng), ''])
  }
  return copy
}

function retype(v: unknown, rng: Rng): unknown {
  switch (typeof v) {
    case 'number':
      return rng.pick([String(v), [v], { v }, v > 0 ? -v : v + 0.5, null])
    case 'string':
      return rng.pick([Number(v) || 0, [v], { v }, v.length, null])
    case 'boolean':
      return rng.pick([v ? 1 : 0, String(v), null])
    default:
      return rng.pick([null, 0, '', [], {}, 'x'])
  }
}

const INTERESTING_BYTES = [0x00, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x80, 0xc0, 0xed]

/** Byte-level damage: 1–4 of flip, insert, delete, duplicate, truncate, overwrite. */
export function mutateBytes(input: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(input)
  for (let n = rng.int(1, 4); n > 0; n--) {
    const at = b.length === 0 ? 0 : rng.int(0, b.length - 1)
    switch (rng.int(0, 5)) {
      case 0:
        if (b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << rng.int(0, 7))
        break
      case 1:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 8)), b.subarray(at)])
        break
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.int(1, 16))])
        break
      case 3: {
        const len = rng.int(1, 32)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)])
        break
      }
      case 4:
        b = b.subarray(0, at)
        break
      default:
        if (b.length > 0) b[at] = rng.pick(INTERESTING_BYTES)
    }
  }
  return b
}

/**
 * One fuzz input derived from valid examples: random bytes, random JSON, a structure-mutated example, or a
 * byte-mutated example's text.
 */
export function fuzzText(rng: Rng, examples: readonly unknown[]): Buffer {
  const r = rng.next()
  if (r < 0.08) return rng.bytes(rng.int(0, 300))
  if (r < 0.18) return Buffer.from(JSON.stringify(randomJson(rng)) ?? 'null')
  const example = rng.pick(examples)
  const text = typeof example === 'string' ? example : JSON.stringify(example)
  if (r < 0.65 && typeof example !== 'string') return Buffer.from(JSON.stringify(mutateJson(example, rng)))
  return mutateBytes(Buffer.from(text), rng)
}
