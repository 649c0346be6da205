// The call relay (issue 7): places calls to safety devices over the gateway's XMPP session, keeps the call log,
// and records what devices send. Every fact is committed by the writer thread before it is acted on or
// announced (ARCHITECTURE.md rules 1–3): a call is logged `sent` before its stanza goes, a device's message is
// committed before its XEP-0184 receipt is returned.
import { randomUUID } from 'node:crypto'
import { xml } from '@xmpp/client'
import type { Element } from 'ltx'
import type { LedgerWriter } from '../commands/service.ts'
import type { DeviceRegistry } from '../devices/registry.ts'
import { PlatformError } from '../errors.ts'
import type { EventBus } from '../events.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { DeviceRow } from '../store/repos/devices.ts'
import type { XmppSettings } from './config.ts'
import type { CallerConfig } from './config-schema.ts'
import { type DeviceMessage, readIncoming } from './incoming.ts'
import { normalizeJid, parseBareJid } from './jid.ts'
import type { NewCall } from './safety-ops.ts'
import { SAFETY_DEVICE_TYPE, SafetyRepo } from './safety-repo.ts'
import { attrsJson, buildCallStanza, type CallStanza, checkText, LIMITS } from './stanza.ts'
import type { CallView } from './views.ts'
import { SafetyXmppClient, type XmppStatusView, XmppUnavailableError } from './xmpp-client.ts'

/** Why a call was refused; the call API and the REST endpoints each say it in their own format. */
export type CallRefusal = 'unknown-device' | 'device-mismatch' | 'device-frozen' | 'xmpp-down'

export class SafetyCallError extends Error {
  constructor(
    readonly reason: CallRefusal,
    message: string,
    /** The failed call's log entry, when the refusal came after the call was logged. */
    readonly call?: CallView,
  ) {
    super(message)
    this.name = 'SafetyCallError'
  }
}

/** `POST /sitegate/v1/safety/devices`: a safety device (helmet) and its chat JID. */
export interface SafetyDeviceRequest {
  /** The device's own id (B.6 deviceId, e.g. `aqm0523`): its nodeId in the registry. */
  nodeId: string
  chatJid: string
  isdpDeviceId?: string | undefined
  name?: string | undefined
}

/** `POST /sitegate/v1/safety/calls`: a call the gateway builds itself. */
export interface GatewayCallRequest {
  deviceId: string
  directive?: string | undefined
  text?: string | undefined
  caller?: Partial<CallerConfig> | undefined
}

const NS_RECEIPTS = 'urn:xmpp:receipts'

export class SafetyService {
  readonly client: SafetyXmppClient
  readonly repo: SafetyRepo
  private sweepTimer: NodeJS.Timeout | undefined
  private lastStanzaId = 0

  constructor(
    store: Store,
    private readonly writer: LedgerWriter,
    private readonly registry: DeviceRegistry,
    private readonly bus: EventBus,
    private readonly log: Logger,
    readonly settings: XmppSettings | undefined,
  ) {
    this.repo = SafetyRepo.of(store.db)
    this.client = new SafetyXmppClient(settings, log.child({ part: 'xmpp' }))
    this.client.onStanza = (stanza) => {
      this.received(stanza).catch((err: unknown) =>
        this.log.error({ err }, 'a message from the XMPP server could not be recorded'),
      )
    }
  }

  start(): void {
    if (!this.settings) return
    this.client.start()
    const { callTimeoutMs } = this.settings
    this.sweepTimer = setInterval(() => this.sweep(callTimeoutMs), Math.min(callTimeoutMs / 2, 5000))
    this.sweepTimer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer)
    await this.client.stop()
  }

  status(): XmppStatusView {
    return this.client.status()
  }

  /** Registers a safety device (deviceType SafetyDevice, chatJid kept with its registration details). */
  registerDevice(appId: string, req: SafetyDeviceRequest): { deviceId: string } {
    const jid = parseBareJid(req.chatJid)
    if (!jid) throw new PlatformError('50400', 'chatJid must be a bare JID (node@domain)')
    const chatJid = normalizeJid(jid)
    if (this.repo.deviceByJid(chatJid)) {
      throw new PlatformError('100227', `a safety device with chatJid ${chatJid} is already registered`)
    }
    const { deviceId } = this.registry.register(appId, {
      deviceInfo: {
        nodeId: req.nodeId,
        name: req.name ?? req.nodeId,
        deviceType: SAFETY_DEVICE_TYPE,
        protocolType: 'XMPP',
      },
      extraInfo: { chatJid, ...(req.isdpDeviceId === undefined ? {} : { isdpDeviceId: req.isdpDeviceId }) },
    })
    return { deviceId }
  }

  /** The application's safety devices. */
  devices(appId: string): DeviceRow[] {
    return this.repo.devicesOf(appId)
  }

  /**
   * The stanza of a call the gateway builds (the same as the call API's): to a registered safety device, from
   * the given caller or the configured one.
   */
  gatewayCall(appId: string, req: GatewayCallRequest): CallStanza {
    const s = this.settings
    if (!s)
      throw new SafetyCallError('xmpp-down', 'XMPP is not configured on this gateway (xmpp: in the config)')
    const device = this.registry.getForApp(appId, req.deviceId)
    if (device.device_type !== SAFETY_DEVICE_TYPE) {
      throw new PlatformError('50400', `device ${req.deviceId} is not a ${SAFETY_DEVICE_TYPE}`)
    }
    const info = JSON.parse(device.info_json) as { chatJid?: string; isdpDeviceId?: string }
    if (typeof info.chatJid !== 'string') throw new PlatformError('50400', 'the device has no chatJid')
    const given = { ...s.caller, ...req.caller }
    const { userId, userName, userNo, tenantId } = given
    if (userId === undefined || userName === undefined || userNo === undefined || tenantId === undefined) {
      throw new PlatformError(
        '102202',
        'caller (userId, userName, userNo, tenantId) is needed: in the request or xmpp.caller',
      )
    }
    const caller = { userId, userName, userNo, tenantId }
    const directive = req.directive ?? s.directive
    const text = req.text ?? s.callText
    try {
      checkText('text', text, { max: LIMITS.body, multiline: true })
      for (const key of ['userName', 'userNo'] as const) {
        checkText(`caller.${key}`, caller[key], { max: LIMITS.attrText })
      }
    } catch (err) {
      throw new PlatformError('50400', (err as Error).message)
    }
    return {
      to: info.chatJid,
      id: this.nextStanzaId(),
      subject: directive,
      body: text,
      namespace: s.defaultNamespace,
      contentType: 'text',
      nick: '',
      directive,
      attrs: {
        userId: caller.userId,
        userName: caller.userName,
        userNo: caller.userNo,
        tenantId: caller.tenantId,
        deviceId: device.node_id,
        isdpDeviceId: info.isdpDeviceId ?? device.node_id,
      },
    }
  }

  /**
   * Places a call: checks the target, logs the call and sends the rebuilt stanza. With no XMPP session the call
   * fails at once (logged as failed) — it is never queued to ring minutes later.
   */
  async place(appId: string, origin: NewCall['origin'], call: CallStanza): Promise<CallView> {
    const s = this.settings
    const target = this.target(appId, call)
    const stanza = buildCallStanza(call, s?.requestReceipts ?? true)
    const newCall: NewCall = {
      callId: randomUUID(),
      appId,
      origin,
      deviceId: target.deviceId,
      chatJid: target.chatJid,
      stanzaId: call.id,
      directive: call.directive,
      caller: JSON.parse(attrsJson(call.attrs)) as Record<string, unknown>,
      stanza: stanza.toString(),
    }
    if (!this.client.isOnline()) {
      const why = s
        ? `the XMPP server ${s.service} is not connected${this.lastErrorSuffix()}`
        : 'XMPP is not configured on this gateway (xmpp: in the config)'
      const failed = await this.writer.execute('safety.recordCall', {
        call: newCall,
        state: 'failed',
        detail: why,
      })
      this.bus.emit('safety.call', { call: failed })
      this.log.warn({ callId: failed.callId, chatJid: target.chatJid }, `call refused: ${why}`)
      throw new SafetyCallError('xmpp-down', why, failed)
    }
    const logged = await this.writer.execute('safety.recordCall', { call: newCall, state: 'sent' })
    try {
      await this.client.send(stanza)
    } catch (err) {
      const why =
        err instanceof XmppUnavailableError ? err.message : `sending failed: ${(err as Error).message}`
      const failed = await this.writer.execute('safety.changeCall', {
        callId: logged.callId,
        state: 'failed',
        detail: why,
      })
      const view = failed ?? logged
      this.bus.emit('safety.call', { call: view })
      throw new SafetyCallError('xmpp-down', why, view)
    }
    this.bus.emit('safety.call', { call: logged })
    this.log.info(
      {
        callId: logged.callId,
        chatJid: target.chatJid,
        stanzaId: call.id,
        directive: call.directive,
        origin,
      },
      'safety call sent',
    )
    return logged
  }

  /** B.10 note 4: numeric like the example (epoch ms), and never the same twice in this process. */
  private nextStanzaId(): string {
    this.lastStanzaId = Math.max(Date.now(), this.lastStanzaId + 1)
    return String(this.lastStanzaId)
  }

  private lastErrorSuffix(): string {
    const e = this.client.status().lastError
    return e ? ` (last error: ${e.message})` : ''
  }

  /** A registered safety device of the application, or a JID the config allows. */
  private target(appId: string, call: CallStanza): { deviceId: string | null; chatJid: string } {
    const chatJid = normalizeJid(parseBareJid(call.to)!)
    const device = this.repo.deviceByJid(chatJid)
    if (device && device.app_id === appId) {
      // B.6: directives_attrs.deviceId names the device the JID belongs to.
      if (call.attrs.deviceId !== device.node_id) {
        throw new SafetyCallError(
          'device-mismatch',
          `directives_attrs.deviceId ${call.attrs.deviceId} is not the device at ${chatJid} (${device.node_id})`,
        )
      }
      if (device.mute === 'TRUE')
        throw new SafetyCallError('device-frozen', `device ${device.node_id} is frozen`)
      return { deviceId: device.device_id, chatJid }
    }
    const s = this.settings
    const domain = chatJid.slice(chatJid.indexOf('@') + 1)
    if (s && (s.allowedJids.has(chatJid) || s.allowedDomains.has(domain))) return { deviceId: null, chatJid }
    throw new SafetyCallError('unknown-device', `${chatJid} is not a registered safety device`)
  }

  /** Whether messages from this JID are taken: a registered safety device, or a JID the config allows. */
  private knownSender(jid: string): boolean {
    if (this.repo.deviceByJid(jid)) return true
    const s = this.settings
    return (
      s !== undefined && (s.allowedJids.has(jid) || s.allowedDomains.has(jid.slice(jid.indexOf('@') + 1)))
    )
  }

  private async received(stanza: Element): Promise<void> {
    const incoming = readIncoming(stanza)
    switch (incoming.type) {
      case 'ignored':
        this.log.debug({ reason: incoming.reason }, 'XMPP stanza ignored')
        return
      case 'receipt':
      case 'error': {
        const delivered = incoming.type === 'receipt'
        const call = await this.writer.execute('safety.changeCall', {
          jid: incoming.from,
          stanzaId: incoming.stanzaId,
          state: delivered ? 'delivered' : 'failed',
          detail: delivered ? null : `refused by XMPP: ${incoming.detail}`,
        })
        if (call) {
          this.bus.emit('safety.call', { call })
          this.log.info(
            { callId: call.callId, state: call.state, detail: call.detail },
            'safety call changed',
          )
        }
        return
      }
      case 'invalid':
        this.log.warn({ from: incoming.from, reason: incoming.reason }, 'invalid message from XMPP refused')
        if (this.knownSender(incoming.from))
          await this.refuse(incoming.fullFrom, incoming.id, incoming.reason)
        return
      case 'message':
        if (!this.knownSender(incoming.from)) {
          this.log.warn({ from: incoming.from }, 'message from a JID that is not a safety device ignored')
          return
        }
        await this.record(incoming.message)
        if (incoming.receiptFor !== null) await this.sendReceipt(incoming.fullFrom, incoming.receiptFor)
    }
  }

  private async record(message: DeviceMessage): Promise<void> {
    const { event, call } = await this.writer.execute('safety.recordMessage', { message })
    if (call) this.bus.emit('safety.call', { call })
    this.bus.emit('safety.event', { event })
    this.log.info(
      { eventId: event.eventId, deviceId: event.deviceId, kind: event.kind, directive: event.directive },
      'safety device message recorded',
    )
  }

  /** XEP-0184 §4: the receipt, sent only once the message is committed. */
  private async sendReceipt(to: string, id: string): Promise<void> {
    if (id.length > 256) return
    await this.client
      .send(xml('message', { to, id: randomUUID() }, xml('received', { xmlns: NS_RECEIPTS, id })))
      .catch((err: Error) => this.log.warn({ err: err.message }, 'receipt not sent'))
  }

  /** RFC 6120 §8.3: a message the gateway cannot take is returned as an error stanza. */
  private async refuse(to: string, id: string | null, reason: string): Promise<void> {
    const error = xml(
      'message',
      { to, type: 'error', ...(id === null ? {} : { id }) },
      xml(
        'error',
        { type: 'modify' },
        xml('not-acceptable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }),
        xml('text', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }, reason),
      ),
    )
    await this.client
      .send(error)
      .catch((err: Error) => this.log.warn({ err: err.message }, 'error reply not sent'))
  }

  /** Open calls past their time end as failed. */
  private sweep(callTimeoutMs: number): void {
    const before = Date.now() - callTimeoutMs
    if (this.repo.openCallsBefore(before).length === 0) return
    this.writer
      .execute('safety.expireCalls', {
        before,
        detail: `no answer within ${Math.round(callTimeoutMs / 1000)} s`,
      })
      .then((ended) => {
        for (const call of ended) this.bus.emit('safety.call', { call })
      })
      .catch((err: unknown) => this.log.error({ err }, 'expiring safety calls failed'))
  }
}
