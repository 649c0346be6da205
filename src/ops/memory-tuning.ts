import type { ResourceLimits } from 'node:worker_threads'

// Memory settings of the gateway process (issue 10 item 4: core RSS ≤ 150 MB with 1,000 devices). The core runs
// two V8 isolates (main thread; ingest writer, which also builds upstream messages); under a steady message load
// V8 lets each young generation grow to 3 × 16 MiB, most of the difference between an idle and a loaded gateway.
// Objects of a message live for microseconds, so a small young generation costs a few cheap scavenges and keeps
// about 30 MiB per isolate out of RSS.

/** Semi-space of each isolate's young generation, in MiB (V8's default grows to 16). */
export const SEMI_SPACE_MIB = 1

/**
 * Heap limit of each isolate, in MiB: some 30 times what the main thread holds live with 1,000 devices (35 MiB).
 * V8 decides from the limit how far the old generation may grow past its live size before a full collection:
 * up to 4× with a limit of 2 GiB or more (Node's default here, on a 24 GiB machine, is 4 GiB: it depends on the
 * machine's memory), about 1.6× at 1 GiB. Objects that die in the old generation, and the Buffers they hold
 * outside the heap, stay until that collection. Measured in the soak: 149 MB of RSS at the end (201 MB at the
 * warm-up's peak) with the default limit, 130–131 MB (max 134 MB) with 512 MiB or 1 GiB. The cost is in more full
 * collections: bench/ingest's peak rate (gateway-only rounds) is 47–48k msg/s with the default limit, 40k with
 * 1 GiB. A heap that reached the limit would end the process (the Electron shell restarts its core; a service
 * unit should too).
 */
export const OLD_SPACE_MIB = 1024

/**
 * Worker threads take their limits at creation (`new Worker(…, { resourceLimits })`): V8's young generation is
 * three semi-spaces (two copies and the new large-object space). When the process has --max-old-space-size, V8
 * applies that to workers too.
 */
export const WORKER_RESOURCE_LIMITS: ResourceLimits = {
  maxYoungGenerationSizeMb: 3 * SEMI_SPACE_MIB,
  maxOldGenerationSizeMb: OLD_SPACE_MIB,
}

/**
 * Node flags the main isolate needs from its command line (V8 sizes a heap once, when the isolate is created):
 * used by `npm start`, the Electron shell's utilityProcess and the benchmarks (`bin/sitegate.js` cannot pass
 * them portably; the CLI warns when they are missing).
 */
export const CORE_NODE_FLAGS: readonly string[] = [
  `--max-semi-space-size=${SEMI_SPACE_MIB}`,
  `--max-old-space-size=${OLD_SPACE_MIB}`,
]

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

/** `--max-old-space-size=512` → `--max-old-space-size` (Node accepts `_` for `-` in V8 flag names). */
const flagName = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-')
const flagNames = (flags: Iterable<string>): Set<string> => new Set([...flags].map(flagName))
const words = (text: string | undefined): string[] => (text ?? '').split(/\s+/).filter(Boolean)

/**
 * True when this process's main isolate was started with every flag of CORE_NODE_FLAGS, from argv or NODE_OPTIONS,
 * whatever value the operator chose for it.
 */
export function coreFlagsApplied(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = flagNames([...execArgv, ...words(nodeOptions)])
  return CORE_NODE_FLAGS.every((flag) => given.has(flagName(flag)))
}

/**
 * What a launcher of ours gives the core process: CORE_NODE_FLAGS before the script, but for those the parent's
 * NODE_OPTIONS already sets (command-line flags would override it), and the parent's environment with CORE_ENV
 * where the parent does not set those variables itself: an operator's own value wins.
 */
export function coreLaunch(parentEnv: NodeJS.ProcessEnv): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...parentEnv }
  for (const [name, value] of Object.entries(CORE_ENV)) env[name] ??= value
  const operatorFlags = flagNames(words(parentEnv.NODE_OPTIONS))
  return { execArgv: CORE_NODE_FLAGS.filter((flag) => !operatorFlags.has(flagName(flag))), env }
}
