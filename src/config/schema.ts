import { type Static, Type } from '@sinclair/typebox'
import { XmppConfigSchema } from '../safety/config-schema.ts'

// A TCP port, or `false` to disable that listener.
const Port = Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Literal(false)], {
  description: 'a port number 0-65535 (0: any free port), or false to disable the listener',
})
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const AppConfig = Type.Object(
  {
    appId: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_.-]+$' }),
    secret: Type.String({ minLength: 8, maxLength: 256 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    // The remote-call API key (rpc-and-calls.md A.2 `apikey`).
    apiKey: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })),
  },
  { additionalProperties: false },
)

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1 }),
    host: Type.String({ minLength: 1 }),
    log: Type.Object(
      {
        level: Type.Union(
          LOG_LEVELS.map((l) => Type.Literal(l)),
          { description: `one of ${LOG_LEVELS.join(', ')}` },
        ),
      },
      { additionalProperties: false },
    ),
    mqtt: Type.Object(
      {
        port: Port,
        tlsPort: Port,
        wsPort: Port,
        // Accepted skew, in hours, for ClientIds with signType 1 (device-mqtt.md A.3, gateway note).
        timestampToleranceHours: Type.Integer({ minimum: 0, maximum: 48 }),
        maxPayloadBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024 }),
      },
      { additionalProperties: false },
    ),
    http: Type.Object(
      {
        port: Port,
        httpsPort: Port,
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        // §1.5: calls per application per window (403 1010009 beyond); maxCalls 0 turns the limit off.
        throttle: Type.Object(
          {
            maxCalls: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
            windowSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    // The certificate (PEM, leaf first, then any intermediates) and its private key (PEM, unencrypted) for
    // MQTTS and HTTPS. Both or neither: without them, a self-signed certificate is made on first start and
    // kept in DATA_DIR/tls (see dataPaths).
    tls: Type.Object(
      {
        cert: Type.Optional(Type.String({ minLength: 1 })),
        key: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    store: Type.Object(
      {
        // FULL: every commit is on disk before it is acknowledged, even across a power cut.
        synchronous: Type.Union([Type.Literal('FULL'), Type.Literal('NORMAL')], {
          description: 'FULL or NORMAL',
        }),
      },
      { additionalProperties: false },
    ),
    ingest: Type.Object(
      {
        // Group commit: at most this many device messages per transaction.
        maxBatch: Type.Integer({ minimum: 1, maximum: 100000 }),
      },
      { additionalProperties: false },
    ),
    commands: Type.Object(
      {
        // A command with no device answer within this time is retransmitted (maxRetransmit) or TIMEOUT.
        responseTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
        // §8.1: at most this many PENDING commands per device (error 100223).
        pendingLimit: Type.Integer({ minimum: 1, maximum: 1000 }),
        // Retransmissions of a desired-state command that gets no answer.
        desiredMaxRetransmit: Type.Integer({ minimum: 0, maximum: 3 }),
        // Synchronous remote calls and OneJSON invokes wait at most this long (rpc-and-calls A.1: 5 s).
        syncCallTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
      },
      { additionalProperties: false },
    ),
    callbacks: Type.Object(
      {
        // callbackUrl POSTs (§7.12): attempts before giving up, and the time one may take.
        maxAttempts: Type.Integer({ minimum: 1, maximum: 100 }),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
        // Wait after the first failed attempt; it doubles after each further one (capped at 5 min).
        initialBackoffMs: Type.Integer({ minimum: 10, maximum: 300_000 }),
      },
      { additionalProperties: false },
    ),
    apps: Type.Array(AppConfig),
    // Safety-device calls over XMPP (issue 7); absent = off. Defaults of its optional keys: safety/config.ts.
    xmpp: Type.Optional(XmppConfigSchema),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000 }),
  },
  { additionalProperties: false },
)

export type GatewayConfig = Static<typeof ConfigSchema>

/** The embedded defaults: `npm start` with no config file runs on these. */
export function defaultConfig(): GatewayConfig {
  return {
    dataDir: './data',
    host: '0.0.0.0',
    log: { level: 'info' },
    mqtt: {
      port: 1883,
      // MQTTS, the platform devices' port (device-mqtt.md), and MQTT over WebSocket.
      tlsPort: 8883,
      wsPort: 8083,
      timestampToleranceHours: 1,
      maxPayloadBytes: 256 * 1024,
    },
    http: {
      port: 8080,
      // HTTPS on the platform's REST port.
      httpsPort: 8743,
      bodyLimitBytes: 1024 * 1024,
      throttle: { maxCalls: 100, windowSeconds: 60 },
    },
    tls: {},
    store: { synchronous: 'FULL' },
    ingest: { maxBatch: 2000 },
    commands: {
      responseTimeoutMs: 30_000,
      pendingLimit: 20,
      desiredMaxRetransmit: 1,
      syncCallTimeoutMs: 5000,
    },
    callbacks: { maxAttempts: 8, timeoutMs: 5000, initialBackoffMs: 1000 },
    apps: [],
    shutdownTimeoutMs: 4000,
  }
}
