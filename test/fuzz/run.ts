// `npm run fuzz [-- --seconds 60] [--seed N] [--only NAME[,NAME]]`: feeds random and mutated inputs to every
// parser, most of them through a real gateway (README "Tests and benchmarks"). Exit code 1 when anything was
// found; the seed printed first replays the run.
import { parseArgs } from 'node:util'
import { runFuzz } from './harness.ts'
import { randomSeed } from './prng.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    only: { type: 'string' },
  },
})
const seed = values.seed === undefined ? randomSeed() : Number(values.seed)
const seconds = Number(values.seconds)
if (!Number.isInteger(seed) || !(seconds > 0)) {
  console.error('usage: npm run fuzz -- [--seconds N] [--seed N] [--only NAME[,NAME]]')
  process.exit(64)
}
console.log(`fuzz: seed ${seed}, ${seconds} s (replay: npm run fuzz -- --seed ${seed} --seconds ${seconds})`)
const report = await runFuzz({
  seed,
  seconds,
  ...(values.only ? { only: values.only.split(',') } : {}),
  log: (line) => console.log(line),
})
const total = Object.values(report.iterations).reduce((a, b) => a + b, 0)
console.log(`fuzz: ${total} inputs in ${report.seconds.toFixed(1)} s, ${report.findings.length} finding(s)`)
for (const f of report.findings) {
  console.log(`\n[${f.target} #${f.iteration}] ${f.problem}${f.input ? `\n  input: ${f.input}` : ''}`)
}
if (report.findings.length > 0) console.log(`\nreplay: npm run fuzz -- --seed ${seed} --seconds ${seconds}`)
process.exit(report.findings.length > 0 ? 1 : 0)
