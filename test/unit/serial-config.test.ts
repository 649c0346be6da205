// The `serial:` config section (issue 8): defaults filled in, and every mistake stops the start with a message
// naming the key.
import { describe, expect, it } from 'vitest'
import { ConfigError, validateConfig } from '../../src/config/load.ts'
import { defaultConfig } from '../../src/config/schema.ts'
import { defaultTurnaroundMs, resolveSerial, type SerialConfig } from '../../src/serial/config.ts'

type Port = SerialConfig['ports'][number]
const slave = (over: Record<string, unknown> = {}) => ({
  unitId: 1,
  nodeId: 'meter-1',
  serviceId: 'Power',
  points: [{ name: 'voltage', function: 'holding', address: 0 }],
  ...over,
})
const port = (over: Record<string, unknown> = {}) => ({ path: '/dev/ttyUSB0', slaves: [slave()], ...over })

/** The ConfigError message for a config whose serial.ports are `ports`. */
function problem(ports: unknown[]): string {
  const candidate = defaultConfig() as unknown as Record<string, unknown>
  candidate.serial = { ports }
  try {
    validateConfig(candidate)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('serial config', () => {
  it('has no ports by default', () => {
    expect(validateConfig(defaultConfig()).serial).toEqual({ ports: [] })
  })

  it('fills in the defaults', () => {
    const [p] = resolveSerial({ ports: [port() as Port] })
    expect(p).toMatchObject({
      baudRate: 9600,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      turnaroundMs: 4, // 3.5 characters of 10 bits at 9600 baud
      reopenMinMs: 500,
      reopenMaxMs: 30000,
    })
    expect(p!.slaves[0]).toMatchObject({ timeoutMs: 500, retries: 1, quarantineAfter: 3, reprobeMs: 5000 })
    expect(p!.slaves[0]!.points[0]).toMatchObject({
      serviceId: 'Power',
      dataType: 'uint16',
      count: 1,
      span: 1,
      scale: 1,
      offset: 0,
      pollMs: 1000,
      writable: false,
      wordOrder: 'big',
      byteOrder: 'big',
    })
    expect(defaultTurnaroundMs({ baudRate: 115200, dataBits: 8, parity: 'even', stopBits: 1 })).toBe(2)
    // 3.5 characters of 11 bits at 19200 baud are 2.005 ms; above 19200 baud the spec fixes 1.75 ms.
    expect(defaultTurnaroundMs({ baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 })).toBe(3)
  })

  it('names the key of a schema mistake', () => {
    expect(problem([port({ parity: 'odd-ish' })])).toMatch(
      /serial\.ports\.0\.parity: expected one of none, even/,
    )
    expect(problem([port({ slaves: [slave({ unitId: 248 })] })])).toMatch(
      /serial\.ports\.0\.slaves\.0\.unitId/,
    )
    expect(problem([port({ baud: 9600 })])).toMatch(/serial\.ports\.0\.baud: unknown key/)
    expect(
      problem([port({ slaves: [slave({ points: [{ name: 'x', function: 'register', address: 0 }] })] })]),
    ).toMatch(/points\.0\.function: expected one of coil, discrete, holding, input/)
  })

  it('refuses what the schema cannot see', () => {
    const cases: [unknown[], RegExp][] = [
      [[port(), port()], /serial\.ports\.1\.path: "\/dev\/ttyUSB0" is already serial\.ports\.0/],
      [[port({ slaves: [slave(), slave({ nodeId: 'other' })] })], /slaves\.1\.unitId: unit 1 is used twice/],
      [
        [port(), port({ path: '/dev/ttyUSB1' })],
        /ports\.1\.slaves\.0\.nodeId: "meter-1" is already serial\.ports\.0\.slaves\.0/,
      ],
      [[port({ slaves: [slave({ serviceId: undefined })] })], /points\.0\.serviceId: needed/],
      [
        [
          port({
            slaves: [slave({ points: [{ name: 'a', function: 'coil', address: 0, dataType: 'float32' }] })],
          }),
        ],
        /points\.0\.dataType: coil points are bool, not float32/,
      ],
      [
        [
          port({
            slaves: [slave({ points: [{ name: 'a', function: 'input', address: 0, writable: true }] })],
          }),
        ],
        /points\.0\.writable: input points are read-only/,
      ],
      [
        [
          port({
            slaves: [
              slave({
                points: [{ name: 'a', function: 'holding', address: 0, dataType: 'float32', count: 63 }],
              }),
            ],
          }),
        ],
        /points\.0\.count: 126 registers exceed 125 per read/,
      ],
      [
        [
          port({
            slaves: [
              slave({ points: [{ name: 'a', function: 'holding', address: 65535, dataType: 'int32' }] }),
            ],
          }),
        ],
        /points\.0\.address: 65535 \+ 2 runs past the last address/,
      ],
      [
        [port({ slaves: [slave({ points: [{ name: 'a', function: 'holding', address: 0, scale: 0 }] })] })],
        /points\.0\.scale: must be a non-zero number/,
      ],
      [
        [
          port({
            slaves: [
              slave({
                points: [
                  { name: 'a', function: 'holding', address: 0 },
                  { name: 'a', function: 'holding', address: 1 },
                ],
              }),
            ],
          }),
        ],
        /points\.1\.name: "a" is already a property of service Power/,
      ],
      [[port({ reopenMinMs: 1000, reopenMaxMs: 100 })], /reopenMaxMs: must not be less than reopenMinMs/],
      [
        [
          port({
            slaves: [
              slave({ points: [{ name: 'a', function: 'holding', address: 0, writeMultiple: true }] }),
            ],
          }),
        ],
        /points\.0\.writeMultiple: needs writable: true/,
      ],
    ]
    for (const [ports, message] of cases) expect(problem(ports)).toMatch(message)
  })
})
