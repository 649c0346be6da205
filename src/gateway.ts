import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { apiServers, buildApi } from './api/server.ts'
import { AppThrottle } from './api/throttle.ts'
import { ApplicationService } from './apps/service.ts'
import { Broker, type ListenerAddress } from './broker/broker.ts'
import { buildCameras } from './cameras/index.ts'
import { cameraMessageLimit } from './cameras/limits.ts'
import type { CameraService } from './cameras/service.ts'
import type { SnapshotStore } from './cameras/snapshot-store.ts'
import { CommandService } from './commands/service.ts'
import { dataPaths } from './config/paths.ts'
import type { GatewayConfig } from './config/schema.ts'
import { DeviceRegistry } from './devices/registry.ts'
import { DeviceViewCache } from './devices/view-cache.ts'
import { EventBus } from './events.ts'
import type { Logger } from './logger.ts'
import { CallbackDispatcher, defaultBackoffMs } from './notify/callback-dispatcher.ts'
import { Ops } from './ops/index.ts'
import { ProductCatalog } from './products/catalog.ts'
import { oneJsonUplinkHandler } from './protocols/onejson-uplink.ts'
import { platformUplinkHandler } from './protocols/platform-uplink.ts'
import { xmppSettings } from './safety/config.ts'
import { SafetyService } from './safety/service.ts'
import { resolveSerial } from './serial/config.ts'
import { SerialService } from './serial/service.ts'
import { DesiredStateService } from './shadows/desired.ts'
import { ShadowService } from './shadows/service.ts'
import { openDatabase } from './store/db.ts'
import { createStore, type Store } from './store/index.ts'
import { SyncService } from './sync/service.ts'
import { IngestService } from './telemetry/ingest.ts'
import { resolveTls, type TlsMaterial } from './tls/certificate.ts'

export interface Listener {
  kind: ListenerAddress['kind'] | 'http' | 'https'
  host: string
  port: number
}

export interface Gateway {
  readonly config: Readonly<GatewayConfig>
  readonly dataDir: string
  readonly bus: EventBus
  readonly store: Store
  readonly apps: ApplicationService
  readonly registry: DeviceRegistry
  readonly shadows: ShadowService
  readonly ingest: IngestService
  readonly commands: CommandService
  readonly broker: Broker
  readonly sync: SyncService
  /** Safety-device calls over XMPP (issue 7); its client is idle when `xmpp:` is not configured. */
  readonly safety: SafetyService
  readonly api: FastifyInstance
  /** Cameras (issue 6): their protocol, status and command driver; snapshot files + index; firmware packages. */
  readonly cameras: CameraService
  readonly snapshots: SnapshotStore
  /** The certificate of the MQTTS and HTTPS listeners; undefined when both are disabled. */
  readonly tls: TlsMaterial | undefined
  /** RS-485 Modbus RTU instruments (config `serial`). */
  readonly serial: SerialService
  /** Health, readiness, metrics and history retention (issue 10). */
  readonly ops: Ops
  /** Where each listener ended up (port 0 in the config means any free port). */
  listeners: Listener[]
  start(): Promise<Listener[]>
  stop(): Promise<void>
}

/**
 * The composition root: builds every part from the config, `start()` opens them in dependency order
 * (store → applications → registry → ingest writer → broker → HTTP), `stop()` closes them in reverse.
 */
export async function createGateway(config: Readonly<GatewayConfig>, log: Logger): Promise<Gateway> {
  const dataDir = resolve(config.dataDir)
  // First: configured certificate files that cannot be used stop the start before anything is touched.
  const tls = await resolveTls(config, log.child({ part: 'tls' }))
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const paths = dataPaths(dataDir)
  const bus = new EventBus()
  const store = createStore(openDatabase(paths.database, { synchronous: config.store.synchronous }))
  const apps = new ApplicationService(store, log.child({ part: 'apps' }))
  const products = new ProductCatalog(store, log.child({ part: 'products' }))
  products.loadDirectory(join(dataDir, 'products'))
  const registry = new DeviceRegistry(store, bus, log.child({ part: 'devices' }), products)
  const shadows = new ShadowService(store)
  const ingest = new IngestService(
    { databaseFile: paths.database, synchronous: config.store.synchronous },
    registry,
    bus,
    log.child({ part: 'ingest' }),
    config.ingest.maxBatch,
  )
  const uplinkLog = log.child({ part: 'uplink' })
  const broker = new Broker(
    {
      host: config.host,
      port: config.mqtt.port,
      tlsPort: config.mqtt.tlsPort,
      wsPort: config.mqtt.wsPort,
      tls,
      persistenceDir: paths.broker,
      timestampToleranceHours: config.mqtt.timestampToleranceHours,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      cameraMaxPayloadBytes: cameraMessageLimit(config.cameras.maxImageBytes),
    },
    registry,
    bus,
    log.child({ part: 'broker' }),
    // Each protocol's uplink (the command service exists by the time any device can publish).
    (session, topic, payload, done) =>
      session.protocol === 'camera'
        ? cameraUplink(session, topic, payload, done)
        : session.protocol === 'onejson'
          ? oneJsonUplink(session, topic, payload, done)
          : platformUplink(session, topic, payload, done),
  )
  const commands = new CommandService(
    store,
    ingest,
    broker,
    bus,
    log.child({ part: 'commands' }),
    config.commands,
  )
  const platformUplink = platformUplinkHandler(ingest, commands, uplinkLog)
  const oneJsonUplink = oneJsonUplinkHandler(commands, uplinkLog)
  broker.onDeviceAck = (session, _topic, payload) => commands.deviceAcked(session, payload)
  broker.onDeviceListening = (session) => commands.deviceListening(session.deviceId)
  broker.onDeviceGone = (deviceId) => commands.deviceGone(deviceId)
  // Cameras (device-mqtt.md Part C): their messages over MQTT and HTTP, and their commands through the ledger.
  const cams = buildCameras({
    config,
    dataDir,
    store,
    registry,
    commands,
    ingest,
    broker,
    bus,
    log,
    listeners: () => gateway.listeners,
  })
  const cameraUplink = cams.uplink
  const desired = new DesiredStateService(ingest, commands, {
    maxRetransmit: config.commands.desiredMaxRetransmit,
  })
  const callbackDispatcher = new CallbackDispatcher(
    {
      due: (now, limit) => store.callbacks.due(now, limit),
      nextDueAt: () => store.callbacks.nextDueAt(),
      record: (id, outcome) => ingest.execute('callback.record', { id, outcome }),
    },
    log.child({ part: 'callbacks' }),
    {
      maxAttempts: config.callbacks.maxAttempts,
      timeoutMs: config.callbacks.timeoutMs,
      backoffMs: (attempt) => defaultBackoffMs(attempt, config.callbacks.initialBackoffMs),
    },
  )
  commands.onCallbacksQueued = () => callbackDispatcher.wake()
  const sync = new SyncService({
    config: config.upstream,
    databaseFile: paths.database,
    snapshotsDir: cams.snapshots.dir,
    logLevel: config.log.level,
    commandLimits: {
      pendingLimit: config.commands.pendingLimit,
      desiredMaxRetransmit: config.commands.desiredMaxRetransmit,
    },
    store,
    writer: ingest,
    commands,
    products,
    bus,
    log: log.child({ part: 'sync' }),
  })
  // Push notifications (§7) are queued in the transactions of the facts they announce: after a writer batch,
  // and after the registry's own writes (which emit these events once committed). Outbox rows likewise.
  ingest.onBatchCommitted = () => {
    callbackDispatcher.wake()
    sync.wake()
  }
  for (const event of ['device.added', 'device.deleted', 'device.status'] as const) {
    bus.on(event, () => callbackDispatcher.wake())
  }
  // Serial instruments: devices whose commands go through their own driver, not the broker.
  const serial = new SerialService(resolveSerial(config.serial), config.serial.appId, {
    store,
    registry,
    ingest,
    commands,
    bus,
    log: log.child({ part: 'serial' }),
  })
  const safety = new SafetyService(
    store,
    ingest,
    registry,
    bus,
    log.child({ part: 'safety' }),
    config.xmpp ? xmppSettings(config.xmpp) : undefined,
  )
  // Issue 4 item 8: device views served from memory, dropped by every write of a device or shadow row, here
  // (synchronously) and in the writer thread (reported with each batch before its PUBACKs and answers).
  const views = new DeviceViewCache(store)
  store.devices.onWrite = (deviceId) => views.invalidate(deviceId)
  store.shadows.onWrite = (deviceId) => views.invalidate(deviceId)
  ingest.onDevicesWritten = (deviceIds) => views.invalidateMany(deviceIds)
  const apiDeps = {
    log,
    safety,
    store,
    apps,
    registry,
    shadows,
    commands,
    products,
    ingest,
    desired,
    sync,
    threadHeaps: () => ({ ingestWriter: ingest.heap }),
    syncCallTimeoutMs: config.commands.syncCallTimeoutMs,
    bodyLimitBytes: config.http.bodyLimitBytes,
    // One limit for HTTP and HTTPS: the same application calling through both counts once.
    throttle: new AppThrottle(config.http.throttle.maxCalls, config.http.throttle.windowSeconds * 1000),
    cameras: cams.api,
    serial,
    dashboard: { bus, broker, ingest, config, startedAt: Date.now() },
    views,
  }
  // One fastify instance for both listeners; HTTPS is a TLS server beside fastify's own (api/secure-server.ts).
  const api = await buildApi({
    ...apiDeps,
    ...(config.http.httpsPort !== false && tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
  })
  const servers = apiServers(api)
  // Operations (issue 10): /healthz, /readyz, /metrics (on HTTP and HTTPS), REST latency, history retention.
  const servedListeners = [
    ...(config.http.port === false ? [] : [api.server]),
    ...(servers.secure ? [servers.secure] : []),
  ]
  const ops = new Ops({
    config,
    apps,
    store,
    broker,
    ingest,
    sync,
    serial,
    safety,
    writer: ingest,
    log,
    checks: {
      store: () => (store.db.open && store.db.prepare('SELECT 1').pluck().get() === 1 ? undefined : 'closed'),
      ingestWriter: () => (ingest.writerRunning ? undefined : 'the writer thread is not running'),
      broker: () => (broker.listening ? undefined : 'the MQTT listeners are not accepting connections'),
      http: () => (servedListeners.every((server) => server.listening) ? undefined : 'not listening'),
    },
  })
  ingest.onBatchStats = (items, oldestReceivedAt) => ops.metrics.observeBatch(items, oldestReceivedAt)
  ops.install(api)

  let started = false
  const gateway: Gateway = {
    config,
    dataDir,
    bus,
    store,
    apps,
    registry,
    shadows,
    ingest,
    commands,
    broker,
    sync,
    safety,
    api,
    cameras: cams.service,
    snapshots: cams.snapshots,
    tls,
    serial,
    ops,
    listeners: [],
    async start() {
      await apps.syncConfigApps(config.apps)
      await ensureFirstApplication(apps, store, paths.firstApp, log)
      registry.recoverStatusAfterRestart()
      await ingest.start()
      ops.start()
      commands.start()
      cams.service.start()
      callbackDispatcher.start()
      await sync.start()
      serial.start()
      // Connects in the background: the gateway serves the LAN whether or not the XMPP server is up.
      safety.start()
      const listeners: Listener[] = [...(await broker.start())]
      if (config.http.port !== false) {
        await api.listen({ host: config.host, port: config.http.port })
        listeners.push({ kind: 'http', host: config.host, port: (api.server.address() as AddressInfo).port })
      } else {
        // Routes are made ready by listen(); with HTTP off, HTTPS still needs them.
        await api.ready()
      }
      if (servers.secure && config.http.httpsPort !== false) {
        const port = await servers.listenSecure(config.host, config.http.httpsPort)
        listeners.push({ kind: 'https', host: config.host, port })
      }
      started = true
      ops.phase = 'running'
      gateway.listeners = listeners
      return listeners
    },
    async stop() {
      ops.phase = 'stopping'
      // Retention first: a pruning step in flight finishes while the writer thread still runs.
      await ops.stop()
      if (started) {
        // Serial devices go OFFLINE and their last values are queued before the writer drains.
        await serial.stop()
        // No new connections; queued messages are committed and acknowledged before clients are disconnected.
        await broker.stop(() => ingest.drain())
        commands.stop()
        await sync.stop()
        cams.service.stop()
        await safety.stop()
        await callbackDispatcher.stop()
        await ingest.close()
        await api.close()
        await servers.closeSecure()
        started = false
      }
      store.db.close()
      ops.phase = 'stopped'
    },
  }
  return gateway
}

/** First start with no application at all: create one and hand its credentials over in a 0600 file. */
async function ensureFirstApplication(
  apps: ApplicationService,
  store: Store,
  file: string,
  log: Logger,
): Promise<void> {
  if (store.applications.count() > 0) return
  const created = await apps.create('first application', 'first-start')
  const credentials = { appId: created.appId, secret: created.secret, apiKey: created.apiKey }
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, {
    mode: 0o600,
  })
  chmodSync(file, 0o600)
  log.info(
    { appId: created.appId, file },
    `no application was configured: created one, credentials in ${file}`,
  )
}
