// Copying the broker's session store (aedes-persistence-level on LevelDB, DATA_DIR/broker) for a backup.
// A running gateway holds LevelDB's lock, so the store cannot be opened from another process; its files can be
// read, though. LevelDB's table files never change once written and its log and manifest only grow, so a copy
// is a crash image: opening the copy recovers it the way a restart after a power cut would. A compaction may
// delete a table file between listing and copying it; then, or when the copy does not open, it is taken again.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'

const ATTEMPTS = 5
/** LevelDB's own lock and its human-readable info logs are not part of the data. */
const SKIP = new Set(['LOCK', 'LOG', 'LOG.old'])

/** Copies the store at `from` into the new directory `to` and checks that the copy opens; returns its key count. */
export async function copyBrokerStore(from: string, to: string): Promise<{ keys: number; attempts: number }> {
  let lastError: unknown
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    rmSync(to, { recursive: true, force: true })
    mkdirSync(to, { recursive: true, mode: 0o700 })
    try {
      // The manifest names the files of the version it describes: copy it (and CURRENT) first, the files after.
      const names = readdirSync(from).filter((n) => !SKIP.has(n))
      const order = (n: string) => (n === 'CURRENT' ? 0 : n.startsWith('MANIFEST-') ? 1 : 2)
      for (const name of names.sort((a, b) => order(a) - order(b)))
        copyFileSync(join(from, name), join(to, name))
      const keys = await countKeys(to)
      return { keys, attempts: attempt }
    } catch (err) {
      lastError = err
    }
  }
  rmSync(to, { recursive: true, force: true })
  throw new Error(
    `could not take a consistent copy of the broker store ${from}: ${(lastError as Error).message}`,
  )
}

/** Opens a store and counts its keys (the check that a copy is usable). */
export async function countKeys(dir: string): Promise<number> {
  const db = new ClassicLevel<string, Buffer>(dir, { valueEncoding: 'buffer', createIfMissing: false })
  await db.open()
  try {
    let keys = 0
    for await (const _ of db.keys()) keys += 1
    return keys
  } finally {
    await db.close()
  }
}

/** True when a process (a running gateway) holds the store's lock. */
export async function brokerStoreLocked(dir: string): Promise<boolean> {
  const db = new ClassicLevel(dir, { createIfMissing: false })
  try {
    await db.open()
    await db.close()
    return false
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string } }
    return e.code === 'LEVEL_LOCKED' || e.cause?.code === 'LEVEL_LOCKED'
  }
}
