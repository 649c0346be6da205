import { parseArgs } from 'node:util'
import { ApplicationService } from './apps/service.ts'
import { type AuthType, deviceCredentials, type SignType } from './broker/credentials.ts'
import { ConfigError, type ConfigOverrides, loadConfig } from './config/load.ts'
import { dataPaths } from './config/paths.ts'
import { createLogger } from './logger.ts'
import { BackupError } from './ops/backup/manifest.ts'
import { createGatewayLogger } from './ops/log-file.ts'
import { CORE_ENV, CORE_NODE_FLAGS, coreFlagsApplied } from './ops/memory-tuning.ts'
import { commandTopic, dataTopic } from './protocols/platform-mqtt.ts'
import { assertWritableDataDir, DATA_DIR_EXIT_CODE, DataDirError } from './store/data-dir.ts'
import { openDatabase } from './store/db.ts'
import { createStore } from './store/index.ts'
import { MigrationError } from './store/migrate.ts'

const USAGE = `usage: sitegate [command] [options]

commands:
  start                       run the gateway headless (the default)
  app add NAME                create an application; prints {"appId","secret","apiKey","name"} as JSON
  app list                    list the applications
  app apikey APPID            issue a new remote-call API key (the old one stops working); prints it
  device-credentials          print the MQTT clientId, username and password a device must use now
      --device-id ID | --node-id NODE   connect by deviceId (auth type 0) or by nodeId (auth type 2)
      --secret SECRET                   the device secret returned at registration
      [--sign-type 0|1] [--at ISO-TIME] timestamp checked (1, default) or not (0); compute for another time
  backup FILE                 back up the data directory into FILE (a .tar.gz), also while the gateway runs
  restore FILE [--force]      restore a backup into the data directory; no gateway may be running on it, and
                              a non-empty one is replaced only with --force (its contents are kept beside it)

options (start, app, backup, restore):
  --config FILE      YAML config file            (env SITEGATE_CONFIG)
  --data-dir DIR     data directory, ./data      (env SITEGATE_DATA_DIR)
  --mqtt-port N      MQTT port, 1883; false=off  (env SITEGATE_MQTT_PORT)
  --mqtts-port N     MQTTS port, 8883; false=off (env SITEGATE_MQTTS_PORT)
  --ws-port N        MQTT over WebSocket, 8083; false=off (env SITEGATE_WS_PORT)
  --http-port N      HTTP port, 8080; false=off  (env SITEGATE_HTTP_PORT)
  --https-port N     HTTPS port, 8743; false=off (env SITEGATE_HTTPS_PORT)
                     (N 0: any free port; MQTTS and HTTPS use tls.cert/tls.key from the config file,
                     or a self-signed certificate made on first start in DATA_DIR/tls)
  --host ADDR        bind address, 0.0.0.0       (env SITEGATE_HOST)
  --log-level LEVEL  info                        (env SITEGATE_LOG_LEVEL)
`

const OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'mqtt-port': { type: 'string' },
  'mqtts-port': { type: 'string' },
  'ws-port': { type: 'string' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  host: { type: 'string' },
  'log-level': { type: 'string' },
  'device-id': { type: 'string' },
  'node-id': { type: 'string' },
  secret: { type: 'string' },
  'sign-type': { type: 'string' },
  at: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  force: { type: 'boolean' },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

function overrides(v: Values): ConfigOverrides {
  const o: ConfigOverrides = {}
  if (v.config !== undefined) o.configFile = v.config
  if (v['data-dir'] !== undefined) o.dataDir = v['data-dir']
  if (v['mqtt-port'] !== undefined) o.mqttPort = v['mqtt-port']
  if (v['mqtts-port'] !== undefined) o.mqttsPort = v['mqtts-port']
  if (v['ws-port'] !== undefined) o.wsPort = v['ws-port']
  if (v['http-port'] !== undefined) o.httpPort = v['http-port']
  if (v['https-port'] !== undefined) o.httpsPort = v['https-port']
  if (v.host !== undefined) o.host = v.host
  if (v['log-level'] !== undefined) o.logLevel = v['log-level']
  return o
}

async function start(v: Values): Promise<void> {
  const config = loadConfig(overrides(v))
  // A data dir that cannot be written stops the start with one clear message (issue 10, item 3); checked before
  // the log file, which lives in it.
  assertWritableDataDir(config.dataDir)
  // stdout, and DATA_DIR/logs/sitegate.log with log.file.enabled (README "Operations").
  const { log } = createGatewayLogger(config)
  // Loaded here, not at the top: the other commands need none of the broker/HTTP stack.
  const { createGateway } = await import('./gateway.ts')
  const gateway = await createGateway(config, log)
  // Said once the configuration has been accepted (a refused start writes nothing to the data dir's log).
  if (!coreFlagsApplied(process.execArgv, process.env.NODE_OPTIONS)) {
    log.warn(
      { flags: CORE_NODE_FLAGS, env: CORE_ENV },
      'started without the core memory settings (npm start and the desktop app pass them): expect young ' +
        'generations of up to 48 MiB per busy thread and a heap let to grow further between full collections; ' +
        'a service unit of your own should run node with these flags and environment',
    )
  }

  // Signals are handled from here on, before the listeners open: a SIGTERM that arrives while the gateway starts
  // (or just as it says it is listening) stops it cleanly once the start is over, rather than killing it.
  let stopping = false
  let starting: Promise<unknown> = Promise.resolve()
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    const deadline = setTimeout(() => {
      log.error(`did not stop within ${config.shutdownTimeoutMs} ms; exiting`)
      process.exit(1)
    }, config.shutdownTimeoutMs)
    starting
      .catch(() => {})
      .then(() => gateway.stop())
      .then(
        () => {
          clearTimeout(deadline)
          log.info('stopped')
          process.exit(0)
        },
        (err: unknown) => {
          log.error({ err }, 'error while stopping')
          process.exit(1)
        },
      )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))

  const started = gateway.start()
  starting = started
  const listeners = await started
  const where = listeners.map((l) => `${l.kind} ${l.host}:${l.port}`).join(', ')
  const tls = gateway.tls && { certFile: gateway.tls.certFile, fingerprint256: gateway.tls.fingerprint256 }
  log.info(
    { listeners, dataDir: gateway.dataDir, ...(tls ? { tls } : {}) },
    `sitegate listening: ${where || 'no listeners'} (data in ${gateway.dataDir})` +
      (tls ? `; TLS certificate SHA-256 ${tls.fingerprint256}` : ''),
  )
}

async function app(v: Values, args: string[]): Promise<void> {
  const config = loadConfig(overrides(v))
  const store = createStore(
    openDatabase(dataPaths(config.dataDir).database, { synchronous: config.store.synchronous }),
  )
  try {
    const service = new ApplicationService(store, createLogger('silent'))
    if (args[0] === 'add' && args[1]) {
      const created = await service.create(args[1], 'cli')
      process.stdout.write(`${JSON.stringify(created)}\n`)
    } else if (args[0] === 'apikey' && args[1]) {
      process.stdout.write(`${JSON.stringify({ appId: args[1], apiKey: service.issueApiKey(args[1]) })}\n`)
    } else if (args[0] === 'list') {
      const rows = store.applications.list().map((a) => ({ appId: a.app_id, name: a.name, source: a.source }))
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
    } else {
      throw new UsageError('app: expected "app add NAME", "app apikey APPID" or "app list"')
    }
  } finally {
    store.db.close()
  }
}

function credentials(v: Values): void {
  const byNode = v['node-id'] !== undefined
  const id = v['node-id'] ?? v['device-id']
  if (!id || !v.secret)
    throw new UsageError('device-credentials: needs --device-id or --node-id, and --secret')
  const signType = v['sign-type'] ?? '1'
  if (signType !== '0' && signType !== '1') throw new UsageError('device-credentials: --sign-type is 0 or 1')
  const now = v.at === undefined ? Date.now() : Date.parse(v.at)
  if (Number.isNaN(now)) throw new UsageError(`device-credentials: --at "${v.at}" is not a date`)
  const authType: AuthType = byNode ? 2 : 0
  const creds = deviceCredentials({
    id,
    secret: v.secret,
    authType,
    signType: Number(signType) as SignType,
    now,
  })
  const out = { ...creds, dataTopic: dataTopic(id), commandTopic: commandTopic(id) }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
}

/** `backup FILE` and `restore FILE` (README "Backup and restore"); the summary goes to stdout as JSON. */
async function backupOrRestore(command: 'backup' | 'restore', v: Values, args: string[]): Promise<void> {
  if (args.length !== 1) throw new UsageError(`${command}: expected "${command} FILE"`)
  const config = loadConfig(overrides(v))
  const summary =
    command === 'backup'
      ? await (await import('./ops/backup/backup.ts')).createBackup(config.dataDir, args[0]!)
      : await (await import('./ops/backup/restore.ts')).restoreBackup(args[0]!, config.dataDir, {
          force: v.force === true,
        })
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  const [command = 'start', ...rest] = positionals
  if (command === 'start') return start(values)
  if (command === 'app') return app(values, rest)
  if (command === 'device-credentials') return credentials(values)
  if (command === 'backup' || command === 'restore') return backupOrRestore(command, values, rest)
  throw new UsageError(`unknown command "${command}"`)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof BackupError) {
    process.stderr.write(`sitegate: ${err.message}\n`)
    process.exit(1)
  }
  if (err instanceof ConfigError || err instanceof MigrationError) {
    process.stderr.write(`sitegate: ${err.message}\n`)
    process.exit(2)
  }
  if (err instanceof DataDirError) {
    process.stderr.write(`sitegate: ${err.message}\n`)
    process.exit(DATA_DIR_EXIT_CODE)
  }
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`sitegate: ${(err as Error).message}\n\n${USAGE}`)
    process.exit(64)
  }
  // An error from the writer thread arrives as a plain object (its prototype does not cross threads).
  const e = err as { stack?: unknown; message?: unknown; code?: unknown }
  const text =
    typeof e?.stack === 'string'
      ? e.stack
      : typeof e?.message === 'string'
        ? `${e.code ?? ''} ${e.message}`
        : JSON.stringify(err)
  process.stderr.write(`sitegate: failed to start: ${text}\n`)
  process.exit(1)
})
