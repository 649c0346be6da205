// The log file (issue 10 item 5): the gateway started as a user starts it writes its JSON log lines to stdout,
// unchanged, and to DATA_DIR/logs/sitegate.log, rotated by size with a cap on the number of files.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, type SpawnedGateway, spawnGateway, tempDir } from '../helpers/gateway.ts'
import { connackCode, waitFor } from '../helpers/mqtt.ts'

describe('log file', () => {
  let dir: string
  let gw: SpawnedGateway
  const logs = () => join(dir, 'data', 'logs')
  const fileLines = () =>
    readdirSync(logs())
      .sort()
      .reverse()
      .flatMap((name) => readFileSync(join(logs(), name), 'utf8').split('\n').filter(Boolean))

  beforeAll(async () => {
    dir = tempDir('sitegate-logfile-')
    const config = join(dir, 'sitegate.yaml')
    writeFileSync(config, 'log:\n  file:\n    enabled: true\n    maxBytes: 4096\n    maxFiles: 2\n')
    gw = await spawnGateway([
      '--config',
      config,
      '--data-dir',
      join(dir, 'data'),
      '--host',
      '127.0.0.1',
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
    ])
  })
  afterAll(async () => {
    if (gw && gw.child.exitCode === null) {
      gw.child.kill('SIGKILL')
      await gw.exited
    }
    removeDir(dir)
  })

  it('holds the same lines as stdout, starting with the start-up lines', () => {
    const lines = fileLines()
    const listening = lines.find((l) => l.includes('sitegate listening'))
    expect(listening).toBeDefined()
    expect(gw.output()).toContain(listening)
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow()
  })

  it('rotates by size and keeps at most maxFiles rotated files', async () => {
    // Each refused CONNECT logs a warning line.
    const url = `mqtt://127.0.0.1:${gw.mqttPort}`
    for (let i = 0; i < 60; i++) {
      expect(
        await connackCode(url, {
          clientId: `nobody${i}_0_0_2026010100`,
          username: `nobody${i}`,
          password: 'x',
        }),
      ).not.toBe(0)
    }
    await waitFor(() => existsSync(join(logs(), 'sitegate.log.2')), 'two rotations')
    expect(readdirSync(logs()).sort()).toEqual(['sitegate.log', 'sitegate.log.1', 'sitegate.log.2'])
    for (const name of readdirSync(logs()))
      expect(statSync(join(logs(), name)).size).toBeLessThanOrEqual(4096)
    // The newest refusal is in the file as it is on stdout.
    const refusals = await waitFor(() => {
      const found = gw
        .output()
        .split('\n')
        .filter((l) => l.includes('MQTT connect refused'))
      return found.length === 60 ? found : undefined
    }, 'the refusals on stdout')
    expect(fileLines()).toContain(refusals.at(-1))
  })

  it('has the last line written before the process exits', async () => {
    gw.child.kill('SIGTERM')
    expect((await gw.exited).code).toBe(0)
    expect(fileLines().at(-1)).toContain('"msg":"stopped"')
  })
})
