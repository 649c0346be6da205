// A site for the safety-call suites: a real Prosody with the gateway's account and helmet accounts (on a
// `saasgroupchat.` host, as in rpc-and-calls.md B.5), a real gateway logged in to it, one registered helmet.
import type { GatewayConfig } from '../../src/config/schema.ts'
import type { XmppStatusView } from '../../src/safety/xmpp-client.ts'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  removeDir,
  startGateway,
} from './gateway.ts'
import { HELMET_NS } from './helmet.ts'
import { waitFor } from './mqtt.ts'
import { type ProsodyServer, type ProsodyUser, startProsody } from './prosody.ts'

export const SITE = 'site.test'
export const DEVICES_HOST = 'saasgroupchat.site.test'
export const GATEWAY_USER: ProsodyUser = { user: 'sitegate', host: SITE, password: 'gateway-pass-1' }
export const HELMET_USER: ProsodyUser = { user: '759646', host: DEVICES_HOST, password: 'helmet-pass-1' }
/** Registered as a device but never connected. */
export const SILENT_USER: ProsodyUser = { user: '759647', host: DEVICES_HOST, password: 'helmet-pass-2' }
export const HELMET_JID = `${HELMET_USER.user}@${DEVICES_HOST}`
export const SILENT_JID = `${SILENT_USER.user}@${DEVICES_HOST}`
export const GATEWAY_JID = `${GATEWAY_USER.user}@${SITE}`

export const CALL_API = '/openapi/v1/openSendImMessage/openApiSendImMessage'

export interface SafetySite {
  prosody: ProsodyServer
  gw: RunningGateway
  session: AppSession
  /** deviceId of the registered helmet `aqm0523` (HELMET_JID) and of `aqm0524` (SILENT_JID). */
  helmetId: string
  silentId: string
  close(): Promise<void>
}

export async function startSafetySite(
  opts: { tls?: boolean; config?: (c: GatewayConfig, prosody: ProsodyServer) => void } = {},
): Promise<SafetySite> {
  const prosody = await startProsody({
    hosts: [SITE, DEVICES_HOST],
    users: [GATEWAY_USER, HELMET_USER, SILENT_USER],
    ...(opts.tls ? { tls: true } : {}),
  })
  const gw = await startGateway({
    config: (c) => {
      c.xmpp = {
        service: prosody.service,
        domain: SITE,
        username: GATEWAY_USER.user,
        password: GATEWAY_USER.password,
        propertiesNamespace: HELMET_NS,
        reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
      }
      opts.config?.(c, prosody)
    },
  })
  const session = await login(gw.httpUrl, firstApp(gw.dataDir))
  const register = async (nodeId: string, chatJid: string) => {
    const res = await callApi<{ deviceId: string }>(
      gw.httpUrl,
      session,
      'POST',
      '/sitegate/v1/safety/devices',
      {
        nodeId,
        chatJid,
        isdpDeviceId: `${nodeId}--1`,
        name: `helmet ${nodeId}`,
      },
    )
    if (res.status !== 200)
      throw new Error(`safety device registration: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.deviceId
  }
  const helmetId = await register('aqm0523', HELMET_JID)
  const silentId = await register('aqm0524', SILENT_JID)
  return {
    prosody,
    gw,
    session,
    helmetId,
    silentId,
    async close() {
      await gw.stop()
      removeDir(gw.dataDir)
      await prosody.close()
    },
  }
}

export async function xmppStatus(site: SafetySite): Promise<XmppStatusView> {
  const res = await callApi<XmppStatusView>(
    site.gw.httpUrl,
    site.session,
    'GET',
    '/sitegate/v1/safety/status',
  )
  return res.body
}

export function waitForXmppState(site: SafetySite, state: XmppStatusView['state'], timeoutMs = 15_000) {
  return waitFor(
    async () => ((await xmppStatus(site)).state === state ? true : undefined),
    `XMPP ${state}`,
    timeoutMs,
  )
}

/** B.6 with the example's values, for the registered helmet. */
export const EXAMPLE_ATTRS = {
  userId: 864711,
  userName: 'zhang_sit',
  userNo: 'Zhang123456',
  tenantId: 886,
  deviceId: 'aqm0523',
  isdpDeviceId: 'aqm0523--1',
}

/** The B.5 example stanza as the call API receives it (one line, XML declaration, entities in the JSON). */
export function exampleStanza(
  o: { to?: string; id?: string; attrs?: Record<string, unknown>; body?: string; type?: string } = {},
): string {
  // B.4 layer 3: the JSON is XML text, its quotes written as &quot; (and &, <, > escaped as XML needs).
  const attrs = JSON.stringify(o.attrs ?? EXAMPLE_ATTRS)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
  return (
    '<?xml version="1.0" encoding="UTF-8" ?>' +
    `<message to="${o.to ?? HELMET_JID}" id="${o.id ?? '1663236474522'}" type="${o.type ?? 'chat'}">` +
    '<subject>qc-intellect-equip-remote-invite</subject>' +
    `<body>${o.body ?? '智能设备远端呼叫'}</body>` +
    `<properties xmlns="${HELMET_NS}">` +
    '<content_type type="string">text</content_type>' +
    '<nick type="string" />' +
    '<directives_type type="string">qc-intellect-equip-remote-invite</directives_type>' +
    `<directives_attrs type="string">${attrs}</directives_attrs>` +
    '</properties></message>'
  )
}

export interface CallApiAnswer {
  status: number
  body: { stateCode: string; errorMessage: string | null; result: null }
}

/** POSTs to the call API as B.3 says: `Authorization: bearer {token}`, no app_key (`null`: no header). */
export async function postCall(
  site: SafetySite,
  body: unknown,
  authorization: string | null = `bearer ${site.session.accessToken}`,
): Promise<CallApiAnswer> {
  const res = await fetch(`${site.gw.httpUrl}${CALL_API}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === null ? {} : { authorization }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as CallApiAnswer['body'] }
}
