// The real CLI (`node --import tsx src/cli.ts …`) as a child process, as an operator runs it.
import { spawn } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import {
  firstApp,
  login,
  ROOT,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  tempDir,
} from '../helpers/gateway.ts'

// device-mqtt.md A.3 worked example.
const SPEC_SECRET = 'a1b2c3d4e5f60718293a'
const SPEC_PASSWORD = '6c8310c88bc64593ad324f686eadbdc6edec12ca9d7309e1e0bdb384d90c66f7'
const SPEC_AT = '2018-07-24T17:56:20Z'

// Exit codes of src/cli.ts: 2 = configuration problem, 64 = usage error (EX_USAGE).
const EXIT_CONFIG = 2
const EXIT_USAGE = 64

// Every case starts node + tsx at least once (about 2 s of CPU); leave room on a loaded two-core box.
vi.setConfig({ testTimeout: 60_000 })

const dirs: string[] = []
/** A temp dir removed after the suite. */
function dir(): string {
  const d = tempDir('sitegate-cli-')
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

/** The environment without any SITEGATE_* the runner may have, so only the test's own settings count. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SITEGATE_')) env[k] = v
  return { ...env, ...extra }
}

interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

const TSX_CLI = ['--import', 'tsx', 'src/cli.ts']

/** Runs `sitegate ARGS` to completion (through tsx by default, or another entry such as bin/sitegate.js). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}, entry: string[] = TSX_CLI): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      cwd: ROOT,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Runs the CLI and parses its stdout as JSON, failing with its stderr when it did not succeed. */
async function cliJson<T>(args: string[]): Promise<T> {
  const result = await cli(args)
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout) as T
}

/** `start` on loopback with free ports over dataDir; always stopped with SIGTERM afterwards. */
async function withGateway(
  dataDir: string,
  fn: (gw: SpawnedGateway, httpUrl: string) => Promise<void>,
): Promise<void> {
  const gw = await spawnGateway(
    ['--data-dir', dataDir, '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0'],
    cleanEnv(),
  )
  try {
    await fn(gw, `http://127.0.0.1:${gw.httpPort}`)
  } finally {
    gw.child.kill('SIGTERM')
  }
  expect(await gw.exited).toEqual({ code: 0, signal: null })
}

/** Writes a config file into a fresh temp dir. */
function configFile(text: string): string {
  const file = join(dir(), 'sitegate.yaml')
  writeFileSync(file, text)
  return file
}

describe('sitegate app', () => {
  it('app add prints {appId, secret, apiKey, name}, and that app logs in to a gateway on the same data dir', async () => {
    const dataDir = dir()
    const created = await cliJson<{ appId: string; secret: string; apiKey: string; name: string }>([
      'app',
      'add',
      'crane-monitor',
      '--data-dir',
      dataDir,
    ])
    expect(Object.keys(created).sort()).toEqual(['apiKey', 'appId', 'name', 'secret'])
    expect(created.apiKey.length).toBeGreaterThanOrEqual(16)
    expect(created.name).toBe('crane-monitor')
    expect(created.appId.length).toBeGreaterThan(0)
    expect(created.secret.length).toBeGreaterThanOrEqual(16)

    await withGateway(dataDir, async (_gw, httpUrl) => {
      const session = await login(httpUrl, created)
      expect(session.accessToken.length).toBeGreaterThan(0)
      const wrong = await fetch(`${httpUrl}/iocm/app/sec/v1.1.0/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ appId: created.appId, secret: `${created.secret}x` }).toString(),
      })
      expect(wrong.status).toBe(401)
    })
    // An application already existed, so the first start did not invent another one.
    expect(existsSync(join(dataDir, 'first-app.json'))).toBe(false)
  })

  it('app apikey issues a new remote-call key: the old one stops working, the new one works', async () => {
    const dataDir = dir()
    const created = await cliJson<{ appId: string; apiKey: string }>([
      'app',
      'add',
      'rpc-user',
      '--data-dir',
      dataDir,
    ])
    const issued = await cliJson<{ appId: string; apiKey: string }>([
      'app',
      'apikey',
      created.appId,
      '--data-dir',
      dataDir,
    ])
    expect(issued.appId).toBe(created.appId)
    expect(issued.apiKey).not.toBe(created.apiKey)
    await withGateway(dataDir, async (_gw, httpUrl) => {
      const result = async (apikey: string) => {
        const res = await fetch(`${httpUrl}/iot/v1/application/device/rpc/result?apikey=${apikey}&msgid=none`)
        return ((await res.json()) as { code: number }).code
      }
      expect(await result(created.apiKey)).toBe(401)
      // Authenticated: the msgid is what is unknown.
      expect(await result(issued.apiKey)).toBe(404)
    })
    const unknown = await cli(['app', 'apikey', 'no-such-app', '--data-dir', dataDir])
    expect(unknown.code).not.toBe(0)
  })

  it('app list shows every application without its secret', async () => {
    const dataDir = dir()
    const one = await cliJson<{ appId: string; secret: string }>(['app', 'add', 'one', '--data-dir', dataDir])
    const two = await cliJson<{ appId: string; secret: string }>(['app', 'add', 'two', '--data-dir', dataDir])
    const result = await cli(['app', 'list', '--data-dir', dataDir])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([
      { appId: one.appId, name: 'one', source: 'cli' },
      { appId: two.appId, name: 'two', source: 'cli' },
    ])
    expect(result.stdout).not.toContain(one.secret)
    expect(result.stdout).not.toContain(two.secret)
  })

  it('app list on an empty data dir is an empty list', async () => {
    expect(await cliJson(['app', 'list', '--data-dir', dir()])).toEqual([])
  })

  it.each([[['app']], [['app', 'add']], [['app', 'remove', 'x']]])('%j is a usage error', async (args) => {
    const result = await cli([...args, '--data-dir', dir()])
    expect(result.code).toBe(EXIT_USAGE)
    expect(result.stderr).toContain('app add NAME')
  })
})

describe('sitegate device-credentials', () => {
  interface Credentials {
    clientId: string
    username: string
    password: string
    dataTopic: string
    commandTopic: string
  }
  const credentials = (args: string[]) => cliJson<Credentials>(['device-credentials', ...args])

  it('prints the spec worked example for a device connecting by deviceId', async () => {
    const out = await credentials([
      '--device-id',
      'X',
      '--secret',
      SPEC_SECRET,
      '--at',
      SPEC_AT,
      '--sign-type',
      '0',
    ])
    expect(out).toEqual({
      clientId: 'X_0_0_2018072417',
      username: 'X',
      password: SPEC_PASSWORD,
      dataTopic: '/huawei/v1/devices/X/data/json',
      commandTopic: '/huawei/v1/devices/X/command/json',
    })
  })

  it('--node-id connects by nodeId (authType 2)', async () => {
    const out = await credentials(['--node-id', 'imei_8601', '--secret', SPEC_SECRET, '--at', SPEC_AT])
    expect(out.clientId).toBe('imei_8601_2_1_2018072417')
    expect(out.username).toBe('imei_8601')
    expect(out.password).toBe(SPEC_PASSWORD)
    expect(out.dataTopic).toBe('/huawei/v1/devices/imei_8601/data/json')
  })

  it('signType defaults to 1 (timestamp checked)', async () => {
    const out = await credentials(['--device-id', 'X', '--secret', SPEC_SECRET, '--at', SPEC_AT])
    expect(out.clientId).toBe('X_0_1_2018072417')
  })

  it.each([
    ['no id', ['--secret', SPEC_SECRET]],
    ['no secret', ['--device-id', 'X']],
    ['a sign type 2', ['--device-id', 'X', '--secret', SPEC_SECRET, '--sign-type', '2']],
    ['an --at that is not a date', ['--device-id', 'X', '--secret', SPEC_SECRET, '--at', 'yesterday-ish']],
  ])('%s is a usage error', async (_what, args) => {
    const result = await cli(['device-credentials', ...args])
    expect(result.code).toBe(EXIT_USAGE)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('device-credentials')
  })
})

describe('sitegate start', () => {
  it('a first start creates DATA_DIR/first-app.json (mode 0600), logs where it is, and that app logs in', async () => {
    const dataDir = dir()
    await withGateway(dataDir, async (gw, httpUrl) => {
      const file = join(dataDir, 'first-app.json')
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const mention = gw
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string })
        .find((entry) => entry.msg?.includes(file))
      expect(mention).toBeDefined()
      const session = await login(httpUrl, firstApp(dataDir))
      expect(session.accessToken.length).toBeGreaterThan(0)
    })
  })

  it.each([
    ['mqtt.port out of range', 'mqtt:\n  port: 70000\n', 'mqtt.port'],
    ['an unknown key', 'mqtt:\n  portt: 1884\n', 'mqtt.portt'],
    ['not YAML', 'mqtt:\n  port: [1883\n', 'YAML'],
  ])('a config file with %s exits 2 and says what is wrong', async (_what, yaml, mentions) => {
    const dataDir = dir()
    const result = await cli(['start', '--config', configFile(yaml), '--data-dir', dataDir])
    expect(result.code).toBe(EXIT_CONFIG)
    expect(result.stderr).toContain(mentions)
    // It stopped before touching the data directory.
    expect(existsSync(join(dataDir, 'sitegate.db'))).toBe(false)
  })

  it('a bad port in the environment exits 2 naming the key', async () => {
    const result = await cli(['start', '--data-dir', dir()], { SITEGATE_HTTP_PORT: 'eighty' })
    expect(result.code).toBe(EXIT_CONFIG)
    expect(result.stderr).toContain('http.port')
  })

  it('a missing config file exits 2 naming it', async () => {
    const missing = join(dir(), 'missing.yaml')
    const result = await cli(['start', '--config', missing])
    expect(result.code).toBe(EXIT_CONFIG)
    expect(result.stderr).toContain(missing)
  })
})

describe('usage', () => {
  it('--help prints the usage and exits 0', async () => {
    const result = await cli(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^usage: sitegate/)
    for (const command of ['start', 'app add NAME', 'app list', 'device-credentials', '--data-dir']) {
      expect(result.stdout).toContain(command)
    }
  })

  it.each([
    ['an unknown command', ['frobnicate'], 'frobnicate'],
    ['an unknown option', ['start', '--no-such-option'], '--no-such-option'],
  ])('%s exits 64 with the usage', async (_what, args, mentions) => {
    const result = await cli(args)
    expect(result.code).toBe(EXIT_USAGE)
    expect(result.stderr).toContain(mentions)
    expect(result.stderr).toContain('usage: sitegate')
  })

  it('bin/sitegate.js runs the same CLI', async () => {
    const result = await cli(['--help'], {}, ['bin/sitegate.js'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^usage: sitegate/)
  })
})
