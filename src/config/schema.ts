import { type Static, Type } from '@sinclair/typebox'
import { XmppConfigSchema } from '../safety/config-schema.ts'
import { SerialConfigSchema } from '../serial/config-schema.ts'

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

// A lane's own limits (issue 5): rows beyond them are dropped oldest first, where the lane may drop at all.
const LaneQuota = Type.Object(
  {
    maxBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    maxAgeSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
)

// Upstream sync to the cloud platform (issue 5, README "Upstream sync"); off while `url` is unset.
const UpstreamConfig = Type.Object(
  {
    url: Type.Optional(
      Type.String({ pattern: '^mqtts?://', description: 'mqtt://host:port or mqtts://host:port' }),
    ),
    // platform: the gateway is a platform device (device-mqtt.md Part A); onejson: a OneNET device (Part B).
    profile: Type.Union([Type.Literal('platform'), Type.Literal('onejson')], {
      description: 'platform or onejson',
    }),
    // The gateway's identity on the cloud: its platform deviceId (connecting by deviceId, A.3) or, for the
    // onejson profile, its device name; and the secret (platform) or the device key (onejson, base64).
    deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    // onejson profile: the product id (pid) the gateway device belongs to.
    productId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    // PEM files: the CA to trust, and a client certificate and key when the broker asks for one.
    ca: Type.Optional(Type.String({ minLength: 1 })),
    cert: Type.Optional(Type.String({ minLength: 1 })),
    key: Type.Optional(Type.String({ minLength: 1 })),
    keepaliveSeconds: Type.Integer({ minimum: 5, maximum: 3600 }),
    // Deflate the records of a message when the profile can carry a binary payload.
    compress: Type.Boolean(),
    // Raw (uncompressed) JSON bytes of records per MQTT message.
    maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024 }),
    // Messages published and not yet acknowledged at once.
    inflightMessages: Type.Integer({ minimum: 1, maximum: 1024 }),
    // A message unacknowledged this long while connected: the link is deemed dead and is re-made (watchdog).
    ackTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600_000 }),
    // Reconnect backoff: first wait, doubled after each failed attempt, with jitter, capped at maxBackoffMs.
    initialBackoffMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
    maxBackoffMs: Type.Integer({ minimum: 100, maximum: 30_000 }),
    quota: Type.Object(
      {
        // Every lane together.
        maxBytes: Type.Integer({ minimum: 0 }),
        maxAgeSeconds: Type.Integer({ minimum: 1 }),
        lanes: Type.Object(
          {
            telemetry: Type.Optional(LaneQuota),
            snapshot: Type.Optional(LaneQuota),
          },
          { additionalProperties: false },
        ),
        // How often the quotas are checked.
        checkIntervalMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

// Issue 10 (hardening): the log file, /metrics and history retention (README "Operations").
const LogFileConfig = Type.Object(
  {
    enabled: Type.Boolean(),
    // The file is rotated when the next line would take it past maxBytes; maxFiles rotated files are kept
    // (sitegate.log.1 … .N), so the logs never take more than about (maxFiles + 1) × maxBytes.
    maxBytes: Type.Integer({ minimum: 4096, maximum: 2 ** 40 }),
    maxFiles: Type.Integer({ minimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
)

const MetricsConfig = Type.Object(
  {
    enabled: Type.Boolean(),
    // loopback: open to clients on 127.0.0.1/::1, credentials from anywhere else; credentials: always;
    // open: never (anyone who reaches the HTTP port may read them).
    access: Type.Union([Type.Literal('loopback'), Type.Literal('credentials'), Type.Literal('open')], {
      description: 'loopback, credentials or open',
    }),
    // A static bearer token for scrapers (Prometheus `authorization: {credentials: …}`); application
    // credentials (app_key + access token) are accepted too.
    token: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })),
  },
  { additionalProperties: false },
)

// One history's limits; 0 = no limit of that kind. maxAgeDays may be fractional.
const HistoryLimits = Type.Object(
  {
    maxAgeDays: Type.Number({ minimum: 0, maximum: 36_500 }),
    maxBytes: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
)

const RetentionConfig = Type.Object(
  {
    telemetry: HistoryLimits,
    desiredHistory: HistoryLimits,
    // How often a pruning round starts; a round runs in steps of at most stepRows rows, one write
    // operation each, until nothing is over a limit.
    checkIntervalMs: Type.Integer({ minimum: 100, maximum: 86_400_000 }),
    stepRows: Type.Integer({ minimum: 1, maximum: 100_000 }),
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
        // The same JSON lines also go to DATA_DIR/logs/sitegate.log, rotated (src/ops/log-file.ts).
        file: LogFileConfig,
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
    // Cameras (issue 6, device-mqtt.md Part C): snapshots, heartbeats and the HTTP upload endpoint.
    cameras: Type.Object(
      {
        // Total bytes of snapshot files in DATA_DIR/snapshots; beyond it the oldest snapshots are deleted.
        snapshotQuotaBytes: Type.Integer({ minimum: 1024 * 1024, maximum: 2 ** 50 }),
        // Largest image a camera may upload (decoded); larger gets a non-zero ret and is not stored.
        maxImageBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        // C.2: a request whose timestamp is this far or more from gateway time is refused (5 minutes).
        timestampToleranceSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
        // The heartbeat interval assumed until a camera's own (get/set_dev_config) is known (C.4: 60 s).
        defaultHbIntervalSeconds: Type.Integer({ minimum: 1, maximum: 360 }),
        // A camera is OFFLINE after this many heartbeat intervals without a message.
        missedHeartbeats: Type.Integer({ minimum: 1, maximum: 100 }),
        // HTTP cameras (upload_type 0) authenticate with Basic sn:secret, or not at all ('none').
        httpAuth: Type.Union([Type.Literal('basic'), Type.Literal('none')], { description: 'basic or none' }),
        // How long an HTTP camera's POST waits for a queued command to be picked for its response.
        httpCommandWaitMs: Type.Integer({ minimum: 0, maximum: 30_000 }),
        maxFirmwareBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }),
        // The gateway's LAN base URL in upgrade_dev package_url (default: from the camera's own requests,
        // else http://{first LAN IPv4}:{http.port}).
        lanBaseUrl: Type.Optional(Type.String({ pattern: '^https?://[^/]+$' })),
      },
      { additionalProperties: false },
    ),
    apps: Type.Array(AppConfig),
    upstream: UpstreamConfig,
    // Safety-device calls over XMPP (issue 7); absent = off. Defaults of its optional keys: safety/config.ts.
    xmpp: Type.Optional(XmppConfigSchema),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000 }),
    // RS-485 Modbus RTU ports and the instruments on them (src/serial/config-schema.ts).
    serial: SerialConfigSchema,
    // The desktop app (issue 9, src/main): read by the Electron shell, ignored by the headless core.
    app: Type.Optional(
      Type.Object(
        {
          kiosk: Type.Optional(Type.Boolean({ description: 'full screen, locked to the dashboard' })),
          startAtLogin: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    // Prometheus /metrics (issue 10 item 5, src/ops/).
    metrics: MetricsConfig,
    // Pruning of telemetry and desired-state history (issue 10 item 7, src/ops/retention.ts).
    retention: RetentionConfig,
  },
  { additionalProperties: false },
)

export type GatewayConfig = Static<typeof ConfigSchema>

/** The embedded defaults: `npm start` with no config file runs on these. */
export function defaultConfig(): GatewayConfig {
  return {
    dataDir: './data',
    host: '0.0.0.0',
    log: { level: 'info', file: { enabled: true, maxBytes: 10 * 1024 * 1024, maxFiles: 5 } },
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
    cameras: {
      snapshotQuotaBytes: 2 * 1024 * 1024 * 1024,
      maxImageBytes: 5 * 1024 * 1024,
      timestampToleranceSeconds: 300,
      defaultHbIntervalSeconds: 60,
      missedHeartbeats: 3,
      httpAuth: 'basic',
      httpCommandWaitMs: 1000,
      maxFirmwareBytes: 256 * 1024 * 1024,
    },
    apps: [],
    upstream: {
      profile: 'platform',
      keepaliveSeconds: 60,
      compress: true,
      maxMessageBytes: 256 * 1024,
      inflightMessages: 8,
      ackTimeoutMs: 30_000,
      initialBackoffMs: 1000,
      maxBackoffMs: 30_000,
      // 14 days and 2 GiB in all lanes together (issue 5).
      quota: { maxBytes: 2 * 1024 ** 3, maxAgeSeconds: 14 * 86_400, lanes: {}, checkIntervalMs: 10_000 },
    },
    shutdownTimeoutMs: 4000,
    serial: { ports: [] },
    metrics: { enabled: true, access: 'loopback' },
    retention: {
      telemetry: { maxAgeDays: 365, maxBytes: 8 * 1024 ** 3 },
      desiredHistory: { maxAgeDays: 365, maxBytes: 256 * 1024 ** 2 },
      checkIntervalMs: 60_000,
      stepRows: 500,
    },
  }
}
