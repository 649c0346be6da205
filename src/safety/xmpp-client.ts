// The gateway's XMPP session with the site's server (issue 7 item 1): logs in with the configured account, says
// it is available (so messages to its bare JID reach it), reconnects with exponential backoff, and keeps its
// state visible for the status endpoint, the dashboard and metrics.
import { client, type XmppClient, xml } from '@xmpp/client'
import type { Element } from 'ltx'
import type { Logger } from '../logger.ts'
import type { XmppSettings } from './config.ts'
import { withTlsOptions } from './xmpp-tls.ts'

export type XmppState = 'disabled' | 'connecting' | 'online' | 'offline'

export interface XmppStatusView {
  enabled: boolean
  state: XmppState
  /** When the state last changed (epoch ms). */
  since: number
  /** The account's full JID while online. */
  jid: string | null
  service: string | null
  domain: string | null
  lastError: { message: string; at: number } | null
  /** Failed connection attempts since the last time it was online. */
  reconnectAttempts: number
}

/** Thrown by `send` when there is no session: a call must fail at once, never wait for a reconnection. */
export class XmppUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'XmppUnavailableError'
  }
}

const STOP_TIMEOUT_MS = 3000

export class SafetyXmppClient {
  private xmpp: XmppClient | undefined
  private state: XmppState
  private since: number
  private lastError: { message: string; at: number } | null = null
  private attempts = 0
  private stopping = false
  /** Every stanza the server routes to the gateway. */
  onStanza: (stanza: Element) => void = () => {}
  /** Each time the session is (re)established. */
  onOnline: () => void = () => {}

  constructor(
    private readonly settings: XmppSettings | undefined,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.state = settings ? 'offline' : 'disabled'
    this.since = now()
  }

  get enabled(): boolean {
    return this.settings !== undefined
  }

  isOnline(): boolean {
    return this.state === 'online' && this.xmpp?.status === 'online'
  }

  /** Starts connecting; does not wait for the server (local first: the gateway runs with XMPP down). */
  start(): void {
    const s = this.settings
    if (!s || this.xmpp) return
    const xmpp = client({
      service: s.service,
      domain: s.domain,
      resource: s.resource,
      username: s.username,
      password: s.password,
      timeout: 5000,
    })
    this.xmpp = xmpp
    xmpp.reconnect.delay = s.reconnect.initialDelayMs
    xmpp.on('error', (err) => this.failed(err))
    xmpp.on('status', (status) => {
      if (status === 'connecting') this.setState('connecting')
      else if (status === 'disconnect' && !this.stopping) {
        this.setState('offline')
        this.log.warn({ retryInMs: xmpp.reconnect.delay }, 'XMPP session lost; reconnecting')
      }
    })
    xmpp.reconnect.on('reconnecting', () => {
      // Exponential backoff: the next attempt (if this one fails) waits twice as long, up to the maximum.
      this.attempts++
      xmpp.reconnect.delay = Math.min(s.reconnect.initialDelayMs * 2 ** this.attempts, s.reconnect.maxDelayMs)
    })
    xmpp.on('online', (jid) => {
      this.attempts = 0
      xmpp.reconnect.delay = s.reconnect.initialDelayMs
      // Available presence: the server then routes chat messages for the bare JID to this resource.
      xmpp.send(xml('presence', {}, xml('priority', {}, '1'))).then(
        () => {
          this.setState('online', jid.toString())
          this.onOnline()
        },
        (err: Error) => this.failed(err),
      )
    })
    xmpp.on('stanza', (stanza) => {
      try {
        this.onStanza(stanza)
      } catch (err) {
        this.log.error({ err }, 'XMPP stanza handler failed')
      }
    })
    withTlsOptions(s.tls, () => {
      xmpp.start().catch((err: Error) => {
        // The first attempt failed: the error was recorded, and the reconnect module tries again.
        this.log.debug({ err: err.message }, 'XMPP start failed')
      })
    })
  }

  async stop(): Promise<void> {
    const xmpp = this.xmpp
    if (!xmpp) return
    this.stopping = true
    xmpp.reconnect.stop()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      xmpp.stop().catch(() => {}),
      new Promise((resolve) => {
        timer = setTimeout(resolve, STOP_TIMEOUT_MS)
      }),
    ])
    clearTimeout(timer)
    xmpp.removeAllListeners()
    // A login in progress when it stopped can still fail and emit 'error'; with no listener EventEmitter would
    // throw it out of @xmpp's promise chain as an unhandled rejection.
    xmpp.on('error', () => {})
    this.xmpp = undefined
    this.setState('offline')
  }

  /** Sends a stanza on the session, or throws XmppUnavailableError at once when there is none. */
  async send(stanza: Element): Promise<void> {
    const xmpp = this.xmpp
    if (!this.settings)
      throw new XmppUnavailableError('XMPP is not configured on this gateway (xmpp: in the config)')
    if (!xmpp || !this.isOnline()) {
      const why = this.lastError ? ` (last error: ${this.lastError.message})` : ''
      throw new XmppUnavailableError(`not connected to the XMPP server ${this.settings.service}${why}`)
    }
    try {
      await xmpp.send(stanza)
    } catch (err) {
      throw new XmppUnavailableError(`sending to the XMPP server failed: ${(err as Error).message}`)
    }
  }

  status(): XmppStatusView {
    return {
      enabled: this.enabled,
      state: this.state,
      since: this.since,
      jid: this.state === 'online' ? (this.xmpp?.jid?.toString() ?? null) : null,
      service: this.settings?.service ?? null,
      domain: this.settings?.domain ?? null,
      lastError: this.lastError,
      reconnectAttempts: this.attempts,
    }
  }

  private setState(state: XmppState, jid?: string): void {
    if (state === this.state) return
    this.state = state
    this.since = this.now()
    if (state === 'online') this.log.info({ jid }, 'XMPP session online')
  }

  private failed(err: Error & { condition?: string }): void {
    const message = err.condition ? `${err.condition}${err.message ? `: ${err.message}` : ''}` : err.message
    this.lastError = { message, at: this.now() }
    this.log.warn({ err: message }, 'XMPP error')
    // A refused login leaves the stream open and idle: close it so the backoff tries again (the password may
    // be fixed on the server meanwhile).
    const xmpp = this.xmpp
    if (xmpp && !this.stopping && err.name === 'SASLError' && xmpp.status !== 'disconnect') {
      xmpp.disconnect().catch(() => {})
    }
  }
}
