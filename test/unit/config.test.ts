import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, type ConfigOverrides, loadConfig } from '../../src/config/load.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

const dir = tempDir('sitegate-config-')
afterAll(() => removeDir(dir))

let files = 0
/** Writes a YAML config file into the temp dir and returns its path. */
function yamlFile(text: string): string {
  files += 1
  const file = join(dir, `config-${files}.yaml`)
  writeFileSync(file, text)
  return file
}

/** loadConfig with an explicit (empty by default) environment, so the test runner's env never leaks in. */
const load = (flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = {}) => loadConfig(flags, env)

/** The ConfigError message loadConfig throws; fails the test when it does not throw one. */
function configError(flags: ConfigOverrides, env: NodeJS.ProcessEnv = {}): string {
  try {
    load(flags, env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig defaults (no file)', () => {
  it('runs on the embedded defaults', () => {
    const config = load()
    expect(config.dataDir).toBe('./data')
    expect(config.host).toBe('0.0.0.0')
    expect(config.mqtt.port).toBe(1883)
    expect(config.http.port).toBe(8080)
    expect(config.mqtt.tlsPort).toBe(8883)
    expect(config.mqtt.wsPort).toBe(8083)
    expect(config.http.httpsPort).toBe(8743)
    expect(config.tls).toEqual({})
    expect(config.log.level).toBe('info')
    expect(config.store.synchronous).toBe('FULL')
    expect(config.apps).toEqual([])
  })

  it('is deeply frozen', () => {
    const config = load()
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.mqtt)).toBe(true)
    expect(Object.isFrozen(config.apps)).toBe(true)
    expect(() => {
      ;(config.mqtt as { port: number | false }).port = 1
    }).toThrow(TypeError)
    expect(config.mqtt.port).toBe(1883)
  })
})

describe('loadConfig precedence: defaults ← file ← SITEGATE_* env ← flags', () => {
  const file = () =>
    yamlFile(
      ['dataDir: /srv/file', 'mqtt:', '  port: 2883', 'http:', '  port: 9080', 'log:', '  level: warn'].join(
        '\n',
      ),
    )

  it('a YAML file overrides the defaults and keeps the keys it does not mention', () => {
    const config = load({ configFile: file() })
    expect(config.dataDir).toBe('/srv/file')
    expect(config.mqtt.port).toBe(2883)
    expect(config.http.port).toBe(9080)
    expect(config.log.level).toBe('warn')
    expect(config.host).toBe('0.0.0.0')
    expect(config.mqtt.timestampToleranceHours).toBe(1)
  })

  it('SITEGATE_CONFIG names the file', () => {
    expect(load({}, { SITEGATE_CONFIG: file() }).mqtt.port).toBe(2883)
  })

  it('an empty file is the defaults', () => {
    expect(load({ configFile: yamlFile('') }).mqtt.port).toBe(1883)
  })

  it('SITEGATE_* environment overrides the file', () => {
    const config = load(
      { configFile: file() },
      {
        SITEGATE_DATA_DIR: '/srv/env',
        SITEGATE_MQTT_PORT: '3883',
        SITEGATE_HTTP_PORT: '3080',
        SITEGATE_HOST: '127.0.0.1',
        SITEGATE_LOG_LEVEL: 'debug',
      },
    )
    expect(config.dataDir).toBe('/srv/env')
    expect(config.mqtt.port).toBe(3883)
    expect(config.http.port).toBe(3080)
    expect(config.host).toBe('127.0.0.1')
    expect(config.log.level).toBe('debug')
  })

  it('flags override the environment and the file', () => {
    const config = load(
      {
        configFile: file(),
        dataDir: '/srv/flag',
        mqttPort: '4883',
        httpPort: '4080',
        host: '::1',
        logLevel: 'error',
      },
      {
        SITEGATE_DATA_DIR: '/srv/env',
        SITEGATE_MQTT_PORT: '3883',
        SITEGATE_HTTP_PORT: '3080',
        SITEGATE_LOG_LEVEL: 'debug',
      },
    )
    expect(config.dataDir).toBe('/srv/flag')
    expect(config.mqtt.port).toBe(4883)
    expect(config.http.port).toBe(4080)
    expect(config.host).toBe('::1')
    expect(config.log.level).toBe('error')
  })

  it('--config overrides SITEGATE_CONFIG', () => {
    const other = yamlFile('mqtt:\n  port: 5883\n')
    expect(load({ configFile: other }, { SITEGATE_CONFIG: file() }).mqtt.port).toBe(5883)
  })
})

describe('false disables a listener', () => {
  it('from the file', () => {
    const config = load({ configFile: yamlFile('mqtt:\n  port: false\nhttp:\n  port: false\n') })
    expect(config.mqtt.port).toBe(false)
    expect(config.http.port).toBe(false)
  })

  it('from a flag "false"', () => {
    expect(load({ mqttPort: 'false' }).mqtt.port).toBe(false)
    expect(load({ httpPort: 'false' }).http.port).toBe(false)
  })

  it('from the environment "false"', () => {
    expect(load({}, { SITEGATE_HTTP_PORT: 'false' }).http.port).toBe(false)
  })

  it('true is not a port', () => {
    expect(configError({ configFile: yamlFile('mqtt:\n  port: true\n') })).toContain('mqtt.port')
  })
})

describe('bad values give a ConfigError naming the key', () => {
  it.each([
    ['mqtt.port out of range', 'mqtt:\n  port: 70000\n', 'mqtt.port'],
    ['mqtt.port negative', 'mqtt:\n  port: -1\n', 'mqtt.port'],
    ['http.port a string', 'http:\n  port: "abc"\n', 'http.port'],
    ['http.port a quoted number (no coercion)', 'http:\n  port: "8080"\n', 'http.port'],
    ['an unknown nested key', 'mqtt:\n  portt: 1884\n', 'mqtt.portt'],
    ['an unknown top-level key', 'dataDirectory: /x\n', 'dataDirectory'],
    ['log.level not a level', 'log:\n  level: loud\n', 'log.level'],
    [
      'apps with a duplicate appId',
      'apps:\n  - {appId: site, secret: secret-one}\n  - {appId: site, secret: secret-two}\n',
      'apps.1.appId',
    ],
    ['an app secret shorter than 8', 'apps:\n  - {appId: site, secret: short}\n', 'apps.0.secret'],
    ['tls.cert without tls.key', 'tls:\n  cert: /etc/c.pem\n', 'tls.key'],
    ['tls.key without tls.cert', 'tls:\n  key: /etc/k.pem\n', 'tls.cert'],
    ['mqtt.wsPort true', 'mqtt:\n  wsPort: true\n', 'mqtt.wsPort'],
    [
      'mqtt.timestampToleranceHours fractional',
      'mqtt:\n  timestampToleranceHours: 1.5\n',
      'mqtt.timestampToleranceHours',
    ],
  ])('%s', (_what, yaml, key) => {
    expect(configError({ configFile: yamlFile(yaml) })).toContain(`${key}:`)
  })

  it('tlsPort with tls.cert and tls.key is accepted (the files are checked when the gateway starts)', () => {
    const file = yamlFile('mqtt:\n  tlsPort: 8883\ntls:\n  cert: /etc/c.pem\n  key: /etc/k.pem\n')
    expect(load({ configFile: file }).mqtt.tlsPort).toBe(8883)
  })

  it('TLS ports without tls.cert/key are accepted: the gateway makes a self-signed certificate', () => {
    const config = load({ configFile: yamlFile('mqtt:\n  tlsPort: 18883\nhttp:\n  httpsPort: 18743\n') })
    expect(config.mqtt.tlsPort).toBe(18883)
    expect(config.http.httpsPort).toBe(18743)
  })

  it('--mqtts-port, --ws-port, --https-port and their SITEGATE_* variables set the ports; false turns one off', () => {
    const env = { SITEGATE_MQTTS_PORT: '9883', SITEGATE_WS_PORT: 'false', SITEGATE_HTTPS_PORT: '9743' }
    const fromEnv = load({}, env)
    expect([fromEnv.mqtt.tlsPort, fromEnv.mqtt.wsPort, fromEnv.http.httpsPort]).toEqual([9883, false, 9743])
    // Flags beat the environment, and setting one port keeps the others of its section.
    const flags = load({ mqttsPort: 'false', wsPort: '0', httpsPort: 'false', mqttPort: '2883' }, env)
    expect(flags.mqtt).toMatchObject({ port: 2883, tlsPort: false, wsPort: 0 })
    expect(flags.http).toMatchObject({ port: 8080, httpsPort: false })
  })

  it.each([
    ['flag', { mqttPort: 'abc' }, {}, 'mqtt.port'],
    ['flag out of range', { httpPort: '70000' }, {}, 'http.port'],
    ['environment', {}, { SITEGATE_HTTP_PORT: '80a' }, 'http.port'],
    ['environment log level', {}, { SITEGATE_LOG_LEVEL: 'loud' }, 'log.level'],
    ['MQTTS flag', { mqttsPort: 'on' }, {}, 'mqtt.tlsPort'],
    ['WebSocket environment', {}, { SITEGATE_WS_PORT: '-1' }, 'mqtt.wsPort'],
    ['HTTPS flag out of range', { httpsPort: '99999' }, {}, 'http.httpsPort'],
  ])('a bad %s value names the key', (_what, flags, env, key) => {
    expect(configError(flags, env)).toContain(key)
  })

  it('a file that is not YAML', () => {
    const file = yamlFile('mqtt:\n  port: [1883\n')
    const message = configError({ configFile: file })
    expect(message).toContain(file)
    expect(message).toContain('YAML')
  })

  it('a file whose top level is not a mapping', () => {
    expect(configError({ configFile: yamlFile('- a\n- b\n') })).toContain('top level')
  })

  it('a file that does not exist', () => {
    const missing = join(dir, 'missing.yaml')
    expect(configError({ configFile: missing })).toContain(missing)
  })
})
