// The log file (issue 10 item 5, README "Operations"): the gateway's JSON log lines also go to
// DATA_DIR/logs/sitegate.log, rotated by size, so an unattended gateway keeps its recent history on disk without
// ever filling it. Lines are written synchronously: a line logged just before a crash or SIGKILL is in the file.
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pino } from 'pino'
import type { GatewayConfig } from '../config/schema.ts'
import { createLogger, type Logger } from '../logger.ts'

export const LOG_FILE_NAME = 'sitegate.log'

export interface RotatingFileOptions {
  /** Rotate when the next line would take the file past this size. */
  maxBytes: number
  /** Rotated files kept: NAME.1 (newest) … NAME.maxFiles; 0 keeps none (the file starts over). */
  maxFiles: number
}

/**
 * A file that rotates by size: NAME → NAME.1 → NAME.2 … the oldest beyond maxFiles is deleted. A line is never
 * split across files. A failed write (disk full) drops that line and never throws: logging must not stop the
 * gateway; the next line tries again.
 */
export class RotatingFile {
  private fd: number | undefined
  private size = 0
  /** Lines that could not be written. */
  failedWrites = 0

  constructor(
    readonly path: string,
    private readonly options: RotatingFileOptions,
  ) {}

  /** The pino destination interface: one serialized line (with its newline) per call. */
  write(line: string): boolean {
    const bytes = Buffer.byteLength(line)
    try {
      // Reopened after a failure: the size is the file's again.
      if (this.fd === undefined) this.open()
      if (this.size > 0 && this.size + bytes > this.options.maxBytes) this.rotate()
      this.size += writeSync(this.fd as number, line)
    } catch {
      this.failedWrites += 1
      this.close()
    }
    return true
  }

  close(): void {
    if (this.fd === undefined) return
    try {
      closeSync(this.fd)
    } catch {
      // already closed
    }
    this.fd = undefined
  }

  /**
   * Opened at the first line, not before: a start that fails on its configuration (exit 2) leaves no data
   * directory behind.
   */
  private open(): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
    this.fd = openSync(this.path, 'a', 0o600)
    this.size = fstatSync(this.fd).size
  }

  private rotate(): void {
    this.close()
    const { maxFiles } = this.options
    rmSync(`${this.path}.${maxFiles}`, { force: true })
    for (let i = maxFiles - 1; i >= 1; i--) renameIfThere(`${this.path}.${i}`, `${this.path}.${i + 1}`)
    if (maxFiles > 0) renameIfThere(this.path, `${this.path}.1`)
    else rmSync(this.path, { force: true })
    this.open()
  }
}

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/**
 * The headless gateway's logger: JSON lines on stdout exactly as `createLogger` writes them and, with
 * `log.file.enabled`, the same lines in DATA_DIR/logs/sitegate.log (rotated).
 */
export function createGatewayLogger(config: Pick<GatewayConfig, 'log' | 'dataDir'>): {
  log: Logger
  file: RotatingFile | undefined
} {
  const { level, file } = config.log
  if (!file.enabled || level === 'silent') return { log: createLogger(level), file: undefined }
  const rotating = new RotatingFile(join(config.dataDir, 'logs', LOG_FILE_NAME), file)
  const streams = pino.multistream([
    // What pino uses by default: fd 1 through sonic-boom, flushed at exit.
    { level: level as pino.Level, stream: pino.destination({ dest: 1 }) },
    { level: level as pino.Level, stream: rotating },
  ])
  const log = pino({ level, base: { name: 'sitegate' } }, streams)
  return { log, file: rotating }
}
