// The call stanza of rpc-and-calls.md B.5: what the call API accepts, and the stanza rebuilt from it.
import { parse } from 'ltx'
import { describe, expect, it } from 'vitest'
import { buildCallStanza, parseCallStanza, StanzaError } from '../../src/safety/stanza.ts'
import { readOneElement, XmlError } from '../../src/safety/xml-reader.ts'

const NS = 'http://isdp-saas-sit.test.huawei.com/xmlns/xmpp/properties'
const ATTRS =
  '{&quot;userId&quot;:864711,&quot;userName&quot;:&quot;zhang_sit&quot;,&quot;userNo&quot;:&quot;Zhang123456&quot;,' +
  '&quot;tenantId&quot;:886,&quot;deviceId&quot;:&quot;aqm0523&quot;,&quot;isdpDeviceId&quot;:&quot;aqm0523--1&quot;}'

/** The B.5 source example, indented as the digest shows it. */
const EXAMPLE = `<?xml version="1.0" encoding="UTF-8" ?>
<message to="759646@saasgroupchat.isdp-saas-sit.test.huawei.com" id="1663236474522" type="chat">
  <subject>qc-intellect-equip-remote-invite</subject>
  <body>智能设备远端呼叫</body>
  <properties xmlns="${NS}">
    <content_type type="string">text</content_type>
    <nick type="string" />
    <directives_type type="string">qc-intellect-equip-remote-invite</directives_type>
    <directives_attrs type="string">${ATTRS}</directives_attrs>
  </properties>
</message>`

const FIELDS = {
  to: '759646@saasgroupchat.isdp-saas-sit.test.huawei.com',
  id: '1663236474522',
  subject: 'qc-intellect-equip-remote-invite',
  body: '智能设备远端呼叫',
  namespace: NS,
  contentType: 'text',
  nick: '',
  directive: 'qc-intellect-equip-remote-invite',
  attrs: {
    userId: 864711,
    userName: 'zhang_sit',
    userNo: 'Zhang123456',
    tenantId: 886,
    deviceId: 'aqm0523',
    isdpDeviceId: 'aqm0523--1',
  },
}

const refusal = (text: string): string => {
  try {
    parseCallStanza(text)
  } catch (err) {
    expect(err).toBeInstanceOf(StanzaError)
    return (err as Error).message
  }
  throw new Error('accepted')
}

describe('parseCallStanza', () => {
  it('reads the B.5 example, indented and with its XML declaration, into its fields', () => {
    expect(parseCallStanza(EXAMPLE)).toEqual(FIELDS)
  })

  it('accepts the stream namespace written out, and drops comments', () => {
    const text = EXAMPLE.replace('type="chat">', 'type="chat" xmlns="jabber:client"><!-- a note -->')
    expect(parseCallStanza(text)).toEqual(FIELDS)
  })

  it('holds the site namespace to the configured one when there is one', () => {
    expect(parseCallStanza(EXAMPLE, { namespace: NS }).namespace).toBe(NS)
    expect(() => parseCallStanza(EXAMPLE, { namespace: 'http://other/xmlns/xmpp/properties' })).toThrow(
      /must be http:\/\/other\/xmlns\/xmpp\/properties on this site/,
    )
  })

  it.each([
    [
      'a prefixed element',
      EXAMPLE.replace('<body>智能设备远端呼叫</body>', '<x:body>t</x:body>'),
      /element name "x:body"/,
    ],
    ['a control character', EXAMPLE.replace('远端', '\u0007'), /characters XML does not allow/],
    ['an illegal character reference', EXAMPLE.replace('远端', '&#1;'), /Illegal XML character/],
    [
      'markup in the nick',
      EXAMPLE.replace('<nick type="string" />', '<nick type="string">&lt;b&gt;</nick>'),
      /nick contains markup/,
    ],
    [
      'a nick attribute other than type',
      EXAMPLE.replace('<nick type="string" />', '<nick type="int"/>'),
      /nick\/@type must be "string"/,
    ],
    ['a body of 1025 characters', EXAMPLE.replace('智能设备远端呼叫', 'x'.repeat(1025)), /longer than 1024/],
    ['an empty body', EXAMPLE.replace('智能设备远端呼叫', ''), /body is empty/],
    ['a negative userId', EXAMPLE.replace('864711', '-1'), /userId must be a non-negative integer/],
    ['a fractional tenantId', EXAMPLE.replace(':886,', ':8.5,'), /tenantId must be a non-negative integer/],
    ['a JSON array', EXAMPLE.replace(ATTRS, '[1]'), /must be a JSON object/],
    ['an id with spaces', EXAMPLE.replace('1663236474522', 'a b'), /id must be/],
    ['a second body', EXAMPLE.replace('</body>', '</body><body>again</body>'), /<body> twice/],
    ['text beside the elements', EXAMPLE.replace('<subject>', 'hello<subject>'), /must not contain text/],
    ['text after the element', `${EXAMPLE}trailing`, /text after the element/],
  ])('refuses %s', (_what, text, message) => {
    expect(refusal(text)).toMatch(message)
  })
})

describe('readOneElement', () => {
  it('refuses deep nesting and non-XML', () => {
    expect(() => readOneElement(`${'<a>'.repeat(10)}${'</a>'.repeat(10)}`)).toThrow(XmlError)
    expect(() => readOneElement('')).toThrow(/no element found/)
    expect(() => readOneElement('<a><b></a></b>')).toThrow(/does not match/)
  })
})

describe('buildCallStanza', () => {
  it('rebuilds the stanza from the fields: same content, no declaration, hints added', () => {
    const el = buildCallStanza(FIELDS, true)
    const text = el.toString()
    expect(text.startsWith('<message ')).toBe(true)
    // Parsing what the gateway sends gives back the same fields.
    const again = text.replace(/<no-store[^>]*\/>|<request[^>]*\/>/g, '')
    expect(parseCallStanza(again)).toEqual(FIELDS)
    const parsed = parse(text)
    expect(parsed.getChild('request', 'urn:xmpp:receipts')).toBeDefined()
    expect(parsed.getChild('no-store', 'urn:xmpp:hints')).toBeDefined()
    // directives_attrs is JSON text in the B.6 order, as in the example.
    expect(parsed.getChild('properties')!.getChildText('directives_attrs')).toBe(
      ATTRS.replaceAll('&quot;', '"'),
    )
    expect(buildCallStanza(FIELDS, false).getChild('request', 'urn:xmpp:receipts')).toBeUndefined()
  })
})
