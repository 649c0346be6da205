// Debian chromium driven by playwright-core (no browser download): one headless browser per suite, with a
// fresh profile in a temp dir and everything that would phone home turned off.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { ROOT, removeDir, tempDir } from './gateway.ts'

export const CHROMIUM = process.env.SITEGATE_CHROMIUM ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface Browser {
  context: BrowserContext
  page: Page
  /** Saves a full-page screenshot as test-artifacts/{suite}/{name}.png (kept by CI as an artifact). */
  screenshot(name: string): Promise<string>
  close(): Promise<void>
}

export async function openBrowser(suite: string, viewport = { width: 1024, height: 600 }): Promise<Browser> {
  const profile = tempDir('sitegate-chromium-')
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    hasTouch: true,
    locale: 'en-US',
  })
  const page = context.pages()[0] ?? (await context.newPage())
  // Shorter than the test's own timeout, so a missing element fails with playwright's description of it.
  page.setDefaultTimeout(10_000)
  const artifacts = join(ROOT, 'test-artifacts', suite)
  mkdirSync(artifacts, { recursive: true })
  return {
    context,
    page,
    async screenshot(name) {
      const file = join(artifacts, `${name}.png`)
      await page.screenshot({ path: file, fullPage: true })
      return file
    },
    async close() {
      await context.close()
      removeDir(profile)
    },
  }
}
