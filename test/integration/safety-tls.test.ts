// The gateway's XMPP TLS options (issue 7 item 1) against a Prosody that requires STARTTLS with a self-signed
// certificate (made with openssl), as a site Openfire often has: trusted through `xmpp.tls.ca`, the session
// comes up encrypted and calls go through; without it the certificate is refused and the status says why.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTlsOptions } from '../../src/safety/xmpp-tls.ts'
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
} from '../helpers/safety-site.ts'

describe.skipIf(!requireProgram('prosody') || !requireProgram('openssl'))('XMPP over STARTTLS', () => {
  let site: SafetySite
  let helmet: Helmet | undefined

  beforeAll(async () => {
    site = await startSafetySite({
      tls: true,
      config: (c, prosody) => {
        c.xmpp = { ...c.xmpp!, tls: { ca: prosody.certFile! } }
      },
    })
    await waitForXmppState(site, 'online')
  }, 60_000)
  afterAll(async () => {
    await helmet?.stop()
    await site?.close()
  })

  it('trusts the site certificate given as xmpp.tls.ca, and calls go through the encrypted session', async () => {
    // The helmet simulator trusts the same certificate the same way.
    const ca = readFileSync(site.prosody.certFile!)
    helmet = await withTlsOptions({ ca, rejectUnauthorized: true }, () =>
      startHelmet({
        service: site.prosody.service,
        domain: DEVICES_HOST,
        user: HELMET_USER.user,
        password: HELMET_USER.password,
      }),
    )
    expect((await postCall(site, { message: exampleStanza({ id: 'tls-1' }) })).body.stateCode).toBe('0')
    await helmet.waitFor((m) => m.attrs.id === 'tls-1')
  })

  it('refuses a server certificate it was not told to trust, and says so in the status', async () => {
    const gw = await startGateway({
      config: (c) => {
        c.xmpp = {
          service: site.prosody.service,
          domain: SITE,
          username: GATEWAY_USER.user,
          password: GATEWAY_USER.password,
          reconnect: { initialDelayMs: 100, maxDelayMs: 200 },
        }
      },
    })
    try {
      const session = await login(gw.httpUrl, firstApp(gw.dataDir))
      const status = await waitFor(async () => {
        const s = await callApi<{ state: string; lastError: { message: string } | null }>(
          gw.httpUrl,
          session,
          'GET',
          '/sitegate/v1/safety/status',
        )
        return s.body.lastError ? s.body : undefined
      }, 'a TLS error')
      expect(status.state).not.toBe('online')
      expect(status.lastError?.message).toMatch(/self[- ]signed certificate/i)
    } finally {
      await gw.stop()
      removeDir(gw.dataDir)
    }
  })
})
