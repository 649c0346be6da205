import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'

/**
 * The data directory cannot be written (read-only filesystem, permissions, full disk). The CLI exits with code
 * 73 (EX_CANTCREAT): a restart cannot help, so a supervisor should not restart in a loop
 * (systemd: RestartPreventExitStatus=73).
 */
export class DataDirError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DataDirError'
  }
}

export const DATA_DIR_EXIT_CODE = 73

/**
 * Checks at start that `dir` exists (creating it) and takes a write that reaches the disk: otherwise every
 * acknowledgement would be refused later, one device at a time, instead of one clear message now.
 */
export function assertWritableDataDir(dir: string): void {
  const path = resolve(dir)
  const probe = join(path, `.write-check-${process.pid}`)
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 })
    const fd = openSync(probe, 'w', 0o600)
    try {
      writeSync(fd, 'sitegate')
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    unlinkSync(probe)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new DataDirError(`data directory ${path} is not writable (${e.code ?? ''} ${e.message})`.trim())
  }
}
