// Runs every benchmark in bench/ (each bench/*.ts but this file) in turn, each in its own Node process.
//   npm run bench [-- NAME-FILTER] [-- BENCHMARK-OPTIONS...]
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const dir = new URL('./', import.meta.url).pathname
const args = process.argv.slice(2)
const filter = args[0] !== undefined && !args[0].startsWith('-') ? args.shift() : undefined
const passThrough = args[0] === '--' ? args.slice(1) : args

const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .filter((name) => filter === undefined || name.includes(filter))
  .sort()
if (names.length === 0) {
  console.error(`no benchmark matches "${filter}"`)
  process.exit(2)
}

const failed: string[] = []
for (const name of names) {
  console.log(`\n=== bench ${name} ===`)
  const result = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`, ...passThrough], {
    stdio: 'inherit',
  })
  if (result.status !== 0) failed.push(`${name} (exit ${result.status ?? result.signal})`)
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`)
  process.exit(1)
}
