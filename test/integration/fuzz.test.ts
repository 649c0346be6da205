// A short fuzz round in CI (issue 10 item 1; `npm run fuzz` runs longer): every parser, most of them through a
// real gateway on loopback (and a real mosquitto for cloud requests). FUZZ_SEED=N replays a failing round;
// FUZZ_SECONDS changes its length.
import { describe, expect, it } from 'vitest'
import { runFuzz } from '../fuzz/harness.ts'
import { randomSeed } from '../fuzz/prng.ts'
import { requireProgram } from '../helpers/programs.ts'

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomSeed()
const seconds = Number(process.env.FUZZ_SECONDS ?? 15)

describe.runIf(requireProgram('mosquitto'))('fuzzing every parser', () => {
  it(`finds nothing in ${seconds} s (seed ${seed})`, async () => {
    const report = await runFuzz({ seed, seconds })
    const inputs = Object.values(report.iterations).reduce((a, b) => a + b, 0)
    // The seed is in the test name and here: FUZZ_SEED=<seed> npx vitest run test/integration/fuzz.test.ts
    expect(report.findings, `seed ${seed}`).toEqual([])
    expect(inputs).toBeGreaterThan(1000)
    // Every target ran.
    for (const [target, n] of Object.entries(report.iterations)) expect(n, target).toBeGreaterThan(0)
  }, 120_000)
})
