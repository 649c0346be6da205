// Prometheus metrics (issue 10 item 5, README "Operations"). Almost everything is read when /metrics is scraped
// (the `collect` callbacks below) from counters and totals the gateway keeps anyway, so the hot ingest path pays
// nothing for them: the broker counts messages with a plain increment, and the writer's batches are observed
// once per batch, never per message.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { SafetyService } from '../safety/service.ts'
import type { SerialService } from '../serial/service.ts'
import type { Store } from '../store/index.ts'
import type { SyncService } from '../sync/service.ts'
import type { RetentionService } from './retention.ts'

export interface MetricsSources {
  store: Store
  broker: { readonly connectedClients: number; readonly counters: { received: number; sent: number } }
  ingest: { readonly pending: number; stats(): { batches: number; items: number } }
  sync: Pick<SyncService, 'status'>
  serial: Pick<SerialService, 'status'>
  safety: Pick<SafetyService, 'status'>
  retention: Pick<RetentionService, 'counters'>
}

/** Seconds; from a sub-millisecond commit to a device's publish stuck behind a slow disk. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000]
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const SERIAL_PORT_STATES = ['open', 'opening', 'closed', 'stopped']
const SERIAL_SLAVE_STATES = ['unknown', 'online', 'quarantined', 'offline']
const XMPP_STATES = ['disabled', 'connecting', 'online', 'offline']
const SERIAL_COUNTERS = ['requests', 'responses', 'timeouts', 'crcErrors', 'exceptions', 'badFrames'] as const

export class GatewayMetrics {
  readonly registry = new Registry()
  private readonly ingestLatency: Histogram<string>
  private readonly batchSize: Histogram<string>
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>

  constructor(private readonly src: MetricsSources) {
    const registers = [this.registry]
    // Process metrics: CPU, RSS, heap, event-loop lag, GC, handles (prom-client's defaults).
    collectDefaultMetrics({ register: this.registry })

    this.ingestLatency = new Histogram({
      name: 'sitegate_ingest_latency_seconds',
      help: "Receive to commit (PUBACK follows at once) of each writer batch's oldest item: the batch's worst case",
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.batchSize = new Histogram({
      name: 'sitegate_commit_batch_size',
      help: 'Items (device messages and write operations) committed per writer transaction',
      buckets: BATCH_BUCKETS,
      registers,
    })
    this.httpDuration = new Histogram({
      name: 'sitegate_http_request_duration_seconds',
      help: 'REST request latency by route (the route pattern, not the URL)',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    })

    const s = this.src
    gauge(registers, 'sitegate_mqtt_connections', 'MQTT connections open now (all listeners)', [], (g) =>
      g.set(s.broker.connectedClients),
    )
    counter(
      registers,
      'sitegate_mqtt_messages_received_total',
      'Publishes devices sent that passed the ACL',
      [],
      (c) => c.inc(s.broker.counters.received),
    )
    counter(
      registers,
      'sitegate_mqtt_messages_sent_total',
      'Messages the gateway published to devices',
      [],
      (c) => c.inc(s.broker.counters.sent),
    )
    counter(
      registers,
      'sitegate_ingest_committed_total',
      'Device messages and write operations committed',
      [],
      (c) => c.inc(s.ingest.stats().items),
    )
    counter(registers, 'sitegate_ingest_batches_total', 'Writer transactions committed', [], (c) =>
      c.inc(s.ingest.stats().batches),
    )
    gauge(
      registers,
      'sitegate_ingest_pending',
      'Items waiting for the writer (queued or being committed)',
      [],
      (g) => g.set(s.ingest.pending),
    )

    // Outbox and upstream link, from the sync status (trigger-kept totals: no outbox scan).
    const lanes = ['lane']
    const outboxRecords = gauge(registers, 'sitegate_outbox_records', 'Outbox rows waiting per lane', lanes)
    const outboxBytes = gauge(registers, 'sitegate_outbox_bytes', 'Outbox bytes waiting per lane', lanes)
    const outboxAge = gauge(
      registers,
      'sitegate_outbox_oldest_age_seconds',
      'Age of the oldest waiting row per lane (absent when the lane is empty)',
      lanes,
    )
    const droppedRecords = counter(
      registers,
      'sitegate_outbox_dropped_records_total',
      'Rows the quotas dropped',
      lanes,
    )
    const droppedBytes = counter(
      registers,
      'sitegate_outbox_dropped_bytes_total',
      'Bytes the quotas dropped',
      lanes,
    )
    const upstream = {
      enabled: gauge(registers, 'sitegate_upstream_enabled', '1 when upstream.url is set', []),
      connected: gauge(registers, 'sitegate_upstream_connected', '1 while the upstream link is up', []),
      reconnects: counter(registers, 'sitegate_upstream_reconnects_total', 'Upstream reconnections', []),
      inflight: gauge(
        registers,
        'sitegate_upstream_inflight_messages',
        'Upstream messages not yet acknowledged',
        [],
      ),
      sentMessages: counter(
        registers,
        'sitegate_upstream_sent_messages_total',
        'Messages acknowledged upstream',
        [],
      ),
      sentRecords: counter(
        registers,
        'sitegate_upstream_sent_records_total',
        'Records acknowledged upstream',
        [],
      ),
      wireBytes: counter(
        registers,
        'sitegate_upstream_sent_bytes_total',
        'Bytes sent upstream (on the wire)',
        [],
      ),
    }
    // One sync.status() per scrape feeds every outbox and upstream metric.
    this.beforeScrape = () => {
      const st = s.sync.status()
      for (const [name, lane] of Object.entries(st.lanes)) {
        outboxRecords.set({ lane: name }, lane.records)
        outboxBytes.set({ lane: name }, lane.bytes)
        if (lane.oldestAgeSeconds === null) outboxAge.remove({ lane: name })
        else outboxAge.set({ lane: name }, lane.oldestAgeSeconds)
        setCounter(droppedRecords, { lane: name }, lane.dropped.records)
        setCounter(droppedBytes, { lane: name }, lane.dropped.bytes)
      }
      upstream.enabled.set(st.enabled ? 1 : 0)
      upstream.connected.set(st.connected ? 1 : 0)
      setCounter(upstream.reconnects, {}, st.reconnects)
      upstream.inflight.set(st.inflightMessages)
      setCounter(upstream.sentMessages, {}, st.sent.messages)
      setCounter(upstream.sentRecords, {}, st.sent.records)
      setCounter(upstream.wireBytes, {}, st.sent.wireBytes)
    }

    // Devices and cameras by status, snapshots, history sizes: small indexed or per-status queries.
    gauge(
      registers,
      'sitegate_devices',
      'Registered devices by status (cameras included)',
      ['status'],
      (g) => {
        g.reset()
        for (const r of deviceCounts(s.store, false)) g.set({ status: r.status }, r.n)
      },
    )
    gauge(registers, 'sitegate_cameras', 'Registered cameras by status', ['status'], (g) => {
      g.reset()
      for (const status of ['ONLINE', 'OFFLINE']) g.set({ status }, 0)
      for (const r of deviceCounts(s.store, true)) g.set({ status: r.status }, r.n)
    })
    gauge(registers, 'sitegate_snapshots', 'Camera snapshots stored', [], (g) =>
      g.set(s.store.cameras.usage().count),
    )
    gauge(registers, 'sitegate_snapshot_bytes', 'Bytes of camera snapshot files stored', [], (g) =>
      g.set(s.store.cameras.usage().bytes),
    )
    const history = ['history']
    gauge(
      registers,
      'sitegate_history_records',
      'Rows of each history (telemetry chunks, desired changes)',
      history,
      (g) => {
        for (const r of historyTotals(s.store)) g.set({ history: r.name }, r.records)
      },
    )
    gauge(
      registers,
      'sitegate_history_bytes',
      'Bytes of each history (retention maxBytes applies to this)',
      history,
      (g) => {
        for (const r of historyTotals(s.store)) g.set({ history: r.name }, r.bytes)
      },
    )
    counter(
      registers,
      'sitegate_retention_pruned_records_total',
      'History rows pruned by retention',
      history,
      (c) => {
        for (const [name, k] of Object.entries(s.retention.counters))
          setCounter(c, { history: name }, k.deletedRecords)
      },
    )
    gauge(
      registers,
      'sitegate_retention_kept_for_upstream',
      'Telemetry chunks over a retention limit in the last round, kept because they have not gone upstream yet',
      [],
      (g) => g.set(s.retention.counters.telemetry.keptForUpstream),
    )

    // The site XMPP session of the safety calls (GET /sitegate/v1/safety/status).
    gauge(registers, 'sitegate_xmpp_state', '1 for the state the XMPP session is in', ['state'], (g) => {
      const { state } = s.safety.status()
      for (const st of XMPP_STATES) g.set({ state: st }, st === state ? 1 : 0)
    })
    gauge(
      registers,
      'sitegate_xmpp_reconnect_attempts',
      'Failed XMPP connection attempts since the session was last online',
      [],
      (g) => g.set(s.safety.status().reconnectAttempts),
    )

    // Serial ports and their slaves (the source of GET /sitegate/v1/serial).
    const port = ['port']
    const portState = gauge(registers, 'sitegate_serial_port_state', '1 for the state a serial port is in', [
      'port',
      'state',
    ])
    const slaveState = gauge(
      registers,
      'sitegate_serial_slave_state',
      '1 for the state a Modbus slave is in',
      ['port', 'unit', 'node_id', 'state'],
    )
    const serialCounters = Object.fromEntries(
      SERIAL_COUNTERS.map((name) => [
        name,
        counter(registers, `sitegate_serial_${snake(name)}_total`, `Modbus ${name} per port`, port),
      ]),
    )
    const queuedWrites = gauge(registers, 'sitegate_serial_queued_writes', 'Writes waiting per port', port)
    const before = this.beforeScrape
    this.beforeScrape = () => {
      before()
      portState.reset()
      slaveState.reset()
      for (const p of s.serial.status()) {
        for (const state of SERIAL_PORT_STATES)
          portState.set({ port: p.path, state }, p.state === state ? 1 : 0)
        for (const name of SERIAL_COUNTERS) setCounter(serialCounters[name]!, { port: p.path }, p[name])
        queuedWrites.set({ port: p.path }, p.queuedWrites)
        for (const slave of p.slaves) {
          for (const state of SERIAL_SLAVE_STATES) {
            slaveState.set(
              { port: p.path, unit: String(slave.unitId), node_id: slave.nodeId, state },
              slave.state === state ? 1 : 0,
            )
          }
        }
      }
    }
  }

  /** Refreshes what one sync/serial status read feeds; called before each exposition. */
  private beforeScrape: () => void

  /** One committed writer batch: its item count and its oldest device message's receive time. */
  observeBatch(items: number, oldestReceivedAt: number | undefined): void {
    this.batchSize.observe(items)
    if (oldestReceivedAt !== undefined) this.ingestLatency.observe((Date.now() - oldestReceivedAt) / 1000)
  }

  /** One answered REST request. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds)
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async scrape(): Promise<string> {
    this.beforeScrape()
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}

function gauge<L extends string>(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: L[] | string[],
  collect?: (g: Gauge<string>) => void,
): Gauge<string> {
  return new Gauge({
    name,
    help,
    labelNames: labelNames as string[],
    registers,
    ...(collect
      ? {
          collect(this: Gauge<string>) {
            collect(this)
          },
        }
      : {}),
  })
}

function counter(
  registers: Registry[],
  name: string,
  help: string,
  labelNames: string[],
  collect?: (c: Counter<string>) => void,
): Counter<string> {
  return new Counter({
    name,
    help,
    labelNames,
    registers,
    ...(collect
      ? {
          collect(this: Counter<string>) {
            this.reset()
            collect(this)
          },
        }
      : {}),
  })
}

/** A counter kept elsewhere (a total in SQLite or a service): the exposition shows that total. */
function setCounter(c: Counter<string>, labels: Record<string, string>, value: number): void {
  c.remove(labels)
  c.inc(labels, value)
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)

function deviceCounts(store: Store, cameras: boolean): { status: string; n: number }[] {
  const where = cameras ? "WHERE lower(device_type) = 'camera'" : ''
  return store.db.prepare(`SELECT status, count(*) AS n FROM devices ${where} GROUP BY status`).all() as {
    status: string
    n: number
  }[]
}

function historyTotals(store: Store): { name: string; records: number; bytes: number }[] {
  return store.db.prepare('SELECT name, records, bytes FROM history_totals').all() as {
    name: string
    records: number
    bytes: number
  }[]
}
