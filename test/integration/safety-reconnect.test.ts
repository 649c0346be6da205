// Failure behaviour of safety calls (issue 7 items 1 and 5): with the XMPP server down a call fails at once
// with a clear error and is never queued; the gateway reconnects by itself when the server is back (Prosody
// restarted on the same port with the same users) and calls work again. A gateway whose XMPP server is
// unreachable, or that has no `xmpp:` section, still starts and serves the LAN.
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callApi, firstApp, login, removeDir, startGateway } from '../helpers/gateway.ts'
import { type Helmet, startHelmet } from '../helpers/helmet.ts'
import { waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import {
  DEVICES_HOST,
  exampleStanza,
  GATEWAY_USER,
  HELMET_USER,
  postCall,
  type SafetySite,
  SITE,
  startSafetySite,
  waitForXmppState,
  xmppStatus,
} from '../helpers/safety-site.ts'

const startHelmetOf = (site: SafetySite) =>
  startHelmet({
    service: site.prosody.service,
    domain: DEVICES_HOST,
    user: HELMET_USER.user,
    password: HELMET_USER.password,
  })

describe.skipIf(!requireProgram('prosody'))(
  'safety calls when the XMPP server goes away and comes back',
  () => {
    let site: SafetySite
    let helmet: Helmet | undefined

    beforeAll(async () => {
      // Calls nobody answers end after 1 s here.
      site = await startSafetySite({ config: (c) => Object.assign(c.xmpp!, { callTimeoutMs: 1000 }) })
      helmet = await startHelmetOf(site)
      await waitForXmppState(site, 'online')
    }, 60_000)
    afterAll(async () => {
      await helmet?.stop()
      await site?.close()
    })

    it('fails a call at once while the server is down, and calls again once it is back', async () => {
      expect((await postCall(site, { message: exampleStanza({ id: 'before-1' }) })).body.stateCode).toBe('0')
      await helmet!.waitFor((m) => m.attrs.id === 'before-1')
      await helmet!.stop()
      helmet = undefined
      const onlineSince = (await xmppStatus(site)).since

      await site.prosody.stop()
      await waitFor(
        async () => ((await xmppStatus(site)).state !== 'online' ? true : undefined),
        'XMPP not online',
      )

      // The call API: a clear error, nothing sent, the attempt logged as failed (not waiting to be sent).
      const down = await postCall(site, { message: exampleStanza({ id: 'while-down-1' }) })
      expect(down.status).toBe(200)
      expect(down.body.stateCode).toBe('1006')
      expect(down.body.errorMessage).toMatch(/XMPP server xmpp:\/\/127\.0\.0\.1:\d+ is not connected/)
      // The gateway's own endpoint: 503 109001.
      const rest = await callApi(site.gw.httpUrl, site.session, 'POST', '/sitegate/v1/safety/calls', {
        deviceId: site.helmetId,
        caller: { userId: 1, userName: 'office', userNo: 'O-1', tenantId: 886 },
      })
      expect(rest).toEqual({
        status: 503,
        body: { error_code: '109001', error_desc: 'The XMPP server is not connected.' },
      })
      const log = await callApi<{
        calls: { stanzaId: string; state: string; detail: string; origin: string }[]
      }>(site.gw.httpUrl, site.session, 'GET', '/sitegate/v1/safety/calls?state=failed')
      // Both attempts are logged as failed at once, with the reason (the gateway's is the latest).
      const refused = log.body.calls.filter((c) => c.detail.includes('not connected'))
      expect(refused.map((c) => [c.origin, c.state])).toEqual([
        ['gateway', 'failed'],
        ['openapi', 'failed'],
      ])
      expect(refused[1]!.stanzaId).toBe('while-down-1')
      const status = await xmppStatus(site)
      expect(status.lastError?.message).toBeTruthy()

      // Back on the same port with the same accounts: the gateway reconnects on its own.
      await site.prosody.start()
      await waitForXmppState(site, 'online')
      const back = await xmppStatus(site)
      expect(back.since).toBeGreaterThan(onlineSince)
      expect(back.reconnectAttempts).toBe(0)
      helmet = await startHelmetOf(site)
      expect((await postCall(site, { message: exampleStanza({ id: 'after-1' }) })).body.stateCode).toBe('0')
      await helmet.waitFor((m) => m.attrs.id === 'after-1')
      // The call refused while the server was down never rings.
      expect(helmet.received.map((m) => m.attrs.id)).toEqual(['after-1'])
    })

    it('a call nobody answers ends as failed: no answer', async () => {
      expect((await postCall(site, { message: exampleStanza({ id: 'unanswered-1' }) })).body.stateCode).toBe(
        '0',
      )
      await helmet!.waitFor((m) => m.attrs.id === 'unanswered-1')
      const ended = await waitFor(async () => {
        const res = await callApi<{ calls: { stanzaId: string; state: string; detail: string | null }[] }>(
          site.gw.httpUrl,
          site.session,
          'GET',
          '/sitegate/v1/safety/calls',
        )
        const call = res.body.calls.find((c) => c.stanzaId === 'unanswered-1')
        return call?.state === 'failed' ? call : undefined
      }, 'the unanswered call to end')
      expect(ended.detail).toBe('no answer within 1 s')
    })

    it('a refused login shows in the status and is tried again with backoff', async () => {
      const gw = await startGateway({
        config: (c) => {
          c.xmpp = {
            service: site.prosody.service,
            domain: SITE,
            username: GATEWAY_USER.user,
            password: 'not-the-password',
            reconnect: { initialDelayMs: 100, maxDelayMs: 200 },
          }
        },
      })
      try {
        const session = await login(gw.httpUrl, firstApp(gw.dataDir))
        const status = await waitFor(async () => {
          const s = await callApi<{
            state: string
            lastError: { message: string } | null
            reconnectAttempts: number
          }>(gw.httpUrl, session, 'GET', '/sitegate/v1/safety/status')
          return s.body.reconnectAttempts >= 2 ? s.body : undefined
        }, 'login attempts')
        expect(status.state).not.toBe('online')
        expect(status.lastError?.message).toMatch(/not-authorized/)
      } finally {
        await gw.stop()
        removeDir(gw.dataDir)
      }
    })
  },
)

describe('safety calls without an XMPP server', () => {
  it('a gateway with no xmpp section starts, says XMPP is off, and refuses calls clearly', async () => {
    const gw = await startGateway()
    try {
      const session = await login(gw.httpUrl, firstApp(gw.dataDir))
      const status = await callApi(gw.httpUrl, session, 'GET', '/sitegate/v1/safety/status')
      expect(status.body).toMatchObject({ enabled: false, state: 'disabled', lastError: null })
      const res = await fetch(`${gw.httpUrl}/openapi/v1/openSendImMessage/openApiSendImMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `bearer ${session.accessToken}` },
        body: JSON.stringify({ message: exampleStanza({ to: '1@devices.test' }) }),
      })
      // Not configured: no device or JID can be called.
      expect(await res.json()).toEqual({
        stateCode: '1003',
        errorMessage: '1@devices.test is not a registered safety device',
        result: null,
      })
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })

  it('a gateway whose XMPP server is unreachable starts all the same and shows why it is offline', async () => {
    // A port nothing listens on.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port
        s.close(() => resolve(p))
      })
    })
    const gw = await startGateway({
      config: (c) => {
        c.xmpp = {
          service: `xmpp://127.0.0.1:${port}`,
          domain: 'site.test',
          username: 'sitegate',
          password: 'x',
          allowedJids: ['*@devices.test'],
          reconnect: { initialDelayMs: 100, maxDelayMs: 200 },
        }
      },
    })
    try {
      const session = await login(gw.httpUrl, firstApp(gw.dataDir))
      const status = await waitFor(async () => {
        const s = await callApi<{
          state: string
          lastError: { message: string } | null
          reconnectAttempts: number
        }>(gw.httpUrl, session, 'GET', '/sitegate/v1/safety/status')
        return s.body.reconnectAttempts >= 2 ? s.body : undefined
      }, 'reconnection attempts')
      expect(status.state).not.toBe('online')
      expect(status.lastError?.message).toMatch(/ECONNREFUSED/)
      // A JID the config allows is callable in principle, but not without a session.
      const res = await fetch(`${gw.httpUrl}/openapi/v1/openSendImMessage/openApiSendImMessage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `bearer ${session.accessToken}` },
        body: JSON.stringify({ message: exampleStanza({ to: '1@devices.test' }) }),
      })
      const body = (await res.json()) as { stateCode: string; errorMessage: string }
      expect(body.stateCode).toBe('1006')
      expect(body.errorMessage).toMatch(/is not connected \(last error: .*ECONNREFUSED/)
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })
})
