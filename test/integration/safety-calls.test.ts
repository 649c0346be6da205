// Safety-device calls over XMPP (issue 7) against a real Prosody: the call API (rpc-and-calls.md B) and the
// gateway's own call endpoint reach a helmet simulator (@xmpp/client) exactly as given; receipts, answers,
// refusals and SOS messages from the helmet land in the call log, the event list, the subscriptions and the
// outbox's safety lane.
import type { Element } from 'ltx'
import { parse } from 'ltx'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lane } from '../../src/store/repos/outbox.ts'
import { callApi } from '../helpers/gateway.ts'
import { type Helmet, startHelmet } from '../helpers/helmet.ts'
import { waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { startReceiver } from '../helpers/receiver.ts'
import {
  DEVICES_HOST,
  EXAMPLE_ATTRS,
  exampleStanza,
  GATEWAY_JID,
  HELMET_JID,
  HELMET_USER,
  postCall,
  type SafetySite,
  SILENT_JID,
  startSafetySite,
  waitForXmppState,
} from '../helpers/safety-site.ts'

const OK = { stateCode: '0', errorMessage: null, result: null }

interface Call {
  callId: string
  deviceId: string | null
  chatJid: string
  stanzaId: string
  origin: string
  state: string
  detail: string | null
  caller: Record<string, unknown>
}
interface Event {
  eventId: number
  deviceId: string | null
  kind: string
  directive: string | null
  body: string | null
  callId: string | null
  attrs: Record<string, unknown> | null
}

/** An element as plain data, for comparing what was sent with what arrived. */
function tree(el: Element): unknown {
  const attrs = { ...el.attrs }
  return {
    name: el.name,
    attrs,
    children: el.children.map((c) => (typeof c === 'string' ? c : tree(c))),
  }
}

/**
 * The received stanza minus what the server adds (`from`, the stream's namespace and xml:lang) and what the
 * gateway adds (the XEP-0184 receipt request and the XEP-0334 no-store hint).
 */
function asGiven(el: Element): unknown {
  const copy = parse(el.toString())
  delete copy.attrs.from
  delete copy.attrs['xml:lang']
  if (copy.attrs.xmlns === 'jabber:client') delete copy.attrs.xmlns
  copy.children = copy.children.filter(
    (c) =>
      typeof c === 'string' || !(c.is('request', 'urn:xmpp:receipts') || c.is('no-store', 'urn:xmpp:hints')),
  )
  return tree(copy)
}

describe.skipIf(!requireProgram('prosody'))('safety-device calls over XMPP', () => {
  let site: SafetySite
  let helmet: Helmet

  const calls = async (query = ''): Promise<Call[]> =>
    (
      await callApi<{ calls: Call[] }>(
        site.gw.httpUrl,
        site.session,
        'GET',
        `/sitegate/v1/safety/calls${query}`,
      )
    ).body.calls
  const callOf = async (stanzaId: string): Promise<Call | undefined> =>
    (await calls()).find((c) => c.stanzaId === stanzaId)
  const events = async (query = ''): Promise<Event[]> =>
    (
      await callApi<{ events: Event[] }>(
        site.gw.httpUrl,
        site.session,
        'GET',
        `/sitegate/v1/safety/events${query}`,
      )
    ).body.events
  const waitCallState = (stanzaId: string, state: string) =>
    waitFor(async () => {
      const c = await callOf(stanzaId)
      return c?.state === state ? c : undefined
    }, `call ${stanzaId} ${state}`)

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

  it('the status endpoint shows the gateway online on the site XMPP server', async () => {
    const res = await callApi<Record<string, unknown>>(
      site.gw.httpUrl,
      site.session,
      'GET',
      '/sitegate/v1/safety/status',
    )
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      enabled: true,
      state: 'online',
      service: site.prosody.service,
      domain: 'site.test',
      reconnectAttempts: 0,
    })
    expect(String(res.body.jid)).toMatch(new RegExp(`^${GATEWAY_JID}/`))
  })

  it('a call through the call API reaches the helmet exactly as given, and is logged as sent', async () => {
    const message = exampleStanza({ id: '1663236474522' })
    const answer = await postCall(site, { message })
    expect(answer).toEqual({ status: 200, body: OK })

    const got = await helmet.waitFor((m) => m.attrs.id === '1663236474522')
    // The same element, attributes, text and namespace as the API was given; the server stamped the sender.
    const given = parse(message.replace(/^<\?xml[^>]*\?>/, ''))
    expect(asGiven(got)).toEqual(tree(given))
    expect(got.attrs.from).toMatch(new RegExp(`^${GATEWAY_JID}/`))
    expect(got.getChildText('body')).toBe('智能设备远端呼叫')
    expect(JSON.parse(got.getChild('properties')!.getChildText('directives_attrs')!)).toEqual(EXAMPLE_ATTRS)
    // XEP-0184: the gateway asks for a receipt; XEP-0334: and that the call is not stored for later.
    expect(got.getChild('request', 'urn:xmpp:receipts')).toBeDefined()
    expect(got.getChild('no-store', 'urn:xmpp:hints')).toBeDefined()

    const call = await callOf('1663236474522')
    expect(call).toMatchObject({
      deviceId: site.helmetId,
      chatJid: HELMET_JID,
      origin: 'openapi',
      state: 'sent',
      caller: EXAMPLE_ATTRS,
    })
  })

  it('the helmet receipt marks the call delivered, its accept answers it', async () => {
    const id = 'call-accept-1'
    expect((await postCall(site, { message: exampleStanza({ id }) })).body).toEqual(OK)
    const got = await helmet.waitFor((m) => m.attrs.id === id)
    await helmet.receipt(got)
    await waitCallState(id, 'delivered')
    await helmet.sendDirective(GATEWAY_JID, 'qc-intellect-equip-remote-accept', {
      callId: id,
      deviceId: 'aqm0523',
    })
    const answered = await waitCallState(id, 'answered')
    const reply = (await events('?kind=reply')).find((e) => e.callId === answered.callId)
    expect(reply).toMatchObject({ deviceId: site.helmetId, directive: 'qc-intellect-equip-remote-accept' })

    // Every state change and the reply are in the highest outbox lane, in order.
    const rows = site.gw.gateway.store.outbox
      .head(Lane.safety, 1000)
      .filter((r) => r.payload.includes(answered.callId))
    expect(rows.map((r) => [r.kind, (JSON.parse(r.payload) as { state?: string }).state])).toEqual([
      ['safetyCall', 'sent'],
      ['safetyCall', 'delivered'],
      ['safetyCall', 'answered'],
      ['safetyEvent', undefined],
    ])
  })

  it('a call from the gateway endpoint builds the same stanza; the helmet declines it', async () => {
    const res = await callApi<Call>(site.gw.httpUrl, site.session, 'POST', '/sitegate/v1/safety/calls', {
      deviceId: site.helmetId,
      caller: { userId: 42, userName: 'site-office', userNo: 'SO-1', tenantId: 886 },
    })
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({ deviceId: site.helmetId, origin: 'gateway', state: 'sent' })
    const got = await helmet.waitFor((m) => m.attrs.id === res.body.stanzaId)
    expect(got.attrs.type).toBe('chat')
    expect(got.getChildText('subject')).toBe('qc-intellect-equip-remote-invite')
    const props = got.getChild('properties')!
    expect(props.attrs.xmlns).toBe('http://site.test/xmlns/xmpp/properties')
    expect(props.getChildText('directives_type')).toBe('qc-intellect-equip-remote-invite')
    expect(JSON.parse(props.getChildText('directives_attrs')!)).toEqual({
      userId: 42,
      userName: 'site-office',
      userNo: 'SO-1',
      tenantId: 886,
      deviceId: 'aqm0523',
      isdpDeviceId: 'aqm0523--1',
    })
    // No callId named: the refusal settles the helmet's latest open call.
    await helmet.sendDirective(GATEWAY_JID, 'qc-intellect-equip-remote-refuse', { deviceId: 'aqm0523' })
    const declined = await waitCallState(res.body.stanzaId, 'declined')
    expect(declined.detail).toBe('qc-intellect-equip-remote-refuse')
  })

  it('a call to a helmet that is not connected fails (the server bounces it), and is not queued', async () => {
    const id = 'call-silent-1'
    const message = exampleStanza({ id, to: SILENT_JID, attrs: { ...EXAMPLE_ATTRS, deviceId: 'aqm0524' } })
    expect((await postCall(site, { message })).body).toEqual(OK)
    const failed = await waitCallState(id, 'failed')
    expect(failed.detail).toMatch(/service-unavailable/)
  })

  it('an SOS from the helmet is recorded, pushed to the subscription, put in the safety lane and receipted', async () => {
    const receiver = await startReceiver<Record<string, unknown>>('/safety')
    try {
      const endpoint = receiver.endpoint()
      const sub = await callApi(site.gw.httpUrl, site.session, 'POST', '/iocm/app/sub/v1.2.0/subscriptions', {
        notifyType: 'deviceDataChanged',
        callbackUrl: endpoint.url,
      })
      expect(sub.status).toBe(201)
      await helmet.sendDirective(
        GATEWAY_JID,
        'qc-intellect-equip-sos',
        { deviceId: 'aqm0523', lat: 31.2, lng: 121.5 },
        { id: 'sos-1', body: 'SOS: fall detected', requestReceipt: true },
      )
      // XEP-0184: the gateway returns the receipt once the message is committed.
      const receipt = await helmet.waitFor(
        (m) => m.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'sos-1',
      )
      expect(receipt.attrs.from).toMatch(new RegExp(`^${GATEWAY_JID}/`))
      const sos = (await events('?kind=sos')).find((e) => e.body === 'SOS: fall detected')
      expect(sos).toMatchObject({
        deviceId: site.helmetId,
        directive: 'qc-intellect-equip-sos',
        attrs: { deviceId: 'aqm0523', lat: 31.2, lng: 121.5 },
      })
      const [hit] = await endpoint.received(1)
      expect(hit!.body).toMatchObject({
        notifyType: 'deviceDataChanged',
        deviceId: site.helmetId,
        service: {
          serviceId: 'SafetyMessage',
          serviceType: 'SafetyMessage',
          data: { kind: 'sos', body: 'SOS: fall detected', eventId: sos!.eventId },
        },
      })
      const lane = site.gw.gateway.store.outbox.head(Lane.safety, 1000)
      expect(lane.some((r) => r.kind === 'safetyEvent' && r.payload.includes('SOS: fall detected'))).toBe(
        true,
      )
    } finally {
      await receiver.close()
    }
  })
})
