import { EventEmitter } from 'node:events'
import type { SerialPort } from 'serialport'

/**
 * The port object modbus-serial's ModbusRTU drives (it calls open, write, close and listens to data, error,
 * close), over a SerialPort the port line already opened and owns. It exists so that exactly one object owns
 * each serial port: ModbusRTU's own connectRTU* would open a second handle of its own and reopen nothing.
 *
 * RTU frames have no length field, so responses are cut out of the byte stream by the length the request
 * implies (application protocol §6): bytes of a reply to an earlier, timed-out request are dropped when the
 * next request goes out, and a frame addressed to another unit or function is skipped. Whether a frame's CRC
 * is right is ModbusRTU's to check (it reports "CRC error").
 */
export class RtuFramer extends EventEmitter {
  private buffer: Buffer = Buffer.alloc(0)
  private unit = -1
  private code = -1
  private expected = 0
  private detached = false
  /** ModbusRTU keeps its transaction ids on the port; serial lines have one transaction at a time. */
  _transactionIdRead = 1
  _transactionIdWrite = 1
  private readonly onData = (chunk: Buffer) => this.receive(chunk)
  private readonly onError = (err: Error) => this.emit('error', err)
  private readonly onClose = () => this.emit('close')

  constructor(
    private readonly port: SerialPort,
    /** Called once a request frame has left for the bus (written and drained). */
    private readonly onSent: () => void,
  ) {
    super()
    port.on('data', this.onData)
    port.on('error', this.onError)
    port.on('close', this.onClose)
  }

  get isOpen(): boolean {
    return !this.detached && this.port.isOpen
  }

  /** The line opened the port already. */
  open(callback?: (err: Error | null) => void): void {
    callback?.(this.isOpen ? null : new Error('port is not open'))
  }

  /** Only detaches: closing the port is the line's job. */
  close(callback?: () => void): void {
    this.detach()
    callback?.()
  }

  detach(): void {
    if (this.detached) return
    this.detached = true
    this.port.off('data', this.onData)
    this.port.off('error', this.onError)
    this.port.off('close', this.onClose)
  }

  write(frame: Buffer): void {
    if (this.detached) return
    this.unit = frame[0] ?? -1
    this.code = frame[1] ?? -1
    this.expected = expectedResponseLength(frame)
    // Whatever arrived since the last exchange ended (a late reply, line noise) is not this request's answer.
    this.buffer = Buffer.alloc(0)
    this.port.write(frame, (err) => {
      if (err) return // the port's error event reports it; the request then fails
      this.port.drain((drainErr) => {
        if (!drainErr) this.onSent()
      })
    })
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    // A reply never exceeds 256 bytes (RTU ADU limit); more is noise.
    if (this.buffer.length > 512) this.buffer = this.buffer.subarray(this.buffer.length - 256)
    for (let i = 0; i + 5 <= this.buffer.length; i++) {
      if (this.buffer[i] !== this.unit) continue
      const code = this.buffer[i + 1]
      let length = 0
      if (code === this.code) length = this.expected
      else if (code === (this.code | 0x80))
        length = 5 // exception: unit, code, exception code, CRC
      else continue
      if (length === 0 || i + length > this.buffer.length) return // wait for the rest
      const frame = this.buffer.subarray(i, i + length)
      this.buffer = this.buffer.subarray(i + length)
      this.emit('data', Buffer.from(frame))
      return
    }
  }
}

/** The length of a normal response to a request frame (application protocol §6.1–6.16). */
export function expectedResponseLength(request: Buffer): number {
  const code = request[1]
  switch (code) {
    case 1:
    case 2:
      return 3 + Math.ceil(request.readUInt16BE(4) / 8) + 2
    case 3:
    case 4:
      return 3 + 2 * request.readUInt16BE(4) + 2
    case 5:
    case 6:
    case 15:
    case 16:
      return 8
    default:
      return 0
  }
}
