// The core's memory settings (issue 10 item 4): every launcher of ours passes the same flags and environment, an
// operator's own environment wins, and the CLI can tell whether it was started with them.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  CORE_ENV,
  CORE_NODE_FLAGS,
  coreFlagsApplied,
  coreLaunch,
  WORKER_RESOURCE_LIMITS,
} from '../../src/ops/memory-tuning.ts'

describe('core memory settings', () => {
  it('npm start runs the core with the flags the CLI checks for', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>
    }
    const words = pkg.scripts.start!.split(/\s+/)
    expect(words[0]).toBe('node')
    for (const flag of CORE_NODE_FLAGS) expect(words).toContain(flag)
    // Node flags only count before the script.
    const script = words.indexOf('src/cli.ts')
    expect(script).toBeGreaterThan(0)
    expect(coreFlagsApplied(words.slice(1, script), undefined)).toBe(true)
  })

  it('recognises the flags on the command line or in NODE_OPTIONS, and their absence', () => {
    expect(coreFlagsApplied([], undefined)).toBe(false)
    expect(coreFlagsApplied(['--import', 'tsx'], '--max-old-space-size=512')).toBe(false)
    expect(coreFlagsApplied([...CORE_NODE_FLAGS], undefined)).toBe(true)
    expect(coreFlagsApplied([], ` --trace-warnings  ${CORE_NODE_FLAGS.join(' ')} `)).toBe(true)
  })

  it('gives a launched core the flags and the environment, keeping what the operator set', () => {
    const launch = coreLaunch({ PATH: '/usr/bin', MALLOC_ARENA_MAX: '4' })
    expect(launch.execArgv).toEqual([...CORE_NODE_FLAGS])
    expect(launch.env.PATH).toBe('/usr/bin')
    expect(launch.env.MALLOC_ARENA_MAX).toBe('4')
    expect(coreLaunch({}).env).toEqual({ ...CORE_ENV })
  })

  it('limits each worker thread young generation to three semi-spaces of the main thread size', () => {
    const semi = Number(/^--max-semi-space-size=(\d+)$/.exec(CORE_NODE_FLAGS[0]!)?.[1])
    expect(WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb).toBe(3 * semi)
  })
})
