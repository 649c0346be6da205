import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { Aedes, type Client } from 'aedes'
import levelPersistence from 'aedes-persistence-level'
import { ClassicLevel } from 'classic-level'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { DeviceRegistry } from '../devices/registry.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import { type DeviceSession, decideConnect, mayPublish, maySubscribe } from './access.ts'
import { settleMqttPacketMemory } from './mqtt-packet-memory.ts'

/** A device acknowledged (PUBACK) a QoS 1 message the gateway sent it. */
export type DeviceAckHandler = (session: DeviceSession, topic: string, payload: Buffer) => void

/** Handles a publish a device is allowed to make; `done(null)` lets the broker acknowledge it. */
export type DevicePublishHandler = (
  session: DeviceSession,
  topic: string,
  payload: Buffer,
  done: (err: Error | null) => void,
) => void

export interface BrokerOptions {
  host: string
  port: number | false
  tlsPort: number | false
  wsPort: number | false
  /** The certificate and key (PEM) of the TLS listener; needed when tlsPort is not false. */
  tls: { cert: Buffer; key: Buffer } | undefined
  persistenceDir: string
  timestampToleranceHours: number
  maxPayloadBytes: number
  /** Publish limit for camera sessions, whose snapshots are base64 images (default: maxPayloadBytes). */
  cameraMaxPayloadBytes?: number
}

export interface ListenerAddress {
  kind: 'mqtt' | 'mqtts' | 'ws'
  host: string
  port: number
}

type SessionClient = Client & {
  sitegate?: DeviceSession
  /**
   * Payloads the gateway published to this connection at QoS 1, oldest first, not yet acknowledged. aedes
   * reports a clean session's PUBACK without the packet it acknowledges; MQTT 3.1.1 §4.6 has a client
   * acknowledge QoS 1 messages in the order it received them, so the oldest entry is the one acknowledged.
   */
  sitegateAwaitingAck?: Buffer[]
}

/** Whether an MQTT topic filter matches a topic (`+` one level, `#` the rest). */
function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
  }
  return f.length === t.length
}

/**
 * For a persistent session (clean: false) aedes stores every filter of a SUBSCRIBE packet once any of them is
 * granted — refused ones included — and queues messages for the offline session by the stored filters without
 * asking authorizeSubscribe again. Store only what the ACL allows (at QoS 1 at most, as granted), or a refused
 * filter would still collect other devices' commands while the device is offline.
 */
// biome-ignore lint/suspicious/noExplicitAny: the persistence object is opaque (see aedes-persistence-level.d.ts).
function aclFilteredPersistence(persistence: any): any {
  const add = persistence.addSubscriptions.bind(persistence)
  persistence.addSubscriptions = (
    client: SessionClient,
    subs: { topic: string; qos: number }[],
    ...rest: unknown[]
  ) => {
    const session = client.sitegate
    const allowed = session
      ? subs.filter((s) => maySubscribe(session, s.topic)).map((s) => ({ ...s, qos: Math.min(s.qos, 1) }))
      : []
    return add(client, allowed, ...rest)
  }
  return persistence
}

/**
 * The site's MQTT broker: aedes with durable sessions (aedes-persistence-level), the platform's CONNECT
 * authentication and topic ACL, and listeners on TCP, TLS and WebSocket.
 */
export class Broker {
  private aedes: Aedes | undefined
  private level: ClassicLevel<string, Buffer> | undefined
  private readonly servers: { kind: ListenerAddress['kind']; server: NetServer | HttpServer }[] = []
  private wss: WebSocketServer | undefined
  private readonly unsubscribe: (() => void)[] = []
  /** The session of each connected device (the latest connection when one took another over). */
  private readonly sessions = new Map<string, { client: SessionClient; session: DeviceSession }>()
  /** Set by the command service: told when a device acknowledges a command. */
  onDeviceAck: DeviceAckHandler | undefined
  /**
   * Set by the command service: told when a device can receive commands — it subscribed (to a topic the ACL
   * grants, i.e. its own command topic), or connected with a persistent session that already has one.
   */
  onDeviceListening: ((session: DeviceSession) => void) | undefined
  /** Set by the command service: told when a device's (last) connection closed. */
  onDeviceGone: ((deviceId: string) => void) | undefined
  /** Publishes devices sent that passed the ACL, and messages published to devices (metrics; plain increments). */
  readonly counters = { received: 0, sent: 0 }

  constructor(
    private readonly options: BrokerOptions,
    private readonly registry: DeviceRegistry,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly onDevicePublish: DevicePublishHandler,
  ) {
    // Process-wide: aedes and the upstream client (sync/link.ts) write through the same mqtt-packet module.
    settleMqttPacketMemory()
  }

  async start(): Promise<ListenerAddress[]> {
    this.level = new ClassicLevel<string, Buffer>(this.options.persistenceDir, {
      valueEncoding: 'buffer',
      cacheSize: 2 * 2 ** 20,
      writeBufferSize: 2 ** 20,
    })
    await this.level.open()
    const aedes = await Aedes.createBroker({
      persistence: aclFilteredPersistence(levelPersistence(this.level)),
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const session = (client as SessionClient).sitegate
        if (!session || !maySubscribe(session, sub.topic)) {
          this.log.warn({ clientId: client.id, topic: sub.topic }, 'subscribe refused by ACL')
          return done(null, null) // SUBACK 0x80 for this filter
        }
        // Commands are delivered at QoS 1 at most (A.1 gateway note).
        done(null, { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 })
      },
    })
    this.aedes = aedes
    aedes.on('client', (client: SessionClient) => {
      if (!client.sitegate) return
      this.sessions.set(client.sitegate.deviceId, { client, session: client.sitegate })
      // A camera's status follows its heartbeats (C.4), not its connection (cameras/presence.ts).
      if (client.sitegate.protocol !== 'camera') this.recordStatus(client.sitegate.deviceId, 'connected')
      const restored = (client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions ?? {}
      if (Object.keys(restored).length > 0) this.deviceListening(client.sitegate)
    })
    aedes.on('subscribe', (subs, client: SessionClient | null) => {
      if (client?.sitegate && subs.length > 0) this.deviceListening(client.sitegate)
    })
    aedes.on('clientDisconnect', (client: SessionClient) => {
      if (!client.sitegate) return
      const { deviceId } = client.sitegate
      const camera = client.sitegate.protocol === 'camera'
      if (this.sessions.get(deviceId)?.client !== client) {
        return camera ? undefined : this.recordStatus(deviceId, 'disconnected')
      }
      this.sessions.delete(deviceId)
      if (!camera) this.recordStatus(deviceId, 'disconnected')
      try {
        this.onDeviceGone?.(deviceId)
      } catch (err) {
        this.log.error({ err, deviceId }, 'disconnect handler failed')
      }
    })
    aedes.on('ack', (packet, client: SessionClient | null) =>
      this.acked(packet as { topic?: string; payload?: unknown } | undefined, client),
    )
    aedes.on('clientError', (client, err) =>
      this.log.debug({ clientId: client.id, err: err.message }, 'client error'),
    )
    aedes.on('connectionError', (client, err) =>
      this.log.debug({ clientId: client?.id, err: err.message }, 'connection error'),
    )
    this.unsubscribe.push(this.bus.on('device.deleted', ({ deviceId }) => this.disconnectDevice(deviceId)))
    // A frozen device may not stay connected (it could not connect now: CONNACK 5).
    this.unsubscribe.push(
      this.bus.on('device.changed', ({ deviceId, muted }) => {
        if (muted) this.disconnectDevice(deviceId)
      }),
    )
    return this.listen(aedes)
  }

  private async listen(aedes: Aedes): Promise<ListenerAddress[]> {
    const { host, port, tlsPort, wsPort, tls } = this.options
    const addresses: ListenerAddress[] = []
    const bind = async (kind: ListenerAddress['kind'], server: NetServer | HttpServer, p: number) => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(p, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      this.servers.push({ kind, server })
      addresses.push({ kind, host, port: (server.address() as AddressInfo).port })
    }
    // No Nagle delay: a command or PUBACK is one small packet, and waiting to coalesce it costs up to 40 ms.
    if (port !== false) await bind('mqtt', createNetServer({ noDelay: true }, aedes.handle), port)
    if (tlsPort !== false) {
      if (!tls) throw new Error('the MQTTS listener needs a certificate and key')
      const server = createTlsServer({ cert: tls.cert, key: tls.key, noDelay: true }, aedes.handle)
      await bind('mqtts', server, tlsPort)
    }
    if (wsPort !== false) {
      const http = createHttpServer()
      this.wss = new WebSocketServer({ server: http })
      this.wss.on('connection', (socket, req) => aedes.handle(createWebSocketStream(socket), req))
      await bind('ws', http, wsPort)
    }
    return addresses
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void {
    const decision = decideConnect({
      clientId: client.id,
      username,
      password,
      lookup: (id, by) => this.registry.lookup(id, by),
      now: Date.now(),
      toleranceHours: this.options.timestampToleranceHours,
    })
    if (!decision.ok) {
      this.log.warn(
        { clientId: client.id, code: decision.code, reason: decision.reason },
        'MQTT connect refused',
      )
      const err = Object.assign(new Error(decision.reason), { returnCode: decision.code })
      done(err as never, null)
      return
    }
    ;(client as SessionClient).sitegate = decision.session
    done(null, true)
  }

  private authorizePublish(
    client: Client | null,
    packet: { topic: string; payload: Buffer | string; retain: boolean },
    done: (err?: Error | null) => void,
  ): void {
    const session = (client as SessionClient | null)?.sitegate
    if (!session || !mayPublish(session, packet.topic)) {
      this.log.warn(
        { clientId: client?.id, topic: packet.topic },
        'publish refused by ACL; closing the connection',
      )
      done(new Error(`publish to ${packet.topic} not allowed`))
      return
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    const limit =
      session.protocol === 'camera'
        ? (this.options.cameraMaxPayloadBytes ?? this.options.maxPayloadBytes)
        : this.options.maxPayloadBytes
    if (payload.length > limit) {
      this.log.warn(
        { deviceId: session.deviceId, bytes: payload.length },
        'payload over mqtt.maxPayloadBytes; closing',
      )
      done(new Error('payload too large'))
      return
    }
    // Data topics are not state: a retained flag there would replay old data (A.1 gateway note).
    packet.retain = false
    this.counters.received += 1
    this.onDevicePublish(session, packet.topic, payload, (err) => done(err))
  }

  /**
   * ONLINE/OFFLINE in the registry. A status that cannot be written (disk full, data dir read-only) is logged,
   * not thrown: thrown from a broker event it would take the whole gateway down (issue 10, item 3).
   */
  private recordStatus(deviceId: string, change: 'connected' | 'disconnected'): void {
    try {
      this.registry[change](deviceId)
    } catch (err) {
      this.log.error({ err, deviceId }, `device ${change}: status not recorded`)
    }
  }

  /** Closes every MQTT connection of a device (after it was deleted, spec §4.5 gateway note). */
  disconnectDevice(deviceId: string): void {
    const clients =
      (this.aedes as unknown as { clients: Record<string, SessionClient> } | undefined)?.clients ?? {}
    for (const client of Object.values(clients)) {
      if (client.sitegate?.deviceId === deviceId) {
        this.log.info(
          { deviceId, clientId: client.id },
          'closing the connection of a deleted or frozen device',
        )
        client.close()
      }
    }
  }

  private acked(
    packet: { topic?: string; payload?: unknown } | undefined,
    client: SessionClient | null,
  ): void {
    const session = client?.sitegate
    if (!session || !client) return
    const oldest = client.sitegateAwaitingAck?.shift()
    // A persistent session's store hands the packet back (its payload as the store decoded it); a clean one's
    // does not, and the oldest payload awaiting an acknowledgement is the one.
    const raw = packet?.payload ?? oldest
    if (raw === undefined || !this.onDeviceAck) return
    const payload = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array | string)
    try {
      this.onDeviceAck(session, packet?.topic ?? '', payload)
    } catch (err) {
      this.log.error({ err, deviceId: session.deviceId }, 'ack handler failed')
    }
  }

  /**
   * Publishes a QoS 1 message to one connected device (a command); false when it is not connected. Its PUBACK
   * reaches `onDeviceAck` when the device's subscription is QoS 1 (at QoS 0 nothing is acknowledged).
   */
  async publishToDevice(deviceId: string, topic: string, payload: string): Promise<boolean> {
    const entry = this.sessions.get(deviceId)
    if (!entry) return false
    const subs =
      (entry.client as unknown as { subscriptions?: Record<string, { qos?: number }> }).subscriptions ?? {}
    const qos = Math.max(
      0,
      ...Object.entries(subs)
        .filter(([filter]) => filterMatches(filter, topic))
        .map(([, sub]) => sub.qos ?? 0),
    )
    const bytes = Buffer.from(payload)
    if (qos >= 1) {
      entry.client.sitegateAwaitingAck ??= []
      entry.client.sitegateAwaitingAck.push(bytes)
    }
    await this.publish(topic, bytes, 1)
    return true
  }

  private deviceListening(session: DeviceSession): void {
    try {
      this.onDeviceListening?.(session)
    } catch (err) {
      this.log.error({ err, deviceId: session.deviceId }, 'listening handler failed')
    }
  }

  /** The session of a connected device; undefined when it is offline. */
  deviceSession(deviceId: string): DeviceSession | undefined {
    return this.sessions.get(deviceId)?.session
  }

  /** Publishes from the gateway itself (no ACL): commands to devices. */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1, retain = false): Promise<void> {
    const aedes = this.aedes
    if (!aedes) return Promise.reject(new Error('broker not started'))
    this.counters.sent += 1
    return new Promise((resolve, reject) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos,
          retain,
          dup: false,
        },
        (err?: Error | null) => (err ? reject(err) : resolve()),
      )
    })
  }

  /** Started, and every configured listener is accepting connections (readiness). */
  get listening(): boolean {
    return (
      this.aedes !== undefined && !this.aedes.closed && this.servers.every(({ server }) => server.listening)
    )
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0
  }

  /**
   * Stops listening, lets `beforeDisconnect` finish in-flight work while clients are still connected (so their
   * PUBACKs go out), then disconnects every client and closes the session store.
   */
  async stop(beforeDisconnect: () => Promise<void> | void = () => {}): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off()
    const closing = this.servers
      .splice(0)
      .map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())))
    await beforeDisconnect()
    this.wss?.close()
    for (const client of this.wss?.clients ?? []) client.terminate()
    const aedes = this.aedes
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await Promise.all(closing)
    this.aedes = undefined
    await this.level?.close()
    this.level = undefined
  }
}
