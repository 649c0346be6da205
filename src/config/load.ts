import { readFileSync } from 'node:fs'
import { Value } from '@sinclair/typebox/value'
import { parse as parseYaml } from 'yaml'
import { checkSerialConfig } from '../serial/config.ts'
import { ConfigSchema, defaultConfig, type GatewayConfig } from './schema.ts'

/** A configuration problem, naming the key and what is wrong with it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Overrides from the command line (`--data-dir`, `--mqtt-port`, ...). */
export interface ConfigOverrides {
  configFile?: string
  dataDir?: string
  host?: string
  mqttPort?: string
  mqttsPort?: string
  wsPort?: string
  httpPort?: string
  httpsPort?: string
  logLevel?: string
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base }
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Json, v) : v
  }
  return out
}

// A port from a flag or an environment variable: a number, or "false" to disable the listener.
function portValue(key: string, text: string): number | false {
  if (text === 'false') return false
  if (!/^\d+$/.test(text)) throw new ConfigError(`${key}: expected a port number or false, got "${text}"`)
  return Number(text)
}

function readConfigFile(path: string): Json {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot be read (${(err as Error).message})`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`)
  }
  if (doc === null || doc === undefined) return {}
  if (!isObject(doc)) throw new ConfigError(`config file ${path}: the top level must be a mapping of keys`)
  return doc
}

function overridesFrom(env: NodeJS.ProcessEnv, flags: ConfigOverrides): { file?: string; over: Json } {
  const over: Json = {}
  const pick = (flag: string | undefined, envName: string): string | undefined => flag ?? env[envName]
  const file = pick(flags.configFile, 'SITEGATE_CONFIG')
  const dataDir = pick(flags.dataDir, 'SITEGATE_DATA_DIR')
  const host = pick(flags.host, 'SITEGATE_HOST')
  const logLevel = pick(flags.logLevel, 'SITEGATE_LOG_LEVEL')
  if (dataDir !== undefined) over.dataDir = dataDir
  if (host !== undefined) over.host = host
  const mqtt: Json = {}
  const http: Json = {}
  const ports = [
    [mqtt, 'port', 'mqtt.port', flags.mqttPort, 'SITEGATE_MQTT_PORT'],
    [mqtt, 'tlsPort', 'mqtt.tlsPort', flags.mqttsPort, 'SITEGATE_MQTTS_PORT'],
    [mqtt, 'wsPort', 'mqtt.wsPort', flags.wsPort, 'SITEGATE_WS_PORT'],
    [http, 'port', 'http.port', flags.httpPort, 'SITEGATE_HTTP_PORT'],
    [http, 'httpsPort', 'http.httpsPort', flags.httpsPort, 'SITEGATE_HTTPS_PORT'],
  ] as const
  for (const [section, field, key, flag, envName] of ports) {
    const text = pick(flag, envName)
    if (text !== undefined) section[field] = portValue(key, text)
  }
  if (Object.keys(mqtt).length > 0) over.mqtt = mqtt
  if (Object.keys(http).length > 0) over.http = http
  if (logLevel !== undefined) over.log = { level: logLevel }
  return file === undefined ? { over } : { file, over }
}

function describeErrors(candidate: unknown): string {
  const seen = new Set<string>()
  const lines: string[] = []
  for (const e of Value.Errors(ConfigSchema, candidate)) {
    const key = e.path.replace(/^\//, '').replaceAll('/', '.') || '(top level)'
    if (seen.has(key)) continue
    seen.add(key)
    const got = e.value === undefined ? 'nothing' : JSON.stringify(e.value)
    // Schemas that carry a description say what they want in words ("a port number 0-65535, or false").
    const expected = typeof e.schema.description === 'string' ? `expected ${e.schema.description}` : e.message
    const what =
      e.message.includes('additional') || e.message.includes('Unexpected property')
        ? 'unknown key'
        : `${expected}, got ${got}`
    lines.push(`${key}: ${what}`)
  }
  return lines.join('; ')
}

/** Validates a complete candidate config; returns it frozen or throws ConfigError naming each bad key. */
export function validateConfig(candidate: unknown): Readonly<GatewayConfig> {
  if (!Value.Check(ConfigSchema, candidate))
    throw new ConfigError(`invalid config: ${describeErrors(candidate)}`)
  const config = candidate as GatewayConfig
  // A certificate without its key (or the reverse) is a mistake, not a request for a self-signed one.
  // Whether the files exist and parse is checked when the gateway starts (src/tls/certificate.ts).
  if ((config.tls.cert === undefined) !== (config.tls.key === undefined)) {
    const [missing, given] = config.tls.cert === undefined ? ['cert', 'key'] : ['key', 'cert']
    throw new ConfigError(
      `invalid config: tls.${missing}: needed with tls.${given} (give both, or neither for a self-signed certificate)`,
    )
  }
  checkUpstream(config.upstream)
  const ids = new Set<string>()
  for (const [i, app] of config.apps.entries()) {
    if (ids.has(app.appId))
      throw new ConfigError(`invalid config: apps.${i}.appId: "${app.appId}" is listed twice`)
    ids.add(app.appId)
  }
  // Serial ports: duplicates, data types that do not fit a table, … (src/serial/config.ts).
  const serialProblem = checkSerialConfig(config.serial)
  if (serialProblem !== undefined) throw new ConfigError(`invalid config: ${serialProblem}`)
  return deepFreeze(config)
}

/** With `upstream.url` set, the gateway's identity on the cloud must be complete for its profile. */
function checkUpstream(upstream: GatewayConfig['upstream']): void {
  if (upstream.url === undefined) return
  const needed = upstream.profile === 'onejson' ? ['deviceId', 'secret', 'productId'] : ['deviceId', 'secret']
  for (const key of needed) {
    if (upstream[key as 'deviceId'] === undefined)
      throw new ConfigError(
        `invalid config: upstream.${key}: needed with upstream.url for the ${upstream.profile} profile`,
      )
  }
  if ((upstream.cert === undefined) !== (upstream.key === undefined))
    throw new ConfigError('invalid config: upstream.cert and upstream.key: give both, or neither')
  if (upstream.maxBackoffMs < upstream.initialBackoffMs)
    throw new ConfigError(
      'invalid config: upstream.maxBackoffMs: must not be below upstream.initialBackoffMs',
    )
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** Defaults ← config file (YAML) ← SITEGATE_* environment ← command-line flags; validated and frozen. */
export function loadConfig(
  flags: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Readonly<GatewayConfig> {
  const { file, over } = overridesFrom(env, flags)
  let merged: Json = defaultConfig() as unknown as Json
  if (file !== undefined) merged = deepMerge(merged, readConfigFile(file))
  merged = deepMerge(merged, over)
  return validateConfig(merged)
}
