// What a stanza from the XMPP server means for the call log (issue 7 item 4). The seeds do not document what
// devices send (rpc-and-calls.md B.10 note 7); sitegate reads:
//   - `<message type="error" id>`: the server or device refused the stanza with that id → the call failed;
//   - `<received xmlns="urn:xmpp:receipts" id>` (XEP-0184): the call with that id was delivered;
//   - a chat message with a `body` and/or a `properties` extension in the call's own shape (B.5): a device
//     message, whose `directives_type` says what it is — a reply to a call (REPLY_DIRECTIVES), an SOS
//     (`…sos…`), a status report (`…status…`) or any other message. A reply names the call's stanza id in
//     `directives_attrs.callId` (or `.id`); without one it answers the device's latest open call.
import type { Element } from 'ltx'
import { PROPERTIES_NS_PATTERN } from './config-schema.ts'
import { bareOf } from './jid.ts'
import type { EventKind } from './safety-repo.ts'
import { DIRECTIVE, STANZA_ID } from './stanza.ts'

const NS_RECEIPTS = 'urn:xmpp:receipts'
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
const PROPERTIES_NS = new RegExp(PROPERTIES_NS_PATTERN)

/** Directives by which a device answers a remote invite (B.5 names only the invite itself). */
export const REPLY_DIRECTIVES: Readonly<Record<string, 'answered' | 'declined'>> = {
  'qc-intellect-equip-remote-accept': 'answered',
  'qc-intellect-equip-remote-answer': 'answered',
  'qc-intellect-equip-remote-refuse': 'declined',
  'qc-intellect-equip-remote-reject': 'declined',
  'qc-intellect-equip-remote-decline': 'declined',
  'qc-intellect-equip-remote-busy': 'declined',
}

export const INCOMING_LIMITS = { body: 4096, subject: 256, attrs: 4096 } as const

export interface DeviceMessage {
  chatJid: string
  kind: EventKind
  directive: string | null
  subject: string | null
  body: string | null
  attrs: Record<string, unknown> | null
  stanzaId: string | null
  /** For a reply: how the call ended, and the stanza id of the call it names (if it names one). */
  reply: 'answered' | 'declined' | null
  replyTo: string | null
}

export type Incoming =
  | { type: 'receipt'; from: string; stanzaId: string }
  | { type: 'error'; from: string; stanzaId: string; detail: string }
  | { type: 'message'; from: string; fullFrom: string; message: DeviceMessage; receiptFor: string | null }
  | { type: 'invalid'; from: string; fullFrom: string; id: string | null; reason: string }
  | { type: 'ignored'; reason: string }

function errorDetail(stanza: Element): string {
  const error = stanza.getChild('error')
  if (!error) return 'error'
  const condition = error.getChildElements().find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')
  const text = error.getChildText('text', NS_STANZAS)
  return [condition?.name ?? 'error', text].filter(Boolean).join(': ')
}

function kindOf(directive: string | null, reply: DeviceMessage['reply']): EventKind {
  if (reply) return 'reply'
  if (directive && /sos/i.test(directive)) return 'sos'
  if (directive && /status/i.test(directive)) return 'status'
  return 'message'
}

/** Reads a stanza routed to the gateway. Pure: the caller decides what to do with the result. */
export function readIncoming(stanza: Element): Incoming {
  if (stanza.name !== 'message') return { type: 'ignored', reason: `<${stanza.name}>` }
  const fullFrom = stanza.attrs.from
  const from = bareOf(fullFrom)
  if (!from || fullFrom === undefined) return { type: 'ignored', reason: 'no sender JID' }
  const id = stanza.attrs.id
  const type = stanza.attrs.type ?? 'normal'
  if (type === 'error') {
    if (id === undefined) return { type: 'ignored', reason: 'error without id' }
    return { type: 'error', from, stanzaId: id, detail: errorDetail(stanza) }
  }
  if (type !== 'chat' && type !== 'normal') return { type: 'ignored', reason: `type ${type}` }
  const receipt = stanza.getChild('received', NS_RECEIPTS)
  const body = stanza.getChild('body')
  const properties = stanza.getChildren('properties').find((p) => PROPERTIES_NS.test(p.attrs.xmlns ?? ''))
  if (receipt && !body && !properties) {
    const ref = receipt.attrs.id
    if (ref === undefined) return { type: 'ignored', reason: 'receipt without id' }
    return { type: 'receipt', from, stanzaId: ref }
  }
  if (!body && !properties) return { type: 'ignored', reason: 'no body or properties (chat state?)' }
  const invalid = (reason: string): Incoming => ({ type: 'invalid', from, fullFrom, id: id ?? null, reason })

  const bodyText = body ? body.getText() : null
  if (bodyText !== null && bodyText.length > INCOMING_LIMITS.body) {
    return invalid(`body longer than ${INCOMING_LIMITS.body} characters`)
  }
  const subject = stanza.getChildText('subject')
  if (subject !== null && subject.length > INCOMING_LIMITS.subject) {
    return invalid(`subject longer than ${INCOMING_LIMITS.subject} characters`)
  }
  let directive: string | null = null
  let attrs: Record<string, unknown> | null = null
  if (properties) {
    directive = properties.getChildText('directives_type')
    if (directive !== null && !DIRECTIVE.test(directive)) {
      return invalid('directives_type must be 1-128 letters, digits or _ . -')
    }
    const attrsText = properties.getChildText('directives_attrs')
    if (attrsText !== null && attrsText.trim() !== '') {
      if (attrsText.length > INCOMING_LIMITS.attrs) {
        return invalid(`directives_attrs longer than ${INCOMING_LIMITS.attrs} characters`)
      }
      try {
        const parsed = JSON.parse(attrsText) as unknown
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error()
        attrs = parsed as Record<string, unknown>
      } catch {
        return invalid('directives_attrs is not a JSON object')
      }
    }
  }
  const reply = directive ? (REPLY_DIRECTIVES[directive] ?? null) : null
  const named = attrs?.callId ?? attrs?.id
  const replyTo = typeof named === 'string' && STANZA_ID.test(named) ? named : null
  // XEP-0184 §5: a receipt is owed for a message with a request and an id.
  const receiptFor = id !== undefined && stanza.getChild('request', NS_RECEIPTS) ? id : null
  return {
    type: 'message',
    from,
    fullFrom,
    receiptFor,
    message: {
      chatJid: from,
      kind: kindOf(directive, reply),
      directive,
      subject,
      body: bodyText,
      attrs,
      stanzaId: id ?? null,
      reply,
      replyTo,
    },
  }
}
