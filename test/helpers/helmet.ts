// A smart-helmet simulator: an @xmpp/client session as the helmet's chat JID on the test Prosody. It keeps every
// message it receives and can answer calls, send receipts (XEP-0184) and SOS messages.
import { client, type XmppClient, xml } from '@xmpp/client'
import type { Element } from 'ltx'

export interface Helmet {
  jid: string
  received: Element[]
  /** Waits (bounded) for a received message matching `pred`. */
  waitFor(pred: (m: Element) => boolean, timeoutMs?: number): Promise<Element>
  /** Sends the XEP-0184 receipt for a received message. */
  receipt(message: Element): Promise<void>
  /** Sends a chat message in the call stanza's shape (properties extension) to `to`. */
  sendDirective(
    to: string,
    directive: string,
    attrs: Record<string, unknown>,
    opts?: { body?: string; id?: string; requestReceipt?: boolean },
  ): Promise<void>
  send(stanza: Element): Promise<void>
  stop(): Promise<void>
}

export const HELMET_NS = 'http://site.test/xmlns/xmpp/properties'

export async function startHelmet(opts: {
  service: string
  domain: string
  user: string
  password: string
}): Promise<Helmet> {
  const xmpp: XmppClient = client({
    service: opts.service,
    domain: opts.domain,
    username: opts.user,
    password: opts.password,
    resource: 'helmet',
  })
  const received: Element[] = []
  const waiters: { pred: (m: Element) => boolean; resolve: (m: Element) => void }[] = []
  xmpp.on('error', () => {})
  xmpp.on('stanza', (stanza) => {
    if (!stanza.is('message')) return
    received.push(stanza)
    for (const w of [...waiters]) {
      if (w.pred(stanza)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(stanza)
      }
    }
  })
  await xmpp.start()
  // Available, so that messages to the bare JID reach this resource.
  await xmpp.send(xml('presence'))
  const helmet: Helmet = {
    jid: `${opts.user}@${opts.domain}`,
    received,
    waitFor(pred, timeoutMs = 10_000) {
      const hit = received.find(pred)
      if (hit) return Promise.resolve(hit)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('helmet: no matching message')), timeoutMs)
        waiters.push({
          pred,
          resolve: (m) => {
            clearTimeout(timer)
            resolve(m)
          },
        })
      })
    },
    receipt(message) {
      return xmpp.send(
        xml(
          'message',
          { to: message.attrs.from, id: `r-${Date.now()}` },
          xml('received', { xmlns: 'urn:xmpp:receipts', id: message.attrs.id }),
        ),
      )
    },
    sendDirective(to, directive, attrs, o = {}) {
      return xmpp.send(
        xml(
          'message',
          { to, type: 'chat', id: o.id ?? `m-${Date.now()}` },
          xml('subject', {}, directive),
          xml('body', {}, o.body ?? directive),
          xml(
            'properties',
            { xmlns: HELMET_NS },
            xml('content_type', { type: 'string' }, 'text'),
            xml('nick', { type: 'string' }),
            xml('directives_type', { type: 'string' }, directive),
            xml('directives_attrs', { type: 'string' }, JSON.stringify(attrs)),
          ),
          ...(o.requestReceipt ? [xml('request', { xmlns: 'urn:xmpp:receipts' })] : []),
        ),
      )
    },
    send(stanza) {
      return xmpp.send(stanza)
    },
    async stop() {
      xmpp.reconnect.stop()
      await xmpp.stop().catch(() => {})
    },
  }
  return helmet
}
