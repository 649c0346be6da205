// The dashboard end to end: Debian chromium (playwright-core) against a real gateway started here, with real
// MQTT devices, at the kiosk panel's 1024×600. Sign in, a device appearing and its chart filling, a desired
// value reaching the device, a pending command canceled, and the sync backlog growing while the cloud is away.
// Screenshots go to test-artifacts/dashboard/.
import { createServer } from 'node:net'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Browser, openBrowser } from '../helpers/browser.ts'
import {
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'
import { upstreamConfig } from '../helpers/upstream.ts'

/** A loopback port with nothing listening: the "cloud broker" that is down. */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const platformTime = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')

const reading = (temperature: number, at: number) =>
  JSON.stringify({
    msgType: 'deviceReq',
    data: [{ serviceId: 'Meter', serviceData: { temperature }, eventTime: platformTime(at) }],
  })

describe.runIf(requireProgram('chromium'))('dashboard in chromium', () => {
  let gw: RunningGateway
  let browser: Browser
  let meter: { deviceId: string; secret: string }
  let idle: { deviceId: string; secret: string }
  let sim: SimulatedDevice | undefined
  let app: { appId: string; secret: string }

  beforeAll(async () => {
    gw = await startGateway({ config: upstreamConfig(`mqtt://127.0.0.1:${await deadPort()}`) })
    app = firstApp(gw.dataDir)
    // Registered before the browser signs in: a new login voids the earlier token (§3.1).
    const session = await login(gw.httpUrl, app)
    meter = await registerDevice(gw.httpUrl, session, 'e2e-meter')
    idle = await registerDevice(gw.httpUrl, session, 'e2e-idle')
    browser = await openBrowser('dashboard')
  }, 60_000)

  afterAll(async () => {
    await sim?.close()
    await browser?.close()
    await gw?.stop()
    if (gw) removeDir(gw.dataDir)
  })

  const page = () => browser.page
  const client = (): MqttClient => sim!.client

  it('signs in with the application credentials and goes live', async () => {
    await page().goto(gw.httpUrl)
    await page().getByLabel('Application ID').fill(app.appId)
    await page().getByLabel('Secret').fill(app.secret)
    await page().getByRole('button', { name: 'Sign in' }).click()
    await page().getByTestId('live-state').getByText('Live').waitFor()
    await page().getByTestId('devices-offline').getByText('2').waitFor()
    await browser.screenshot('01-overview')
  })

  it('shows a device coming online and a newly registered one appearing, live', async () => {
    await page().goto(`${gw.httpUrl}/#/devices`)
    const row = page().getByTestId('device-e2e-meter')
    // Registered, never connected: INACTIVE (§5.1 status).
    await row.getByText('INACTIVE').waitFor()
    sim = await simulateDevice(gw.mqttUrl, { id: meter.deviceId, secret: meter.secret })
    await row.getByText('ONLINE').waitFor()
    gw.gateway.registry.register(app.appId, { deviceInfo: { nodeId: 'e2e-late', name: 'e2e-late' } })
    await page().getByTestId('device-e2e-late').waitFor()
    await page().getByLabel('Search').fill('meter')
    await expect.poll(() => page().locator('tbody tr').count()).toBe(1)
    await browser.screenshot('02-devices')
  })

  it("fills the device's chart from history, then from live data", async () => {
    const now = Date.now()
    for (let i = 0; i < 6; i++)
      await publishAcked(client(), dataTopic(meter.deviceId), reading(20 + i, now - (10 - i) * 60_000))
    await page().goto(`${gw.httpUrl}/#/devices/${meter.deviceId}`)
    const chart = page().locator('svg.chart')
    await expect.poll(async () => Number(await chart.getAttribute('data-points'))).toBe(6)
    for (let i = 0; i < 4; i++)
      await publishAcked(client(), dataTopic(meter.deviceId), reading(30 + i, now - (3 - i) * 1000))
    await expect.poll(async () => Number(await chart.getAttribute('data-points'))).toBe(10)
    await page().getByTestId('reported-Meter-temperature').getByText('33').waitFor()
    await browser.screenshot('03-device-chart')
  })

  it('sends an edited desired value to the device', async () => {
    await page().getByTestId('service-Meter').getByRole('button', { name: 'Edit desired' }).click()
    await page().getByLabel('Desired temperature').fill('42')
    await page().getByRole('button', { name: 'Save' }).click()
    const [req] = await sim!.waitForCommands(1)
    expect(req).toMatchObject({ serviceId: 'Meter', cmd: 'SET_DESIRED', paras: { temperature: 42 } })
    await page().getByTestId('desired-Meter-temperature').getByText('42').waitFor()
    await browser.screenshot('04-desired')
  })

  it('cancels a pending command of an offline device', async () => {
    await page().goto(`${gw.httpUrl}/#/devices/${idle.deviceId}`)
    const form = page().getByRole('form', { name: 'Send command' })
    await form.getByLabel('Service').fill('Valve')
    await form.getByLabel('Method').fill('OPEN')
    await form.getByLabel('Parameters (JSON)').fill('{"percent": 50}')
    await form.getByRole('button', { name: 'Send' }).click()
    const row = page().locator('tr[data-status]').first()
    await row.getByText('PENDING', { exact: true }).waitFor()
    const commandId = (await row.getAttribute('data-testid'))!.replace('command-', '')
    await row.getByRole('button', { name: 'Cancel' }).click()
    await page().getByTestId(`command-${commandId}`).getByText('CANCELED', { exact: true }).waitFor()
    expect(gw.gateway.store.commands.get(commandId)?.status).toBe('CANCELED')
    await browser.screenshot('05-canceled')
  })

  it('shows the sync backlog growing while the cloud broker is down', async () => {
    await page().goto(`${gw.httpUrl}/#/overview`)
    await page().getByTestId('sync-state').getByText('Disconnected').waitFor()
    const backlog = page().getByTestId('sync-backlog')
    const before = await waitFor(async () => Number(await backlog.textContent()), 'a backlog')
    const now = Date.now()
    for (let i = 0; i < 20; i++)
      await publishAcked(client(), dataTopic(meter.deviceId), reading(i, now + i * 1000))
    // Pushed by the event stream's status updates: no reload.
    await expect
      .poll(async () => Number(await backlog.textContent()), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(before + 20)
    await page().getByTestId('lane-telemetry').waitFor()
    await browser.screenshot('06-sync-backlog')
  })

  it('switches its labels to Chinese', async () => {
    await page().getByRole('button', { name: '中文' }).click()
    await page().getByRole('link', { name: '设备' }).waitFor()
    await page().getByText('上云同步').waitFor()
    await browser.screenshot('07-chinese')
    await page().getByRole('button', { name: 'English' }).click()
  })

  it('says plainly that safety calls are not configured on a gateway without xmpp:', async () => {
    await page().goto(`${gw.httpUrl}/#/overview`)
    await page().getByText('Safety calls are not configured on this gateway.').waitFor()
    await page().goto(`${gw.httpUrl}/#/safety`)
    const notice = page().getByTestId('safety-not-configured')
    await notice.getByText('Safety calls are not configured on this gateway.').waitFor()
    await notice.getByText('Add an xmpp: section').waitFor()
    // No call buttons nor call log on a gateway that cannot call.
    expect(
      await page()
        .getByRole('button', { name: /^Call / })
        .count(),
    ).toBe(0)
    expect(await page().getByTestId('call-log').count()).toBe(0)
    await browser.screenshot('08-safety-not-configured')
  })
})
