import { execFileSync } from 'node:child_process'

/** Debian packages that provide the programs test suites drive (kept in step with .ci/run). */
const PACKAGE_OF: Record<string, string> = {
  mosquitto_pub: 'mosquitto-clients',
  mosquitto: 'mosquitto',
  openssl: 'openssl',
  socat: 'socat',
  prosody: 'prosody',
  chromium: 'chromium',
}

function installed(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Whether a suite that needs `program` should run. Without the program it is skipped with a message naming
 * the package to install — except under CI, where a missing program is a failure (CI installs them all).
 */
export function requireProgram(program: string): boolean {
  if (installed(program)) return true
  const hint = `needs ${program}: apt-get install ${PACKAGE_OF[program] ?? program}`
  if (process.env.CI) throw new Error(`CI: ${hint}`)
  process.stderr.write(`skipping suite: ${hint}\n`)
  return false
}
