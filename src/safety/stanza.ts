// The safety-device call stanza (rpc-and-calls.md B.5, B.6, B.8): validated field by field from the string the
// call API receives, and rebuilt from those fields — the caller's XML is never forwarded as such.
import { xml } from '@xmpp/client'
import type { Element, Node } from 'ltx'
import { DIRECTIVE_PATTERN, PROPERTIES_NS_PATTERN } from './config-schema.ts'
import { parseBareJid } from './jid.ts'
import { readOneElement, XmlError } from './xml-reader.ts'

/** B.6: the directive's attributes, carried as JSON text in `directives_attrs`. */
export interface CallAttrs {
  userId: number
  userName: string
  userNo: string
  tenantId: number
  deviceId: string
  isdpDeviceId: string
}

/** B.5: everything a call stanza says, once validated. */
export interface CallStanza {
  /** The device's chatJid (bare JID), as given. */
  to: string
  /** The stanza id (B.10 note 4: any non-empty token of safe characters). */
  id: string
  subject: string
  body: string
  /** The `properties` namespace: the site's Openfire base URL + `/xmlns/xmpp/properties`. */
  namespace: string
  contentType: string
  nick: string
  /** `directives_type` (equal to `subject`). */
  directive: string
  attrs: CallAttrs
}

export class StanzaError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StanzaError'
  }
}

/** B.6 field order, kept when the JSON is written again. */
const ATTR_KEYS = ['userId', 'userName', 'userNo', 'tenantId', 'deviceId', 'isdpDeviceId'] as const
/** The `properties` children in B.5 order, each once. */
const PROPERTY_NAMES = ['content_type', 'nick', 'directives_type', 'directives_attrs'] as const

export const STANZA_ID = /^[A-Za-z0-9_.:-]{1,64}$/
export const DIRECTIVE = new RegExp(DIRECTIVE_PATTERN)
const CONTENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9_./+-]{0,31}$/
export const PROPERTIES_NS = new RegExp(PROPERTIES_NS_PATTERN)
/** Markup in text (`<script>` arrives as `&lt;script&gt;`): a helmet's screen or a dashboard could render it. */
const MARKUP = /[<>]/
const CONTROL = /\p{Cc}/u
const BODY_CONTROL = /[^\P{Cc}\t\n\r]/u

export const LIMITS = { body: 1024, nick: 64, attrText: 128 } as const

/** Validates a text field; returns it unchanged. */
export function checkText(
  field: string,
  value: string,
  opts: { max: number; empty?: boolean; multiline?: boolean },
): string {
  if (!opts.empty && value.trim() === '') throw new StanzaError(`${field} is empty`)
  if ([...value].length > opts.max) throw new StanzaError(`${field} is longer than ${opts.max} characters`)
  if (MARKUP.test(value)) throw new StanzaError(`${field} contains markup (< or >), which is refused`)
  if ((opts.multiline ? BODY_CONTROL : CONTROL).test(value)) {
    throw new StanzaError(`${field} contains control characters`)
  }
  return value
}

/** The element's text; refuses child elements inside it. */
function leafText(element: Element, path: string): string {
  for (const child of element.children) {
    if (typeof child !== 'string') throw new StanzaError(`${path} must hold text only, not <${child.name}>`)
  }
  return element.getText()
}

/** Its child elements by name, each exactly once, nothing else (whitespace between them is allowed). */
function childrenExactly(element: Element, names: readonly string[], path: string): Map<string, Element> {
  const found = new Map<string, Element>()
  for (const child of element.children as Node[]) {
    if (typeof child === 'string') {
      if (child.trim() !== '') throw new StanzaError(`${path} must not contain text of its own`)
      continue
    }
    if (!names.includes(child.name)) throw new StanzaError(`${path} must not contain <${child.name}>`)
    if (found.has(child.name)) throw new StanzaError(`${path} contains <${child.name}> twice`)
    found.set(child.name, child)
  }
  for (const name of names) if (!found.has(name)) throw new StanzaError(`${path}/${name} is missing`)
  return found
}

function attrsExactly(element: Element, allowed: Record<string, string | null>, path: string): void {
  for (const [name, value] of Object.entries(element.attrs)) {
    if (!(name in allowed)) throw new StanzaError(`${path} must not have the attribute ${name}`)
    const want = allowed[name]
    if (want !== null && value !== want) throw new StanzaError(`${path}/@${name} must be "${want}"`)
  }
}

/** B.6: a JSON object with exactly the six fields, numbers as JSON integers and strings as JSON strings. */
export function checkAttrs(text: string): CallAttrs {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new StanzaError('directives_attrs is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StanzaError('directives_attrs must be a JSON object')
  }
  const obj = value as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (!(ATTR_KEYS as readonly string[]).includes(key)) {
      throw new StanzaError(`directives_attrs has an unknown field ${key}`)
    }
  }
  for (const key of ['userId', 'tenantId'] as const) {
    const n = obj[key]
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new StanzaError(`directives_attrs.${key} must be a non-negative integer`)
    }
  }
  for (const key of ['userName', 'userNo', 'deviceId', 'isdpDeviceId'] as const) {
    const s = obj[key]
    if (typeof s !== 'string') throw new StanzaError(`directives_attrs.${key} must be a string`)
    checkText(`directives_attrs.${key}`, s, { max: LIMITS.attrText })
  }
  return {
    userId: obj.userId as number,
    userName: obj.userName as string,
    userNo: obj.userNo as string,
    tenantId: obj.tenantId as number,
    deviceId: obj.deviceId as string,
    isdpDeviceId: obj.isdpDeviceId as string,
  }
}

/**
 * Parses and validates the call API's `message` string (B.4 layer 2): one `<message type="chat">` with `to`
 * (a bare JID), `id`, `subject`, `body` and the `properties` extension with exactly its four children.
 * `namespace`, when the site configured it, is the only `properties` namespace accepted.
 */
export function parseCallStanza(text: string, opts: { namespace?: string | undefined } = {}): CallStanza {
  let message: Element
  try {
    message = readOneElement(text)
  } catch (err) {
    if (err instanceof XmlError) throw new StanzaError(`message is not valid XML: ${err.message}`)
    throw err
  }
  if (message.name !== 'message')
    throw new StanzaError(`the element must be <message>, not <${message.name}>`)
  // The stream's default namespace may be written out; `from` is the server's to stamp (B.5).
  attrsExactly(message, { to: null, id: null, type: 'chat', xmlns: 'jabber:client' }, 'message')
  const { to, id, type } = message.attrs
  if (type === undefined) throw new StanzaError('message/@type is missing (it must be "chat")')
  if (to === undefined) throw new StanzaError('message/@to is missing')
  if (!parseBareJid(to)) throw new StanzaError('message/@to must be a bare JID (node@domain)')
  if (id === undefined) throw new StanzaError('message/@id is missing')
  if (!STANZA_ID.test(id)) throw new StanzaError('message/@id must be 1-64 letters, digits or _ . : -')

  const parts = childrenExactly(message, ['subject', 'body', 'properties'], 'message')
  const subjectEl = parts.get('subject')!
  const bodyEl = parts.get('body')!
  const propertiesEl = parts.get('properties')!
  attrsExactly(subjectEl, {}, 'message/subject')
  attrsExactly(bodyEl, {}, 'message/body')
  const subject = leafText(subjectEl, 'message/subject')
  const body = checkText('message/body', leafText(bodyEl, 'message/body'), {
    max: LIMITS.body,
    multiline: true,
  })

  attrsExactly(propertiesEl, { xmlns: null }, 'properties')
  const namespace = propertiesEl.attrs.xmlns
  if (namespace === undefined) throw new StanzaError('properties/@xmlns is missing')
  if (!PROPERTIES_NS.test(namespace)) {
    throw new StanzaError('properties/@xmlns must be http(s)://<Openfire host>/xmlns/xmpp/properties')
  }
  if (opts.namespace !== undefined && namespace !== opts.namespace) {
    throw new StanzaError(`properties/@xmlns must be ${opts.namespace} on this site`)
  }
  const props = childrenExactly(propertiesEl, PROPERTY_NAMES, 'properties')
  const value = (name: (typeof PROPERTY_NAMES)[number]): string => {
    const el = props.get(name)!
    attrsExactly(el, { type: 'string' }, `properties/${name}`)
    if (el.attrs.type === undefined) throw new StanzaError(`properties/${name}/@type must be "string"`)
    return leafText(el, `properties/${name}`)
  }
  const contentType = value('content_type')
  if (!CONTENT_TYPE.test(contentType)) throw new StanzaError('properties/content_type is not a content type')
  const nick = checkText('properties/nick', value('nick'), { max: LIMITS.nick, empty: true })
  const directive = value('directives_type')
  if (!DIRECTIVE.test(directive)) {
    throw new StanzaError('properties/directives_type must be 1-128 letters, digits or _ . -')
  }
  // B.5 #4: the subject names the directive.
  if (subject !== directive) throw new StanzaError('message/subject must equal properties/directives_type')
  const attrs = checkAttrs(value('directives_attrs'))
  return { to, id, subject, body, namespace, contentType, nick, directive, attrs }
}

/** B.6 in its field order. */
export function attrsJson(attrs: CallAttrs): string {
  return JSON.stringify(Object.fromEntries(ATTR_KEYS.map((k) => [k, attrs[k]])))
}

/**
 * B.8: the stanza rebuilt from validated fields (no XML declaration, no `from`). Two children are added: the
 * XEP-0334 `<no-store xmlns="urn:xmpp:hints"/>`, asking the server not to keep the call for a device that is
 * not connected (a call must not ring minutes later; issue 7 item 5), and with `requestReceipt` the XEP-0184 §5
 * `<request xmlns="urn:xmpp:receipts"/>`, so a device that supports receipts acknowledges it.
 */
export function buildCallStanza(call: CallStanza, requestReceipt: boolean): Element {
  const prop = (name: string, text: string) => xml(name, { type: 'string' }, ...(text === '' ? [] : [text]))
  return xml(
    'message',
    { to: call.to, id: call.id, type: 'chat' },
    xml('subject', {}, call.subject),
    xml('body', {}, call.body),
    xml(
      'properties',
      { xmlns: call.namespace },
      prop('content_type', call.contentType),
      prop('nick', call.nick),
      prop('directives_type', call.directive),
      prop('directives_attrs', attrsJson(call.attrs)),
    ),
    xml('no-store', { xmlns: 'urn:xmpp:hints' }),
    ...(requestReceipt ? [xml('request', { xmlns: 'urn:xmpp:receipts' })] : []),
  )
}
