// A Modbus RTU slave simulator for tests and the benchmark: real RTU frames with CRC, read from and written to
// a real serial port (serialport on the device end of a socat PTY pair), answering for several unit ids like
// the instruments sharing one RS-485 bus. Written from the Modbus specs, independently of the gateway's code.
import { SerialPort } from 'serialport'

/** CRC-16/MODBUS (Modbus over serial line §6.2.2): poly 0xA001 reflected, init 0xFFFF, low byte first. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff
  for (const byte of bytes) {
    crc ^= byte
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1
  }
  return crc
}

function withCrc(body: number[]): Buffer {
  const frame = Buffer.alloc(body.length + 2)
  Buffer.from(body).copy(frame)
  frame.writeUInt16LE(crc16(frame.subarray(0, body.length)), body.length)
  return frame
}

export class SimUnit {
  readonly coils = new Uint8Array(65536)
  readonly discrete = new Uint8Array(65536)
  readonly holding = new Uint16Array(65536)
  readonly input = new Uint16Array(65536)
  /** Answers nothing (a dead or disconnected instrument). */
  silent = false
  /** Ignores only these function codes. */
  readonly ignore = new Set<number>()
  /** `${fc}:${address}` → exception code to answer with. */
  readonly exceptions = new Map<string, number>()
  /** Time the instrument takes to answer. */
  responseDelayMs = 0
  /** Its next responses that go out with a wrong CRC (line noise). */
  corruptResponses = 0

  constructor(readonly id: number) {}

  /** Sets 32-bit words at `address` (two registers) in the given order: ABCD, CDAB, BADC or DCBA. */
  set32(
    table: 'holding' | 'input',
    address: number,
    bytesBE: Buffer,
    order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA',
  ) {
    const [a, b, c, d] = bytesBE
    const layout = { ABCD: [a, b, c, d], CDAB: [c, d, a, b], BADC: [b, a, d, c], DCBA: [d, c, b, a] }[order]
    this[table][address] = ((layout[0] ?? 0) << 8) | (layout[1] ?? 0)
    this[table][address + 1] = ((layout[2] ?? 0) << 8) | (layout[3] ?? 0)
  }

  setFloat(
    table: 'holding' | 'input',
    address: number,
    value: number,
    order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA',
  ) {
    const bytes = Buffer.alloc(4)
    bytes.writeFloatBE(value)
    this.set32(table, address, bytes, order)
  }

  /** The float in two registers read in the given order. */
  getFloat(table: 'holding' | 'input', address: number, order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA'): number {
    const r = Buffer.alloc(4)
    r.writeUInt16BE(this[table][address] ?? 0, 0)
    r.writeUInt16BE(this[table][address + 1] ?? 0, 2)
    const [w, x, y, z] = r
    const be = { ABCD: [w, x, y, z], CDAB: [y, z, w, x], BADC: [x, w, z, y], DCBA: [z, y, x, w] }[order]
    return Buffer.from(be as number[]).readFloatBE(0)
  }
}

/** One request as the simulator saw it. */
export interface SeenRequest {
  unit: number
  fc: number
  address: number
  quantity: number
  /** When the request frame was complete. */
  at: number
  /** When its response was written (undefined: not answered). */
  respondedAt?: number
  crcCorrupted?: boolean
}

export interface SimulatorOptions {
  baudRate?: number
  /**
   * Emulate the line's speed: answer only after the request and response would have taken on a real wire at
   * this baud rate (a PTY moves bytes instantly). Undefined: answer at once.
   */
  wireBaudRate?: number
}

export class ModbusSlaveSimulator {
  private port: SerialPort | undefined
  private buffer = Buffer.alloc(0)
  private readonly units = new Map<number, SimUnit>()
  /** Every request frame with a good CRC, in order. */
  readonly requests: SeenRequest[] = []
  /** Request frames that arrived while an earlier one was still being answered (a pipelining master). */
  overlaps = 0
  /** Frames dropped because their CRC was wrong. */
  badRequests = 0
  private busy = false

  constructor(
    private readonly path: string,
    private readonly options: SimulatorOptions = {},
  ) {}

  static async open(path: string, options: SimulatorOptions = {}): Promise<ModbusSlaveSimulator> {
    const sim = new ModbusSlaveSimulator(path, options)
    await sim.reopen()
    return sim
  }

  unit(id: number): SimUnit {
    let u = this.units.get(id)
    if (!u) {
      u = new SimUnit(id)
      this.units.set(id, u)
    }
    return u
  }

  requestsOf(unit: number): SeenRequest[] {
    return this.requests.filter((r) => r.unit === unit)
  }

  /** Opens (again, after the PTY came back) the device end. */
  async reopen(): Promise<void> {
    await this.close()
    const port = new SerialPort({ path: this.path, baudRate: this.options.baudRate ?? 9600, autoOpen: false })
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
    port.on('error', () => {})
    port.on('data', (chunk: Buffer) => this.receive(chunk))
    this.port = port
    this.buffer = Buffer.alloc(0)
    this.busy = false
  }

  async close(): Promise<void> {
    const port = this.port
    this.port = undefined
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()))
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk])
    for (;;) {
      const length = this.requestLength()
      if (length === undefined || this.buffer.length < length) return
      const frame = this.buffer.subarray(0, length)
      if (frame.readUInt16LE(length - 2) !== crc16(frame.subarray(0, length - 2))) {
        // Not a frame (or a corrupted one): a slave ignores it; resynchronise one byte on.
        this.badRequests += 1
        this.buffer = this.buffer.subarray(1)
        continue
      }
      this.buffer = this.buffer.subarray(length)
      this.handle(Buffer.from(frame))
    }
  }

  /** The request's length from its header (application protocol §6), or undefined until known. */
  private requestLength(): number | undefined {
    if (this.buffer.length < 2) return undefined
    const fc = this.buffer[1]
    if (fc !== undefined && fc >= 1 && fc <= 6) return 8
    if (fc === 15 || fc === 16) return this.buffer.length < 7 ? undefined : 9 + (this.buffer[6] ?? 0)
    // Unknown function: drop a byte and look again.
    this.buffer = this.buffer.subarray(1)
    return this.requestLength()
  }

  private handle(frame: Buffer): void {
    const unitId = frame[0]!
    const fc = frame[1]!
    const address = frame.readUInt16BE(2)
    const quantity = fc === 5 || fc === 6 ? 1 : frame.readUInt16BE(4)
    const seen: SeenRequest = { unit: unitId, fc, address, quantity, at: Date.now() }
    this.requests.push(seen)
    if (this.busy) this.overlaps += 1
    const unit = this.units.get(unitId)
    if (!unit || unit.silent || unit.ignore.has(fc)) return
    const response = this.respond(unit, frame, fc, address, quantity)
    const wireMs = this.options.wireBaudRate
      ? ((frame.length + response.length) * 10 * 1000) / this.options.wireBaudRate
      : 0
    this.busy = true
    const send = () => {
      if (unit.corruptResponses > 0) {
        unit.corruptResponses -= 1
        response[response.length - 1] = (response[response.length - 1] ?? 0) ^ 0xff
        seen.crcCorrupted = true
      }
      seen.respondedAt = Date.now()
      this.busy = false
      this.port?.write(response)
    }
    const afterWire = () => {
      if (wireMs === 0) return send()
      // A line time of about a millisecond: timers are too coarse, so wait it out on the event loop.
      const due = performance.now() + wireMs
      const spin = () => (performance.now() >= due ? send() : setImmediate(spin))
      spin()
    }
    if (unit.responseDelayMs > 0) setTimeout(afterWire, unit.responseDelayMs)
    else afterWire()
  }

  private respond(unit: SimUnit, frame: Buffer, fc: number, address: number, quantity: number): Buffer {
    const exception = unit.exceptions.get(`${fc}:${address}`)
    if (exception !== undefined) return withCrc([unit.id, fc | 0x80, exception])
    switch (fc) {
      case 1:
      case 2: {
        const table = fc === 1 ? unit.coils : unit.discrete
        const bytes = new Array<number>(Math.ceil(quantity / 8)).fill(0)
        for (let i = 0; i < quantity; i++) if (table[address + i]) bytes[i >> 3]! |= 1 << (i & 7)
        return withCrc([unit.id, fc, bytes.length, ...bytes])
      }
      case 3:
      case 4: {
        const table = fc === 3 ? unit.holding : unit.input
        const body = [unit.id, fc, quantity * 2]
        for (let i = 0; i < quantity; i++) {
          const v = table[address + i] ?? 0
          body.push(v >> 8, v & 0xff)
        }
        return withCrc(body)
      }
      case 5:
        unit.coils[address] = frame.readUInt16BE(4) === 0xff00 ? 1 : 0
        return withCrc([...frame.subarray(0, 6)])
      case 6:
        unit.holding[address] = frame.readUInt16BE(4)
        return withCrc([...frame.subarray(0, 6)])
      case 15:
        for (let i = 0; i < quantity; i++)
          unit.coils[address + i] = ((frame[7 + (i >> 3)] ?? 0) >> (i & 7)) & 1
        return withCrc([...frame.subarray(0, 6)])
      case 16:
        for (let i = 0; i < quantity; i++) unit.holding[address + i] = frame.readUInt16BE(7 + 2 * i)
        return withCrc([...frame.subarray(0, 6)])
      default:
        return withCrc([unit.id, fc | 0x80, 1]) // illegal function
    }
  }
}
