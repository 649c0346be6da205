import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Store } from '../store/index.ts'

/**
 * A snapshot's image as base64 for the upstream drain (sync/records.ts), read synchronously in the drain
 * thread; undefined when the snapshot was evicted or its file is gone.
 */
export function snapshotImageReader(store: Store, dir: string) {
  return (doc: Record<string, unknown>): { base64: string } | undefined => {
    const row = typeof doc.snapshotId === 'string' ? store.cameras.snapshot(doc.snapshotId) : undefined
    if (!row) return undefined
    try {
      return { base64: readFileSync(join(dir, row.file)).toString('base64') }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }
}
