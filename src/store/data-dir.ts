import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'

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
 * Checks at start that the data dir takes a write that reaches the disk: otherwise every acknowledgement would be
 * refused later, one device at a time, instead of one clear message now. It creates nothing (the gateway makes
 * the dir later, after the config and certificate checks): an existing dir gets a probe file, written, fsynced
 * and removed; for a dir still to be made, the nearest existing parent must be writable (access(2) reports a
 * read-only filesystem even to root).
 */
export function assertWritableDataDir(dir: string): void {
  const path = resolve(dir)
  try {
    if (existsSync(path)) {
      const probe = join(path, `.write-check-${process.pid}`)
      const fd = openSync(probe, 'w', 0o600)
      try {
        writeSync(fd, 'sitegate')
        fsyncSync(fd)
      } finally {
        closeSync(fd)
        unlinkSync(probe)
      }
    } else {
      let parent = dirname(path)
      while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent)
      accessSync(parent, constants.W_OK | constants.X_OK)
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new DataDirError(`data directory ${path} is not writable (${e.message})`)
  }
}
