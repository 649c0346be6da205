// Builds the dashboard when its output is missing or older than its sources (`npm start`'s prestart, the e2e
// suite). `tsx renderer/build.ts` checks and builds; `--force` always builds.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const OUTPUT = join(HERE, 'dist', 'index.html')
const SOURCES = ['src', 'index.html', 'vite.config.ts', 'tsconfig.json']

function newestMtime(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

/** Whether renderer/dist is missing or older than any source file. */
export function rendererStale(): boolean {
  if (!existsSync(OUTPUT)) return true
  const built = statSync(OUTPUT).mtimeMs
  return SOURCES.some((s) => existsSync(join(HERE, s)) && newestMtime(join(HERE, s)) > built)
}

/** Runs `vite build` for the dashboard in a child process (vitest has its own vite in-process). */
export function buildRenderer(): void {
  const vite = join(HERE, '..', 'node_modules', 'vite', 'bin', 'vite.js')
  const result = spawnSync(process.execPath, [vite, 'build', '--config', join(HERE, 'vite.config.ts')], {
    cwd: join(HERE, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  })
  if (result.status !== 0) {
    throw new Error(
      `dashboard build failed (vite exited with ${result.status}):\n${result.stdout}${result.stderr}`,
    )
  }
}

export function ensureRendererBuilt(force = false): boolean {
  if (!force && !rendererStale()) return false
  buildRenderer()
  return true
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--force') || rendererStale()) process.stdout.write('building the dashboard…\n')
  const built = ensureRendererBuilt(process.argv.includes('--force'))
  process.stdout.write(built ? 'dashboard built in renderer/dist\n' : 'dashboard is up to date\n')
}
