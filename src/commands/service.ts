import type { DeviceSession } from '../broker/access.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { CommandRow, NewCommandRow } from '../store/repos/commands.ts'
import { FINAL_STATUSES } from '../store/repos/commands.ts'
import type { OpArgs, OpName, OpResult } from '../store/write-ops.ts'
import { downlinkOf, midOfDownlink } from './downlink.ts'
import type { DeviceAnswer } from './ledger-ops.ts'

/** Runs ledger writes in the writer thread (telemetry/ingest.ts `execute`). */
export interface LedgerWriter {
  execute<N extends OpName>(name: N, args: OpArgs<N>): Promise<OpResult<N>>
}

/** What the service needs of the broker: who is connected, and a way to publish to them. */
export interface CommandTransport {
  deviceSession(deviceId: string): DeviceSession | undefined
  /** Publishes a command to the device's connection; false when it is not connected. */
  publishToDevice(deviceId: string, topic: string, payload: string): Promise<boolean>
}

/**
 * A way to reach devices that are not MQTT sessions of the platform or OneJSON protocols (cameras, serial
 * instruments, …). A driver that owns a device carries out its SENT commands and reports back through
 * `CommandService.delivered` and `CommandService.answer`; it calls `deviceListening` when the device becomes
 * reachable and `deviceGone` when it stops being so, exactly as the broker does for MQTT sessions.
 */
export interface DeviceDriver {
  /** A short name for logs. */
  readonly name: string
  /** Whether this driver carries the commands of this device. */
  owns(deviceId: string): boolean
  /** Whether the device can take a command now. */
  isReachable(deviceId: string): boolean
  /** Carries out a command the ledger has just marked SENT (its `mid` is set). Must not throw. */
  deliver(row: CommandRow): void
}

export interface CommandOptions {
  /** No answer within this time: retransmit (maxRetransmit) or TIMEOUT. */
  responseTimeoutMs: number
  /** Most PENDING commands per device (§8.1: 20, error 100223). */
  pendingLimit: number
}

const FINAL = new Set(FINAL_STATUSES)

/**
 * Delivers commands to devices (spec §8, device-mqtt.md A.5–A.7, Part B). Every state change is a ledger
 * operation committed by the writer thread first; this class then acts on it — publishes, arms the response
 * timer, emits `command.status` — so nothing is said or sent that a restart would forget.
 *
 * Queued (cached) commands go one at a time per device, in creation order, while the device is online: the
 * next after the previous one's answer or timeout. Immediate ones go at once and never wait for the queue.
 */
export class CommandService {
  private readonly timers = new Map<string, NodeJS.Timeout>()
  /** Devices whose next queued command is being picked; `again` when asked once more meanwhile. */
  private readonly picking = new Map<string, { again: boolean }>()
  /** SENT before the gateway restarted and never acknowledged: sent again when the device connects. */
  private readonly resendOnConnect = new Set<string>()
  private readonly waiters = new Map<string, ((row: CommandRow) => void)[]>()
  private expiryTimer: NodeJS.Timeout | undefined
  private expiryAt: number | undefined
  private stopped = false
  private readonly drivers: DeviceDriver[] = []
  /** Told when callback deliveries were queued (the callback dispatcher's wake). */
  onCallbacksQueued: () => void = () => {}

  constructor(
    private readonly store: Store,
    private readonly writer: LedgerWriter,
    private readonly transport: CommandTransport,
    private readonly bus: EventBus,
    private readonly log: Logger,
    readonly options: CommandOptions,
  ) {}

  /** Resumes what the ledger says is in flight. */
  start(): void {
    for (const row of this.store.commands.inFlight()) {
      if (row.status === 'SENT') this.resendOnConnect.add(row.command_id)
      this.armTimer(row)
    }
    this.scheduleExpiry()
  }

  stop(): void {
    this.stopped = true
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    clearTimeout(this.expiryTimer)
  }

  /** Adds a driver for devices the broker does not carry (checked before the broker, in the order added). */
  registerDriver(driver: DeviceDriver): void {
    this.drivers.push(driver)
  }

  private driverOf(deviceId: string): DeviceDriver | undefined {
    return this.drivers.find((d) => d.owns(deviceId))
  }

  /** Whether commands can reach the device now (an MQTT session, or its driver says so). */
  isOnline(deviceId: string): boolean {
    const driver = this.driverOf(deviceId)
    if (driver) return driver.isReachable(deviceId)
    return this.transport.deviceSession(deviceId) !== undefined
  }

  /** Records a new command (PENDING) and, if it can go now, sends it. Resolves with its latest state. */
  async create(row: NewCommandRow): Promise<CommandRow> {
    if (row.delivery === 'queued' && this.isOnline(row.device_id) && !this.picking.has(row.device_id)) {
      return this.createAndSend(row)
    }
    const created = await this.writer.execute('command.create', {
      row,
      pendingLimit: this.options.pendingLimit,
    })
    this.changed([created])
    if (created.delivery === 'immediate') return this.sendImmediate(created)
    this.kick(created.device_id)
    if (created.expires_at !== null) this.scheduleExpiry(created.expires_at)
    return created
  }

  /** A cached command for a connected device: created and, if its turn has come, sent in one commit. */
  private async createAndSend(row: NewCommandRow): Promise<CommandRow> {
    const state = { again: false }
    this.picking.set(row.device_id, state)
    try {
      const { created, sent, changed } = await this.writer.execute('command.createAndSendNext', {
        row,
        pendingLimit: this.options.pendingLimit,
        responseTimeoutMs: this.options.responseTimeoutMs,
      })
      this.changed([created, ...changed])
      if (sent) this.publish(sent)
      if (created.expires_at !== null) this.scheduleExpiry(created.expires_at)
      return changed.find((c) => c.command_id === created.command_id) ?? created
    } finally {
      this.picking.delete(row.device_id)
      if (state.again) this.kick(row.device_id)
    }
  }

  /** Queued commands created by other operations (desired state): delivers them when their turn comes. */
  queued(rows: CommandRow[]): void {
    this.changed(rows)
    for (const deviceId of new Set(rows.map((r) => r.device_id))) this.kick(deviceId)
  }

  /** Queued commands were created for these devices without passing through `create` (§9 batch tasks). */
  queuedFor(deviceIds: string[], expiresAt: number | null): void {
    for (const deviceId of new Set(deviceIds)) this.kick(deviceId)
    if (expiresAt !== null) this.scheduleExpiry(expiresAt)
  }

  /** §8.3 cancel. */
  async cancel(appId: string, commandId: string): Promise<CommandRow> {
    const row = await this.writer.execute('command.cancel', { appId, commandId })
    this.changed([row])
    return row
  }

  /** §8.5: cancels every PENDING command of a device. */
  async cancelPending(appId: string, deviceId: string, taskId: string): Promise<CommandRow[]> {
    const rows = await this.writer.execute('command.cancelPendingOfDevice', { appId, deviceId, taskId })
    this.changed(rows)
    return rows
  }

  /**
   * Resolves with the command once it has ended (answered, timed out, …), or with undefined after `ms`.
   * The caller gets the final row whichever comes first, even if it ended before the call.
   */
  waitForEnd(commandId: string, ms: number): Promise<CommandRow | undefined> {
    const now = this.store.commands.get(commandId)
    if (!now || FINAL.has(now.status)) return Promise.resolve(now)
    return new Promise((resolve) => {
      const list = this.waiters.get(commandId) ?? []
      const done = (row: CommandRow | undefined) => {
        clearTimeout(timer)
        resolve(row)
      }
      const timer = setTimeout(() => {
        const rest = (this.waiters.get(commandId) ?? []).filter((w) => w !== done)
        if (rest.length > 0) this.waiters.set(commandId, rest)
        else this.waiters.delete(commandId)
        done(undefined)
      }, ms)
      list.push(done)
      this.waiters.set(commandId, list)
    })
  }

  /** A device acknowledged (PUBACK) a command the gateway published: DELIVERED. */
  deviceAcked(session: DeviceSession, payload: Buffer): void {
    const mid = midOfDownlink(session, payload)
    if (mid !== undefined) this.delivered(session.deviceId, mid)
  }

  /** A driver's device took a command (the driver's equivalent of a PUBACK): DELIVERED. */
  delivered(deviceId: string, mid: number): void {
    this.writer
      .execute('command.delivered', { deviceId, mid })
      .then((row) => row && this.changed([row]))
      .catch((err: unknown) => this.log.error({ err, deviceId, mid }, 'recording delivery failed'))
  }

  /** A device's answer was committed (by the ingest writer, or `answer` below); `row` is what it settled. */
  answered(row: CommandRow | undefined): void {
    if (row) this.changed([row])
  }

  /** Settles the command awaiting a device's answer; resolves once committed (before the PUBACK). */
  async answer(answer: DeviceAnswer): Promise<CommandRow | undefined> {
    const row = await this.writer.execute('command.answer', answer)
    this.answered(row)
    return row
  }

  private async sendImmediate(row: CommandRow): Promise<CommandRow> {
    const online = this.isOnline(row.device_id)
    const sent = await this.writer.execute('command.sendImmediate', {
      commandId: row.command_id,
      online,
      responseTimeoutMs: this.options.responseTimeoutMs,
    })
    this.changed([sent])
    if (sent.status === 'SENT') this.publish(sent)
    return sent
  }

  /** Sends the device's next queued command if it is online and none is awaiting an answer. */
  private kick(deviceId: string): void {
    if (this.stopped || !this.isOnline(deviceId)) return
    const picking = this.picking.get(deviceId)
    if (picking) {
      picking.again = true
      return
    }
    const state = { again: false }
    this.picking.set(deviceId, state)
    this.writer
      .execute('command.sendNextQueued', { deviceId, responseTimeoutMs: this.options.responseTimeoutMs })
      .then(({ sent, changed }) => {
        this.changed(changed)
        if (sent) this.publish(sent)
      })
      .catch((err: unknown) => this.log.error({ err, deviceId }, 'sending the next queued command failed'))
      .finally(() => {
        this.picking.delete(deviceId)
        if (state.again) this.kick(deviceId)
      })
  }

  private publish(row: CommandRow): void {
    this.armTimer(row)
    const driver = this.driverOf(row.device_id)
    if (driver) {
      if (!driver.isReachable(row.device_id)) {
        this.resendOnConnect.add(row.command_id)
        return
      }
      this.resendOnConnect.delete(row.command_id)
      try {
        driver.deliver(row)
      } catch (err) {
        this.log.error({ err, commandId: row.command_id, driver: driver.name }, 'driver failed to deliver')
      }
      return
    }
    const session = this.transport.deviceSession(row.device_id)
    // Gone offline since the ledger said SENT: it goes when the device is back (or the timer ends it first).
    if (!session) {
      this.resendOnConnect.add(row.command_id)
      return
    }
    let downlink: ReturnType<typeof downlinkOf>
    try {
      downlink = downlinkOf(session, row)
    } catch (err) {
      this.log.error({ err, commandId: row.command_id }, 'command cannot be encoded for this device')
      return
    }
    this.resendOnConnect.delete(row.command_id)
    this.transport
      .publishToDevice(row.device_id, downlink.topic, downlink.payload)
      .catch((err: unknown) =>
        this.log.error({ err, commandId: row.command_id }, 'publishing a command failed'),
      )
  }

  /**
   * A device can receive commands now (it subscribed, or reconnected with its subscription): what it missed
   * while the gateway was down goes again, then its queue moves (§8.1 "delivered when it comes online").
   */
  deviceListening(deviceId: string): void {
    for (const commandId of [...this.resendOnConnect]) {
      const row = this.store.commands.get(commandId)
      if (row?.status !== 'SENT') this.resendOnConnect.delete(commandId)
      else if (row.device_id === deviceId) {
        this.log.info({ commandId, deviceId }, 'sending again a command unacknowledged before the restart')
        this.publish(row)
      }
    }
    this.kick(deviceId)
  }

  /**
   * A device's connection closed: a command published to it and not acknowledged may have died with the
   * connection, so it goes again when the device is back (unacknowledged, so a second send is allowed).
   */
  deviceGone(deviceId: string): void {
    for (const row of this.store.commands.inFlightOf(deviceId)) {
      if (row.status === 'SENT') this.resendOnConnect.add(row.command_id)
    }
  }

  private armTimer(row: CommandRow, minDelayMs = 0): void {
    clearTimeout(this.timers.get(row.command_id))
    if (row.response_deadline === null) return
    const delay = Math.max(minDelayMs, row.response_deadline - Date.now())
    const timer = setTimeout(() => this.timedOut(row.command_id), delay)
    timer.unref()
    this.timers.set(row.command_id, timer)
  }

  private timedOut(commandId: string): void {
    this.timers.delete(commandId)
    this.writer
      .execute('command.timedOut', { commandId, responseTimeoutMs: this.options.responseTimeoutMs })
      .then((outcome) => {
        if (!outcome) {
          // Not due by the writer's clock (a timer may fire a millisecond early against the wall clock), or
          // answered meanwhile: look again if it is still awaiting an answer.
          const row = this.store.commands.get(commandId)
          if (row && (row.status === 'SENT' || row.status === 'DELIVERED')) this.armTimer(row, 5)
          return
        }
        this.changed([outcome.row])
        if (outcome.resend) {
          this.log.info({ commandId, issuedTimes: outcome.row.issued_times }, 'no answer; command sent again')
          this.publish(outcome.row)
        }
      })
      .catch((err: unknown) => this.log.error({ err, commandId }, 'recording a command timeout failed'))
  }

  /** One timer at the earliest expireTime of a PENDING command (§8.1: EXPIRED when it passes). */
  private scheduleExpiry(candidate?: number): void {
    if (this.stopped) return
    const at = candidate ?? this.store.commands.nextExpiry() ?? undefined
    if (at === undefined || (this.expiryAt !== undefined && this.expiryAt <= at)) return
    clearTimeout(this.expiryTimer)
    this.expiryAt = at
    this.expiryTimer = setTimeout(
      () => {
        this.expiryAt = undefined
        this.writer
          .execute('command.expireDue', undefined)
          .then((rows) => this.changed(rows))
          .catch((err: unknown) => this.log.error({ err }, 'expiring commands failed'))
          .finally(() => this.scheduleExpiry())
      },
      Math.max(0, at - Date.now()),
    )
    this.expiryTimer.unref()
  }

  /** After a committed change: events, timers, waiters, the next queued command, callback deliveries. */
  private changed(rows: CommandRow[]): void {
    let callbacks = false
    for (const row of rows) {
      try {
        this.bus.emit('command.status', { command: row })
      } catch (err) {
        this.log.error({ err }, 'command.status listener failed')
      }
      if (row.callback_url && row.status !== 'PENDING') callbacks = true
      if (!FINAL.has(row.status)) continue
      clearTimeout(this.timers.get(row.command_id))
      this.timers.delete(row.command_id)
      this.resendOnConnect.delete(row.command_id)
      for (const waiter of this.waiters.get(row.command_id) ?? []) waiter(row)
      this.waiters.delete(row.command_id)
      if (row.delivery === 'queued') this.kick(row.device_id)
    }
    if (callbacks) this.onCallbacksQueued()
  }
}
