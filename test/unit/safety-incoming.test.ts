// What the gateway reads in stanzas from safety devices (src/safety/incoming.ts).
import { parse } from 'ltx'
import { describe, expect, it } from 'vitest'
import { readIncoming } from '../../src/safety/incoming.ts'

const FROM = '759646@saasgroupchat.site.test/helmet'
const NS = 'http://site.test/xmlns/xmpp/properties'
const props = (directive: string, attrs: string) =>
  `<properties xmlns="${NS}"><directives_type type="string">${directive}</directives_type>` +
  `<directives_attrs type="string">${attrs}</directives_attrs></properties>`

const read = (xml: string) => readIncoming(parse(xml))

describe('readIncoming', () => {
  it('reads a XEP-0184 receipt', () => {
    expect(
      read(`<message from="${FROM}" id="r1"><received xmlns="urn:xmpp:receipts" id="call-1"/></message>`),
    ).toEqual({
      type: 'receipt',
      from: '759646@saasgroupchat.site.test',
      stanzaId: 'call-1',
    })
  })

  it('reads a bounced call as an error with its condition', () => {
    const xml =
      `<message from="759646@saasgroupchat.site.test" id="call-2" type="error"><error type="cancel">` +
      '<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>'
    expect(read(xml)).toEqual({
      type: 'error',
      from: '759646@saasgroupchat.site.test',
      stanzaId: 'call-2',
      detail: 'service-unavailable',
    })
  })

  it('reads an accept naming its call, an SOS, a status report and a plain message', () => {
    const accept = read(
      `<message from="${FROM}" type="chat" id="m1">${props('qc-intellect-equip-remote-accept', '{"callId":"call-1"}')}</message>`,
    )
    expect(accept).toMatchObject({
      type: 'message',
      message: { kind: 'reply', reply: 'answered', replyTo: 'call-1' },
    })
    const sos = read(
      `<message from="${FROM}" type="chat" id="m2"><body>help</body>${props('qc-intellect-equip-sos', '{"lat":1}')}<request xmlns="urn:xmpp:receipts"/></message>`,
    )
    expect(sos).toMatchObject({
      type: 'message',
      receiptFor: 'm2',
      message: { kind: 'sos', body: 'help', attrs: { lat: 1 }, reply: null },
    })
    expect(
      read(`<message from="${FROM}" type="chat">${props('qc-intellect-equip-status', '{}')}</message>`),
    ).toMatchObject({
      message: { kind: 'status' },
    })
    expect(read(`<message from="${FROM}"><body>hello</body></message>`)).toMatchObject({
      type: 'message',
      message: { kind: 'message', body: 'hello', directive: null, attrs: null },
    })
  })

  it('ignores what is not a device message, and refuses what it cannot take', () => {
    expect(read(`<presence from="${FROM}"/>`)).toMatchObject({ type: 'ignored' })
    expect(read(`<message from="${FROM}" type="groupchat"><body>x</body></message>`)).toMatchObject({
      type: 'ignored',
    })
    expect(
      read(
        `<message from="${FROM}" type="chat"><active xmlns="http://jabber.org/protocol/chatstates"/></message>`,
      ),
    ).toMatchObject({ type: 'ignored' })
    expect(read('<message><body>no sender</body></message>')).toMatchObject({ type: 'ignored' })
    expect(
      read(`<message from="${FROM}" type="chat">${props('qc-sos', 'not json')}</message>`),
    ).toMatchObject({
      type: 'invalid',
      reason: 'directives_attrs is not a JSON object',
    })
    expect(
      read(`<message from="${FROM}" type="chat">${props('bad directive!', '{}')}</message>`),
    ).toMatchObject({
      type: 'invalid',
    })
  })
})
