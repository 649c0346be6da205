// Upstream sync (issue 5): the link to the cloud broker, the drain of the outbox over it, requests coming
// down, the outbox quotas, the watchdog, and the status operators see at GET /sitegate/v1/sync.
import type { CommandService, LedgerWriter } from '../commands/service.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import { redact } from '../notify/callback-dispatcher.ts'
import type { ProductCatalog } from '../products/catalog.ts'
import type { Store } from '../store/index.ts'
import { LANE_NAMES, LANES } from '../store/repos/outbox.ts'
import { toPlatformTime } from '../time.ts'
import { CloudRequests } from './cloud-requests.ts'
import { DrainEngine, type DrainHost } from './engine.ts'
import { UpstreamLink } from './link.ts'
import type { UpstreamProfile } from './profile.ts'
import { profileOf } from './profiles.ts'
import { RateMeter } from './rate-meter.ts'

type UpstreamConfig = GatewayConfig['upstream']

/** A cloud request seen again within this window is a redelivery (QoS 1 resend after a lost PUBACK). */
const REDELIVERY_WINDOW_MS = 24 * 3_600_000
/** Rows a quota check may drop in one writer transaction. */
const QUOTA_STEP_ROWS = 5000

export interface LaneStatus {
  records: number
  bytes: number
  /** Age of the oldest waiting row, seconds; null when the lane is empty. */
  oldestAgeSeconds: number | null
  dropped: { records: number; bytes: number; lastAt: string | null }
}

export interface SyncStatus {
  enabled: boolean
  profile: string
  url: string | null
  connected: boolean
  /** Since when connected (or disconnected), yyyyMMdd'T'HHmmss'Z'. */
  since: string | null
  lastError: string | null
  reconnects: number
  lanes: Record<string, LaneStatus>
  backlog: { records: number; bytes: number }
  drainRate: { rowsPerSecond: number; recordsPerSecond: number }
  /** Seconds to drain the backlog at the current rate; null when not draining. */
  etaSeconds: number | null
  inflightMessages: number
  sent: { messages: number; rows: number; records: number; rawBytes: number; wireBytes: number }
}

export interface SyncDeps {
  config: UpstreamConfig
  databaseFile: string
  snapshotsDir: string
  logLevel: string
  commandLimits: { pendingLimit: number; desiredMaxRetransmit: number }
  store: Store
  /** The ingest writer: runs the outbox deletions and hosts the message builder. */
  writer: LedgerWriter & DrainHost
  commands: CommandService
  products: ProductCatalog
  bus: EventBus
  log: Logger
}

export class SyncService {
  private readonly profile: UpstreamProfile
  private readonly engine: DrainEngine
  private readonly link: UpstreamLink | undefined
  private readonly rows = new RateMeter()
  private readonly records = new RateMeter()
  private connected = false
  private since: number | null = null
  private lastError: string | null = null
  private reconnects = 0
  private quotaTimer: NodeJS.Timeout | undefined
  private watchdogTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly deps: SyncDeps) {
    const { config, log } = deps
    this.profile = profileOf(config)
    this.engine = new DrainEngine(
      {
        databaseFile: deps.databaseFile,
        snapshotsDir: deps.snapshotsDir,
        upstream: config,
        logLevel: deps.logLevel,
      },
      deps.writer,
      config.inflightMessages,
      log.child({ part: 'drain' }),
    )
    this.engine.onAcked = (rows, records) => {
      this.rows.add(rows)
      this.records.add(records)
    }
    if (config.url === undefined) return
    const requests = new CloudRequests(
      deps.store,
      deps.products,
      deps.writer,
      deps.commands,
      this.profile,
      { ...deps.commandLimits, redeliveryWindowMs: REDELIVERY_WINDOW_MS },
      log.child({ part: 'cloud-requests' }),
    )
    this.link = new UpstreamLink(
      { ...config, url: config.url },
      this.profile,
      {
        up: (client) => {
          this.changed(true, 'connected')
          this.engine.up(client)
        },
        down: (reason) => {
          this.engine.down()
          this.lastError = reason
          this.reconnects += 1
          this.changed(false, reason)
        },
        message: (topic, payload) => requests.handle(topic, payload),
      },
      log.child({ part: 'upstream' }),
    )
  }

  async start(): Promise<void> {
    this.stopped = false
    this.since = Date.now()
    this.checkQuota()
    if (!this.link) return
    await this.engine.start()
    this.link.start()
    // A connection that is up but no longer acknowledges is re-made (issue 5 watchdog).
    const ackTimeout = this.deps.config.ackTimeoutMs
    this.watchdogTimer = setInterval(
      () => {
        const oldest = this.engine.oldestUnacked()
        if (oldest !== undefined && Date.now() - oldest > ackTimeout)
          this.link?.restart(`no PUBACK for ${Math.round((Date.now() - oldest) / 1000)} s`)
      },
      Math.max(250, Math.floor(ackTimeout / 4)),
    )
    this.watchdogTimer.unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.quotaTimer)
    clearInterval(this.watchdogTimer)
    await this.link?.stop()
    await this.engine.stop()
  }

  /** New outbox rows may be waiting (called after each writer commit). */
  wake(): void {
    this.engine.wake()
  }

  status(now = Date.now()): SyncStatus {
    const { store, config } = this.deps
    const totals = store.outbox.totals()
    const drops = store.outbox.drops()
    const lanes: Record<string, LaneStatus> = {}
    let backlogRecords = 0
    let backlogBytes = 0
    for (const lane of LANES) {
      const oldest = store.outbox.oldestAt(lane)
      const drop = drops[lane]
      lanes[LANE_NAMES[lane]] = {
        records: totals[lane].records,
        bytes: totals[lane].bytes,
        oldestAgeSeconds: oldest === null ? null : Math.max(0, Math.round((now - oldest) / 1000)),
        dropped: {
          records: drop.records,
          bytes: drop.bytes,
          lastAt: drop.lastAt === null ? null : toPlatformTime(drop.lastAt),
        },
      }
      backlogRecords += totals[lane].records
      backlogBytes += totals[lane].bytes
    }
    const rowsPerSecond = this.rows.perSecond(now)
    return {
      enabled: config.url !== undefined,
      profile: config.profile,
      url: config.url === undefined ? null : redact(config.url),
      connected: this.connected,
      since: this.since === null ? null : toPlatformTime(this.since),
      lastError: this.link?.lastError ?? this.lastError,
      reconnects: this.reconnects,
      lanes,
      backlog: { records: backlogRecords, bytes: backlogBytes },
      drainRate: { rowsPerSecond, recordsPerSecond: this.records.perSecond(now) },
      etaSeconds: this.connected && rowsPerSecond > 0 ? Math.ceil(backlogRecords / rowsPerSecond) : null,
      inflightMessages: this.engine.inflightCount,
      sent: { ...this.engine.totals },
    }
  }

  private changed(connected: boolean, reason: string): void {
    this.connected = connected
    this.since = Date.now()
    this.deps.bus.emit('sync.status', { connected, reason })
  }

  /** Quotas hold whether or not an uplink is configured: the outbox never fills the disk. */
  private checkQuota(): void {
    if (this.stopped) return
    const { quota } = this.deps.config
    this.deps.writer
      .execute('outbox.enforceQuota', {
        maxBytes: quota.maxBytes,
        maxAgeSeconds: quota.maxAgeSeconds,
        lanes: quota.lanes,
        maxRows: QUOTA_STEP_ROWS,
      })
      .then((report) => {
        const dropped = Object.entries(report.dropped)
        if (dropped.length > 0) {
          const byLane = Object.fromEntries(dropped.map(([lane, n]) => [LANE_NAMES[Number(lane) as 0], n]))
          this.deps.log.warn({ dropped: byLane }, 'outbox over its quota: oldest rows dropped')
          this.deps.bus.emit('sync.status', { connected: this.connected, reason: 'quota' })
        }
        this.scheduleQuota(report.more ? 0 : quota.checkIntervalMs)
      })
      .catch((err: unknown) => {
        this.deps.log.error({ err }, 'outbox quota check failed')
        this.scheduleQuota(quota.checkIntervalMs)
      })
  }

  private scheduleQuota(delayMs: number): void {
    if (this.stopped) return
    this.quotaTimer = setTimeout(() => this.checkQuota(), delayMs)
    this.quotaTimer.unref()
  }
}
