import { createRequire } from 'node:module'
import type { SerialPort } from 'serialport'

let serialPort: typeof SerialPort | undefined

/**
 * serialport, loaded when a port is first opened or listed: its bindings and parsers are a few MiB of memory a
 * gateway without serial instruments does not need.
 */
export function serialPortClass(): typeof SerialPort {
  serialPort ??= (createRequire(import.meta.url)('serialport') as typeof import('serialport')).SerialPort
  return serialPort
}
