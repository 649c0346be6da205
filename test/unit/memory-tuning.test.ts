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
    // The operator's own values count; one flag of the two does not.
    expect(coreFlagsApplied(['--max-semi-space-size=2'], '--max_old_space_size=1024')).toBe(true)
    expect(coreFlagsApplied(['--max-semi-space-size=2'], undefined)).toBe(false)
  })

  it('gives a launched core the flags and the environment, keeping what the operator set', () => {
    const launch = coreLaunch({ PATH: '/usr/bin', MALLOC_ARENA_MAX: '4' })
    expect(launch.execArgv).toEqual([...CORE_NODE_FLAGS])
    expect(launch.env.PATH).toBe('/usr/bin')
    expect(launch.env.MALLOC_ARENA_MAX).toBe('4')
    expect(coreLaunch({}).env).toEqual({ ...CORE_ENV })
    // A heap limit the operator put in NODE_OPTIONS is not overridden from the command line.
    const own = coreLaunch({ NODE_OPTIONS: '--max-old-space-size=1024' })
    expect(own.execArgv).toEqual(CORE_NODE_FLAGS.filter((f) => !f.startsWith('--max-old-space-size')))
    expect(own.execArgv).toHaveLength(CORE_NODE_FLAGS.length - 1)
    expect(own.env.NODE_OPTIONS).toBe('--max-old-space-size=1024')
  })

  it('gives each worker thread three semi-spaces of the main thread size and the same heap limit', () => {
    const value = (name: string) =>
      Number(CORE_NODE_FLAGS.find((f) => f.startsWith(`${name}=`))?.split('=')[1])
    expect(WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb).toBe(3 * value('--max-semi-space-size'))
    expect(WORKER_RESOURCE_LIMITS.maxOldGenerationSizeMb).toBe(value('--max-old-space-size'))
  })
})
