// The dashboard's safety page end to end (issues 7 and 9): Debian chromium (playwright-core) against a real
// gateway logged in to a real Prosody, with a helmet simulator (@xmpp/client) as the helmet's chat JID. The
// operator sees the XMPP session online and the helmet, presses Call and watches the call go from `sent` to
// `delivered` (the helmet's receipt) to `answered`; the helmet's SOS stands out on whatever page is open and is
// listed on the safety page. Screenshots go to test-artifacts/safety/.
import type { Element } from 'ltx'
import type { Locator } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Browser, openBrowser } from '../helpers/browser.ts'
import { firstApp } from '../helpers/gateway.ts'
import { type Helmet, startHelmet } from '../helpers/helmet.ts'
import { requireProgram } from '../helpers/programs.ts'
import {
  DEVICES_HOST,
  GATEWAY_JID,
  HELMET_JID,
  HELMET_USER,
  type SafetySite,
  startSafetySite,
  waitForXmppState,
} from '../helpers/safety-site.ts'

/** The default caller of calls the gateway builds (xmpp.caller): what the dashboard's Call button sends. */
const CALLER = { userId: 7, userName: 'site-office', userNo: 'SO-7', tenantId: 886 }
const INVITE = 'qc-intellect-equip-remote-invite'

/** The browser's window, as far as these tests use it (this tsconfig has no DOM types). */
type BrowserWindow = { getComputedStyle(el: unknown): { backgroundColor: string } }
const backgroundOf = (l: Locator) =>
  l.evaluate((el) => (globalThis as unknown as BrowserWindow).getComputedStyle(el).backgroundColor)

describe.runIf(requireProgram('prosody') && requireProgram('chromium'))('safety page in chromium', () => {
  let site: SafetySite
  let helmet: Helmet
  let browser: Browser
  let invite: Element

  beforeAll(async () => {
    site = await startSafetySite({
      config: (c) => {
        c.xmpp!.caller = CALLER
      },
    })
    helmet = await startHelmet({
      service: site.prosody.service,
      domain: DEVICES_HOST,
      user: HELMET_USER.user,
      password: HELMET_USER.password,
    })
    // Before the browser signs in: its login voids the site's token (§3.1).
    await waitForXmppState(site, 'online')
    browser = await openBrowser('safety')
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await helmet?.stop()
    await site?.close()
  })

  const page = () => browser.page
  const callRow = () => page().getByTestId('call-log').locator('li').first()

  it('shows the XMPP session online and the registered helmets', async () => {
    const app = firstApp(site.gw.dataDir)
    await page().goto(site.gw.httpUrl)
    await page().getByLabel('Application ID').fill(app.appId)
    await page().getByLabel('Secret').fill(app.secret)
    await page().getByRole('button', { name: 'Sign in' }).click()
    await page().getByTestId('live-state').getByText('Live').waitFor()
    await page().getByRole('link', { name: 'Safety calls' }).click()
    await page().getByTestId('xmpp-state').getByText('online').waitFor()
    await page().getByText(`${GATEWAY_JID}/`).waitFor()
    const row = page().getByTestId('safety-device-aqm0523')
    await row.getByText('helmet aqm0523').waitFor()
    await row.getByText(HELMET_JID).waitFor()
    await page().getByTestId('safety-device-aqm0524').waitFor()
    await page().getByText('No calls yet.').waitFor()
    await browser.screenshot('01-online')
  })

  it('calls the helmet; the call log shows it sent, then delivered on the receipt, then answered', async () => {
    await page().getByRole('button', { name: 'Call helmet aqm0523' }).click()
    invite = await helmet.waitFor((m) => m.getChildText('subject') === INVITE)
    const props = invite.getChild('properties')!
    expect(props.getChildText('directives_type')).toBe(INVITE)
    expect(JSON.parse(props.getChildText('directives_attrs')!)).toEqual({
      ...CALLER,
      deviceId: 'aqm0523',
      isdpDeviceId: 'aqm0523--1',
    })
    await callRow().getByText('helmet aqm0523').waitFor()
    await expect.poll(() => callRow().getAttribute('data-state')).toBe('sent')
    await browser.screenshot('02-call-sent')

    // XEP-0184: pushed to the page by the event stream, no reload.
    await helmet.receipt(invite)
    await callRow().getByText('delivered', { exact: true }).waitFor()
    const callId = (await callRow().getAttribute('data-testid'))!.replace('call-', '')
    expect(site.gw.gateway.safety.repo.call(callId)?.state).toBe('delivered')
    await browser.screenshot('03-call-delivered')

    await helmet.sendDirective(GATEWAY_JID, 'qc-intellect-equip-remote-accept', {
      callId: invite.attrs.id,
      deviceId: 'aqm0523',
    })
    await callRow().getByText('answered', { exact: true }).waitFor()
    expect(site.gw.gateway.safety.repo.call(callId)?.state).toBe('answered')
    // The helmet's answer is listed among its messages.
    await page().getByTestId('safety-events').locator('li[data-kind="reply"]').waitFor()
  })

  it("shows the helmet's SOS as an alert on any page, and lists it on the safety page", async () => {
    await page().getByRole('link', { name: 'Overview' }).click()
    await page().getByTestId('devices-offline').waitFor()
    expect(await page().getByTestId('sos-alert').count()).toBe(0)
    await helmet.sendDirective(
      GATEWAY_JID,
      'qc-intellect-equip-sos',
      { deviceId: 'aqm0523', lat: 31.2, lng: 121.5 },
      { id: 'sos-e2e-1', body: 'SOS: fall detected' },
    )
    const alert = page().getByTestId('sos-alert')
    await alert.getByText('fall detected', { exact: false }).waitFor()
    await alert.getByText(HELMET_JID, { exact: false }).waitFor()
    // It stands out: a solid background of its own, not the page's.
    const alertBackground = await backgroundOf(alert)
    expect(alertBackground).not.toMatch(/^rgba\(0, 0, 0, 0\)$|transparent/)
    expect(alertBackground).not.toBe(await backgroundOf(page().locator('body')))
    await browser.screenshot('04-sos-on-overview')

    await alert.getByRole('link').click()
    const sos = page().getByTestId('safety-events').locator('li[data-kind="sos"]')
    await sos.getByText('SOS: fall detected').waitFor()
    await sos.getByText('helmet aqm0523').waitFor()
    expect(await sos.getAttribute('class')).toContain('sos')
    await browser.screenshot('05-sos-listed')

    await alert.getByRole('button', { name: 'Dismiss' }).click()
    await expect.poll(() => page().getByTestId('sos-alert').count()).toBe(0)
    // Dismissing the banner keeps the record.
    await sos.waitFor()
  })

  it('shows the session down and disables calling while the XMPP server is away, and back when it returns', async () => {
    await page().goto(`${site.gw.httpUrl}/#/safety`)
    const callButton = page().getByRole('button', { name: 'Call helmet aqm0523' })
    await page().getByTestId('xmpp-state').getByText('online').waitFor()
    expect(await callButton.isEnabled()).toBe(true)
    await site.prosody.stop()
    // offline between attempts, connecting during one: never online, and no call can be placed.
    await expect
      .poll(() => page().getByTestId('xmpp-state').textContent(), { timeout: 15_000 })
      .not.toBe('online')
    await page().getByText('Calls need the XMPP server online.').waitFor()
    expect(await callButton.isDisabled()).toBe(true)
    await browser.screenshot('06-xmpp-down')
    await site.prosody.start()
    await page().getByTestId('xmpp-state').getByText('online').waitFor({ timeout: 20_000 })
    await expect.poll(() => callButton.isEnabled(), { timeout: 5_000 }).toBe(true)
  })
})
