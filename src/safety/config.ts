// The `xmpp:` config section (schema in config-schema.ts) with its defaults applied.
import { readFileSync } from 'node:fs'
import { ConfigError } from '../config/load.ts'
import type { CallerConfig, XmppConfig } from './config-schema.ts'
import { bareOf } from './jid.ts'

/** B.5: the one documented directive and its body text (kept literally). */
export const REMOTE_INVITE = 'qc-intellect-equip-remote-invite'
export const REMOTE_INVITE_TEXT = '智能设备远端呼叫'

export interface XmppSettings {
  service: string
  domain: string
  username: string
  password: string
  resource: string
  tls: { ca: Buffer | undefined; rejectUnauthorized: boolean }
  /** Required namespace of API calls (undefined: any valid one). */
  propertiesNamespace: string | undefined
  /** Namespace of gateway-built calls. */
  defaultNamespace: string
  /** Normalized bare JIDs, and domains allowed whole (`*@domain`). */
  allowedJids: Set<string>
  allowedDomains: Set<string>
  requestReceipts: boolean
  callTimeoutMs: number
  reconnect: { initialDelayMs: number; maxDelayMs: number }
  caller: CallerConfig | undefined
  directive: string
  callText: string
}

/** The section with its defaults applied; throws naming the key when a value cannot be used. */
export function xmppSettings(config: XmppConfig): XmppSettings {
  const host = new URL(config.service.replace(/^xmpps?:/, 'http:')).hostname
  const domain = config.domain ?? host
  const allowedJids = new Set<string>()
  const allowedDomains = new Set<string>()
  for (const entry of config.allowedJids ?? []) {
    if (entry.startsWith('*@')) {
      const d = bareOf(`x${entry.slice(1)}`)
      if (!d) throw new ConfigError(`xmpp.allowedJids: "${entry}" is not *@domain`)
      allowedDomains.add(d.slice(2))
    } else {
      const jid = bareOf(entry)
      if (!jid || entry.includes('/')) throw new ConfigError(`xmpp.allowedJids: "${entry}" is not a bare JID`)
      allowedJids.add(jid)
    }
  }
  let ca: Buffer | undefined
  if (config.tls?.ca !== undefined) {
    try {
      ca = readFileSync(config.tls.ca)
    } catch (err) {
      throw new ConfigError(`xmpp.tls.ca: cannot read ${config.tls.ca}: ${(err as Error).message}`)
    }
  }
  const initialDelayMs = config.reconnect?.initialDelayMs ?? 1000
  return {
    service: config.service,
    domain,
    username: config.username,
    password: config.password,
    resource: config.resource ?? 'sitegate',
    tls: { ca, rejectUnauthorized: config.tls?.rejectUnauthorized ?? true },
    propertiesNamespace: config.propertiesNamespace,
    defaultNamespace: config.propertiesNamespace ?? `http://${domain}/xmlns/xmpp/properties`,
    allowedJids,
    allowedDomains,
    requestReceipts: config.requestReceipts ?? true,
    callTimeoutMs: config.callTimeoutMs ?? 60_000,
    reconnect: {
      initialDelayMs,
      maxDelayMs: Math.max(initialDelayMs, config.reconnect?.maxDelayMs ?? 30_000),
    },
    caller: config.caller,
    directive: config.directive ?? REMOTE_INVITE,
    callText: config.callText ?? REMOTE_INVITE_TEXT,
  }
}
