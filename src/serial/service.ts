import type { CommandService, DeviceDriver } from '../commands/service.ts'
import type { DeviceRegistry } from '../devices/registry.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import type { IngestService } from '../telemetry/ingest.ts'
import type { PortSpec } from './config.ts'
import { type BusEvents, type BusSlave, ModbusBus, type WriteResult } from './modbus-bus.ts'
import { ReportBuilder } from './report-builder.ts'
import { SerialLine } from './serial-line.ts'
import { type PortStatus, portStatus } from './status.ts'
import { planWrites } from './write-plan.ts'

/** The protocolType serial instruments are registered with. */
export const MODBUS_PROTOCOL_TYPE = 'ModbusRTU'

export interface SerialDeps {
  store: Store
  registry: DeviceRegistry
  ingest: IngestService
  commands: CommandService
  bus: EventBus
  log: Logger
}

/** A configured slave as a device. */
interface SerialDevice {
  deviceId: string | undefined
  bus: ModbusBus
  slave: BusSlave
  report: ReportBuilder
  /** Counted as a connection in the registry (ONLINE). */
  online: boolean
}

/**
 * Serial instruments (issue 8): one port line (serial-line.ts) and one bus scheduler (modbus-bus.ts) per
 * configured port, each slave a device of the registry (nodeId from the config, registered on first start)
 * that is ONLINE while it answers. Values go through the same ingest path as an MQTT device's deviceReq;
 * desired state and commands reach the slaves as Modbus writes through the command ledger (the DeviceDriver).
 */
export class SerialService {
  private readonly lines: SerialLine[] = []
  private readonly buses: ModbusBus[] = []
  private readonly devices: SerialDevice[] = []
  private readonly byDeviceId = new Map<string, SerialDevice>()
  private offDeleted: (() => void) | undefined
  private started = false

  constructor(
    private readonly ports: PortSpec[],
    private readonly appId: string | undefined,
    private readonly deps: SerialDeps,
  ) {}

  /** Registers the configured devices, hands the command ledger its driver, and opens the ports. */
  start(): void {
    if (this.ports.length === 0) return
    const { log } = this.deps
    const appId = this.owningApp()
    for (const spec of this.ports) {
      const portLog = log.child({ port: spec.path })
      const line = new SerialLine(spec, portLog)
      const bus = new ModbusBus(spec, this.busEvents(), portLog)
      line.onOpen = (port) => bus.attach(port)
      line.onClosed = (reason) => bus.detach(reason)
      this.lines.push(line)
      this.buses.push(bus)
      for (const slave of bus.slaves) {
        const device: SerialDevice = {
          deviceId: this.ensureDevice(appId, slave),
          bus,
          slave,
          report: new ReportBuilder(),
          online: false,
        }
        this.devices.push(device)
        if (device.deviceId) this.byDeviceId.set(device.deviceId, device)
      }
    }
    this.offDeleted = this.deps.bus.on('device.deleted', ({ deviceId }) => {
      const device = this.byDeviceId.get(deviceId)
      if (!device) return
      this.byDeviceId.delete(deviceId)
      device.deviceId = undefined
      device.online = false
      log.warn(
        { deviceId, nodeId: device.slave.spec.nodeId },
        'a configured serial device was deleted: its values are dropped until the next start registers it again',
      )
    })
    this.deps.commands.registerDriver(this.driver())
    this.started = true
    for (const bus of this.buses) bus.start()
    for (const line of this.lines) line.start()
  }

  /** Closes the ports (devices go OFFLINE) and stops the bus loops. */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.offDeleted?.()
    await Promise.all(this.lines.map((line) => line.stop()))
    await Promise.all(this.buses.map((bus) => bus.stop()))
  }

  /** Per port and per slave state and counters (GET /sitegate/v1/serial). */
  status(): PortStatus[] {
    return this.lines.map((line, i) =>
      portStatus(line, this.buses[i]!, (slave) => this.devices.find((d) => d.slave === slave)?.deviceId),
    )
  }

  /** The buses (the benchmark reads their poll counts). */
  get modbusBuses(): readonly ModbusBus[] {
    return this.buses
  }

  private owningApp(): string {
    const { store } = this.deps
    if (this.appId !== undefined) {
      if (!store.applications.get(this.appId))
        throw new Error(`serial.appId: no application "${this.appId}" (see apps[] or sitegate app add)`)
      return this.appId
    }
    const first = store.applications.list()[0]
    if (!first) throw new Error('serial: no application to own the serial devices')
    return first.app_id
  }

  /** The device of a configured slave: the one with its nodeId, or registered now (§4.2 fields from config). */
  private ensureDevice(appId: string, slave: BusSlave): string {
    const { registry, log } = this.deps
    const { spec } = slave
    const known = registry.lookup(spec.nodeId, 'nodeId')
    if (known) return known.deviceId
    const { deviceId } = registry.register(appId, {
      deviceInfo: {
        nodeId: spec.nodeId,
        name: spec.name,
        protocolType: MODBUS_PROTOCOL_TYPE,
        ...(spec.deviceType ? { deviceType: spec.deviceType } : {}),
        ...(spec.manufacturerName ? { manufacturerName: spec.manufacturerName } : {}),
        ...(spec.model ? { model: spec.model } : {}),
      },
    })
    log.info({ deviceId, nodeId: spec.nodeId, unitId: spec.unitId }, 'serial device registered from config')
    return deviceId
  }

  private deviceOf(slave: BusSlave): SerialDevice | undefined {
    return this.devices.find((d) => d.slave === slave)
  }

  private busEvents(): BusEvents {
    return {
      slaveUp: (slave) => {
        const device = this.deviceOf(slave)
        if (!device?.deviceId || device.online) return
        device.online = true
        this.deps.registry.connected(device.deviceId)
        // Commands that waited for it (queued, or sent while it was away) go now.
        this.deps.commands.deviceListening(device.deviceId)
      },
      slaveDown: (slave, reason) => {
        const device = this.deviceOf(slave)
        if (!device?.deviceId) return
        this.submit(device, device.report.take())
        if (!device.online) return
        device.online = false
        this.deps.log.info(
          { deviceId: device.deviceId, unitId: slave.spec.unitId, reason },
          'serial device down',
        )
        this.deps.registry.disconnected(device.deviceId)
        this.deps.commands.deviceGone(device.deviceId)
      },
      value: (slave, point, value, at, more) => {
        const device = this.deviceOf(slave)
        if (!device?.deviceId) return
        this.submit(device, device.report.add(point, value, at))
        if (!more) this.submit(device, device.report.take())
      },
    }
  }

  /** Hands a deviceReq to the ingest writer, exactly as an MQTT device's publish is (protocols/platform-uplink.ts). */
  private submit(device: SerialDevice, payload: Buffer | undefined): void {
    const { deviceId } = device
    if (!payload || !deviceId) return
    const { ingest, log } = this.deps
    ingest.submit({ deviceId, payload, receivedAt: Date.now() }, (err, outcome) => {
      if (err) log.error({ err, deviceId }, 'serial values not stored')
      else if (outcome?.kind === 'invalid')
        log.warn({ deviceId, error: outcome.error }, 'serial values rejected by ingest')
    })
  }

  /** The command ledger's way to these devices: a command becomes Modbus writes on the slave's bus. */
  private driver(): DeviceDriver {
    return {
      name: 'serial',
      owns: (deviceId) => this.byDeviceId.has(deviceId),
      isReachable: (deviceId) => this.byDeviceId.get(deviceId)?.online === true,
      deliver: (row) => this.deliver(row),
    }
  }

  private deliver(row: CommandRow): void {
    const device = this.byDeviceId.get(row.device_id)
    const mid = row.mid
    if (!device || mid === null) return
    const { commands, log } = this.deps
    const deviceId = row.device_id
    let writes: ReturnType<typeof planWrites>
    try {
      writes = planWrites(device.slave.spec, row.service_id, JSON.parse(row.paras_json))
    } catch (err) {
      // Nothing was written: the command fails with the reason (a bad value, a read-only property, …).
      commands
        .answer({ deviceId, mid, success: false, detail: { reason: (err as Error).message } })
        .catch((e: unknown) => log.error({ err: e, deviceId }, 'recording a refused serial command failed'))
      return
    }
    device.bus.enqueueWrite({
      key: row.command_id,
      unitId: device.slave.spec.unitId,
      writes,
      onSent: () => commands.delivered(deviceId, mid),
      onDone: (result) => this.finished(row, mid, result),
    })
  }

  private finished(row: CommandRow, mid: number, result: WriteResult): void {
    const { commands, ingest, log } = this.deps
    const deviceId = row.device_id
    const fail = (err: unknown) =>
      log.error({ err, deviceId, mid }, 'recording a serial command result failed')
    switch (result.kind) {
      case 'ok':
        commands
          .answer({
            deviceId,
            mid,
            success: true,
            detail: { written: JSON.parse(row.paras_json) as unknown },
          })
          .catch(fail)
        return
      case 'exception':
        commands
          .answer({
            deviceId,
            mid,
            success: false,
            detail: { reason: result.message, exceptionCode: result.code, property: result.point },
          })
          .catch(fail)
        return
      case 'timeout':
        ingest
          .execute('serial.commandTimedOut', {
            deviceId,
            mid,
            detail: { reason: result.message, property: result.point },
          })
          .then((settled) => commands.answered(settled))
          .catch(fail)
        return
      case 'aborted':
        // Nothing reached the slave: the ledger sends it again when the device is back (deviceGone / deviceListening).
        log.info({ deviceId, commandId: row.command_id, reason: result.reason }, 'serial command not sent')
        return
    }
  }
}
