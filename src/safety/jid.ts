// Bare JIDs (RFC 7622) of safety devices: the call stanza's `to` is the device's chatJid, a bare JID such as
// `759646@saasgroupchat.isdp-saas-sit.test.huawei.com` (rpc-and-calls.md B.5 #1).

/** localpart: RFC 7622 §3.3.1 excludes " & ' / : < > @ and spaces; 1–64 characters here (no control chars). */
const LOCAL = /^[^\s"&'/:<>@\p{Cc}]{1,64}$/u
/** domainpart: a DNS name (letters, digits, hyphens, dots) or an IPv4 address, at most 253 characters. */
const DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

export interface BareJid {
  local: string
  domain: string
}

/** A bare JID `local@domain`, or undefined when `text` is not one (a resource is not allowed). */
export function parseBareJid(text: string): BareJid | undefined {
  const at = text.indexOf('@')
  if (at <= 0 || text.includes('/')) return undefined
  const local = text.slice(0, at)
  const domain = text.slice(at + 1)
  if (!LOCAL.test(local) || !DOMAIN.test(domain)) return undefined
  return { local, domain }
}

/**
 * The form JIDs are compared and stored in: domains are case-insensitive (RFC 7622 §3.2), and sitegate also
 * folds the localpart, as Openfire and Prosody do for ASCII usernames.
 */
export function normalizeJid(jid: BareJid): string {
  return `${jid.local.toLowerCase()}@${jid.domain.toLowerCase()}`
}

/** The bare form of a full or bare JID string from the wire (`from` of a stanza); undefined if invalid. */
export function bareOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  const slash = text.indexOf('/')
  const parsed = parseBareJid(slash === -1 ? text : text.slice(0, slash))
  return parsed ? normalizeJid(parsed) : undefined
}
