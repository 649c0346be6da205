import type { ResourceLimits } from 'node:worker_threads'

// Memory settings of the gateway process (issue 10 item 4: core RSS ≤ 150 MB with 1,000 devices). The core runs
// two V8 isolates (main thread; ingest writer, which also builds upstream messages); under a steady message load
// V8 lets each young generation grow to 3 × 16 MiB, most of the difference between an idle and a loaded gateway.
// Objects of a message live for microseconds, so a small young generation costs a few cheap scavenges and keeps
// about 30 MiB per isolate out of RSS.

/** Semi-space of each isolate's young generation, in MiB (V8's default grows to 16). */
export const SEMI_SPACE_MIB = 1

/**
 * Worker threads take their limits at creation (`new Worker(…, { resourceLimits })`): V8's young generation is
 * three semi-spaces (two copies and the new large-object space).
 */
export const WORKER_RESOURCE_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 3 * SEMI_SPACE_MIB }

/**
 * Node flags the main isolate needs from its command line (V8 sizes a heap once, when the isolate is created):
 * used by `npm start`, the Electron shell's utilityProcess and the benchmarks (`bin/sitegate.js` cannot pass
 * them portably; the CLI warns when they are missing).
 */
export const CORE_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${SEMI_SPACE_MIB}`]

/**
 * Environment of a core process started by a launcher of ours (glibc's malloc; other C libraries ignore it):
 * - MALLOC_ARENA_MAX: glibc gives every thread that allocates its own 64 MiB arena (up to 8 per core), each
 *   keeping what it freed; two serve the gateway's few busy threads with far less fragmentation.
 * - MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_: fixed at 128 KiB. By default glibc raises both each time a
 *   large block is freed, after which freed memory stays in the process for good; fixed, blocks above 128 KiB
 *   (large messages and their buffers, for one) go back to the system when freed.
 */
export const CORE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
}

/** True when this process's main isolate was started with CORE_NODE_FLAGS (from argv or NODE_OPTIONS). */
export function coreFlagsApplied(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/).filter(Boolean)])
  return CORE_NODE_FLAGS.every((flag) => given.has(flag))
}

/**
 * What a launcher of ours gives the core process: CORE_NODE_FLAGS before the script, and the parent's environment
 * with CORE_ENV where the parent does not set those variables itself (an operator's own value wins).
 */
export function coreLaunch(parentEnv: NodeJS.ProcessEnv): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...parentEnv }
  for (const [name, value] of Object.entries(CORE_ENV)) env[name] ??= value
  return { execArgv: [...CORE_NODE_FLAGS], env }
}
