// The call API refuses what it must not forward (issue 7 items 2 and 6): each bad request gets a non-"0"
// stateCode with a clear errorMessage, and nothing reaches the helmet — checked by sending a good call after them
// (one XMPP session delivers in order, so a refused one would have arrived first). Also what a helmet sends that
// the gateway cannot take.
import { xml } from '@xmpp/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callApi } from '../helpers/gateway.ts'
import { type Helmet, startHelmet } from '../helpers/helmet.ts'
import { waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import {
  CALL_API,
  DEVICES_HOST,
  EXAMPLE_ATTRS,
  exampleStanza,
  GATEWAY_JID,
  HELMET_JID,
  HELMET_USER,
  postCall,
  type SafetySite,
  startSafetySite,
  waitForXmppState,
} from '../helpers/safety-site.ts'

const NS = 'http://site.test/xmlns/xmpp/properties'
/** A well-formed call with one part replaced, for cases the example template cannot express. */
const withParts = (p: { attrs?: string; props?: string; children?: string; open?: string }) =>
  `${p.open ?? `<message to="${HELMET_JID}" id="bad-x" type="chat">`}` +
  (p.children ??
    '<subject>qc-intellect-equip-remote-invite</subject><body>call</body>' +
      `<properties xmlns="${NS}">` +
      (p.props ??
        '<content_type type="string">text</content_type><nick type="string"/>' +
          '<directives_type type="string">qc-intellect-equip-remote-invite</directives_type>' +
          `<directives_attrs type="string">${p.attrs ?? JSON.stringify(EXAMPLE_ATTRS).replaceAll('"', '&quot;')}</directives_attrs>`) +
      '</properties>') +
  '</message>'

/** [case, message string, stateCode, errorMessage pattern] */
const BAD: [string, string, string, RegExp][] = [
  ['not XML', 'please call helmet aqm0523', '1002', /not valid XML/],
  ['truncated XML', exampleStanza({ id: 'bad-1' }).slice(0, -12), '1002', /not valid XML/],
  [
    'two elements',
    `${exampleStanza({ id: 'bad-2' })}${exampleStanza({ id: 'bad-3' }).replace(/^<\?xml[^>]*\?>/, '')}`,
    '1002',
    /more than one element/,
  ],
  [
    'mismatched end tag',
    exampleStanza({ id: 'bad-4' }).replace('</subject>', '</body>'),
    '1002',
    /does not match/,
  ],
  ['wrong element', `<presence to="${HELMET_JID}" id="bad-5" type="chat"/>`, '1002', /must be <message>/],
  ['type groupchat', exampleStanza({ id: 'bad-6', type: 'groupchat' }), '1002', /type must be "chat"/],
  ['no type', exampleStanza({ id: 'bad-7' }).replace(' type="chat"', ''), '1002', /type is missing/],
  ['no id', exampleStanza({ id: 'bad-8' }).replace(' id="bad-8"', ''), '1002', /id is missing/],
  ['to with a resource', exampleStanza({ id: 'bad-9', to: `${HELMET_JID}/helmet` }), '1002', /bare JID/],
  [
    'a from attribute',
    exampleStanza({ id: 'bad-10' }).replace('<message ', `<message from="${GATEWAY_JID}" `),
    '1002',
    /attribute from/,
  ],
  [
    'missing properties',
    withParts({
      open: `<message to="${HELMET_JID}" id="bad-11" type="chat">`,
      children: '<subject>qc-intellect-equip-remote-invite</subject><body>call</body>',
    }),
    '1002',
    /properties is missing/,
  ],
  [
    'missing directives_attrs',
    withParts({
      props:
        '<content_type type="string">text</content_type><nick type="string"/><directives_type type="string">qc-intellect-equip-remote-invite</directives_type>',
    }),
    '1002',
    /directives_attrs is missing/,
  ],
  [
    'an extra element',
    withParts({
      props:
        '<content_type type="string">text</content_type><nick type="string"/><directives_type type="string">qc-intellect-equip-remote-invite</directives_type><directives_attrs type="string">{}</directives_attrs><x type="string"/>',
    }),
    '1002',
    /must not contain <x>/,
  ],
  [
    'wrong properties namespace',
    exampleStanza({ id: 'bad-12' }).replace(NS, 'http://evil.test/xmlns/xmpp/properties'),
    '1002',
    /xmlns must be/,
  ],
  [
    'script in the body (escaped)',
    exampleStanza({ id: 'bad-13', body: '&lt;script&gt;alert(1)&lt;/script&gt;' }),
    '1002',
    /body contains markup/,
  ],
  [
    'script element in the body',
    exampleStanza({ id: 'bad-14', body: '<script>alert(1)</script>' }),
    '1002',
    /body must hold text only/,
  ],
  [
    'script in directives_attrs',
    exampleStanza({ id: 'bad-15', attrs: { ...EXAMPLE_ATTRS, userName: '<img src=x onerror=alert(1)>' } }),
    '1002',
    /userName contains markup/,
  ],
  ['directives_attrs not JSON', withParts({ attrs: '{userId: 1}' }), '1002', /not JSON/],
  [
    'directives_attrs with a string userId',
    exampleStanza({ id: 'bad-16', attrs: { ...EXAMPLE_ATTRS, userId: '864711' } }),
    '1002',
    /userId must be a non-negative integer/,
  ],
  [
    'directives_attrs with an unknown field',
    exampleStanza({ id: 'bad-17', attrs: { ...EXAMPLE_ATTRS, admin: true } }),
    '1002',
    /unknown field admin/,
  ],
  [
    'a DTD with an entity',
    `<!DOCTYPE m [<!ENTITY x "y">]>${exampleStanza({ id: 'bad-18' }).replace(/^<\?xml[^>]*\?>/, '')}`,
    '1002',
    /DTD/,
  ],
  ['an unknown entity', exampleStanza({ id: 'bad-19', body: '&nbsp;' }), '1002', /not valid XML/],
  [
    'subject unlike the directive',
    exampleStanza({ id: 'bad-20' }).replace('<subject>qc-intellect-equip-remote-invite', '<subject>other'),
    '1002',
    /subject must equal/,
  ],
  [
    'unknown device',
    exampleStanza({ id: 'bad-21', to: `999999@${DEVICES_HOST}` }),
    '1003',
    /999999@saasgroupchat.site.test is not a registered safety device/,
  ],
  [
    'deviceId of another device',
    exampleStanza({ id: 'bad-22', attrs: { ...EXAMPLE_ATTRS, deviceId: 'aqm9999' } }),
    '1004',
    /aqm9999 is not the device/,
  ],
]

describe.skipIf(!requireProgram('prosody'))('safety call API refusals', () => {
  let site: SafetySite
  let helmet: Helmet

  beforeAll(async () => {
    site = await startSafetySite()
    helmet = await startHelmet({
      service: site.prosody.service,
      domain: DEVICES_HOST,
      user: HELMET_USER.user,
      password: HELMET_USER.password,
    })
    await waitForXmppState(site, 'online')
  }, 60_000)
  afterAll(async () => {
    await helmet?.stop()
    await site?.close()
  })

  it('refuses every bad stanza with a clear error, and none of them reaches the helmet', async () => {
    for (const [what, message, stateCode, error] of BAD) {
      const answer = await postCall(site, { message })
      expect(answer.status, what).toBe(200)
      expect(answer.body.stateCode, what).toBe(stateCode)
      expect(answer.body.errorMessage, what).toMatch(error)
      expect(answer.body.result, what).toBeNull()
    }
    // The marker call goes through the same session after all of them.
    expect((await postCall(site, { message: exampleStanza({ id: 'marker-1' }) })).body.stateCode).toBe('0')
    await helmet.waitFor((m) => m.attrs.id === 'marker-1')
    expect(helmet.received.map((m) => m.attrs.id)).toEqual(['marker-1'])
    // Only the marker is in the call log: a refused call is never logged as placed.
    const log = await callApi<{ calls: { stanzaId: string }[] }>(
      site.gw.httpUrl,
      site.session,
      'GET',
      '/sitegate/v1/safety/calls',
    )
    expect(log.body.calls.map((c) => c.stanzaId)).toEqual(['marker-1'])
  })

  it('refuses requests that are not the API’s shape, or not authorized, in the same envelope', async () => {
    const token = `bearer ${site.session.accessToken}`
    const cases: [string, unknown, string | null, number, string, RegExp][] = [
      ['body not JSON', '{"message": ', token, 200, '1001', /invalid request/],
      ['no message field', { msg: exampleStanza() }, token, 200, '1001', /message/],
      ['message not a string', { message: 42 }, token, 200, '1001', /message/],
      ['no Authorization', { message: exampleStanza() }, null, 401, '401', /bearer/],
      ['a wrong token', { message: exampleStanza() }, 'bearer not-a-token', 401, '401', /bearer/],
      ['Basic instead of bearer', { message: exampleStanza() }, 'Basic dXNlcjpwYXNz', 401, '401', /bearer/],
    ]
    for (const [what, body, authorization, status, stateCode, error] of cases) {
      const answer = await postCall(site, body, authorization)
      expect(answer.status, what).toBe(status)
      expect(answer.body.stateCode, what).toBe(stateCode)
      expect(answer.body.errorMessage, what).toMatch(error)
    }
    // `Bearer` in any case is accepted (B.3 gateway note).
    const ok = await postCall(
      site,
      { message: exampleStanza({ id: 'marker-2' }) },
      `Bearer ${site.session.accessToken}`,
    )
    expect(ok.body.stateCode).toBe('0')
    await helmet.waitFor((m) => m.attrs.id === 'marker-2')
    expect(helmet.received.map((m) => m.attrs.id)).toEqual(['marker-1', 'marker-2'])
    // The route is in the OpenAPI document.
    const doc = (await (await fetch(`${site.gw.httpUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>
    }
    expect(doc.paths).toHaveProperty([CALL_API])
  })

  it('answers a helmet message it cannot take with an XMPP error, and records nothing', async () => {
    const before = await callApi<{ totalCount: number }>(
      site.gw.httpUrl,
      site.session,
      'GET',
      '/sitegate/v1/safety/events',
    )
    await helmet.sendDirective(
      GATEWAY_JID,
      'qc-intellect-equip-sos',
      {},
      { id: 'too-long', body: 'x'.repeat(5000) },
    )
    const error = await helmet.waitFor((m) => m.attrs.type === 'error' && m.attrs.id === 'too-long')
    expect(error.getChild('error')?.getChild('not-acceptable')).toBeDefined()
    expect(error.getChild('error')?.getChildText('text')).toMatch(/body longer than 4096/)
    // A chat-state notification (no body, no properties) is not a device message; a status report is.
    await helmet.send(
      xml(
        'message',
        { to: GATEWAY_JID, type: 'chat' },
        xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    )
    await helmet.sendDirective(GATEWAY_JID, 'qc-intellect-equip-status', { battery: 80 }, { id: 'status-1' })
    await waitFor(async () => {
      const res = await callApi<{ totalCount: number; events: { kind: string }[] }>(
        site.gw.httpUrl,
        site.session,
        'GET',
        '/sitegate/v1/safety/events',
      )
      return res.body.totalCount === before.body.totalCount + 1 && res.body.events[0]?.kind === 'status'
    }, 'the status message, alone')
  })
})
