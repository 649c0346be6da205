// Access tokens (spec §1.4, §3): the per-request check remembers a token once it matched (issue 4 item 8), and
// that must change nothing a caller sees — expiry to the millisecond, a new login voiding the old token, a wrong
// token refused whatever was remembered before.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ACCESS_TOKEN_SECONDS, ApplicationService } from '../../src/apps/service.ts'
import { createLogger } from '../../src/logger.ts'
import { openDatabase } from '../../src/store/db.ts'
import { createStore, type Store } from '../../src/store/index.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

describe('ApplicationService.authenticate', () => {
  let dir: string
  let store: Store
  let now: number
  let apps: ApplicationService
  let appId: string
  let secret: string

  beforeEach(async () => {
    dir = tempDir()
    store = createStore(openDatabase(`${dir}/t.db`))
    now = Date.UTC(2026, 0, 2, 3, 4, 5)
    apps = new ApplicationService(store, createLogger('silent'), () => now)
    ;({ appId, secret } = await apps.create('site', 'cli'))
  })
  afterEach(() => {
    store.db.close()
    removeDir(dir)
  })

  const refused = (token: string, app = appId) => {
    expect(() => apps.authenticate(app, token)).toThrow(expect.objectContaining({ code: '1010005' }))
  }

  it('accepts a token until the millisecond it expires, remembered or not', async () => {
    const { accessToken } = await apps.login(appId, secret)
    for (let i = 0; i < 3; i++) expect(apps.authenticate(appId, accessToken)).toBe(appId)
    now += ACCESS_TOKEN_SECONDS * 1000 - 1
    expect(apps.authenticate(appId, accessToken)).toBe(appId)
    now += 1
    refused(accessToken)
  })

  it('refuses a token that differs from the remembered one in any character, or in length', async () => {
    const { accessToken } = await apps.login(appId, secret)
    expect(apps.authenticate(appId, accessToken)).toBe(appId)
    const last = accessToken.at(-1) === 'A' ? 'B' : 'A'
    refused(`${accessToken.slice(0, -1)}${last}`)
    refused(accessToken.slice(0, -1))
    refused(`${accessToken}A`)
    refused('')
    // Still accepted after the refusals.
    expect(apps.authenticate(appId, accessToken)).toBe(appId)
  })

  it('a token is valid for its own application only', async () => {
    const { accessToken } = await apps.login(appId, secret)
    const other = await apps.create('other', 'cli')
    await apps.login(other.appId, other.secret)
    expect(apps.authenticate(appId, accessToken)).toBe(appId)
    refused(accessToken, other.appId)
  })

  it('a new login or a refresh voids the remembered token at once', async () => {
    const first = await apps.login(appId, secret)
    expect(apps.authenticate(appId, first.accessToken)).toBe(appId)
    const second = await apps.login(appId, secret)
    refused(first.accessToken)
    expect(apps.authenticate(appId, second.accessToken)).toBe(appId)
    const third = await apps.refresh(appId, secret, second.refreshToken)
    refused(second.accessToken)
    expect(apps.authenticate(appId, third.accessToken)).toBe(appId)
  })

  it('tokens survive a restart (loaded from SQLite) and still expire on time', async () => {
    const { accessToken } = await apps.login(appId, secret)
    expect(apps.authenticate(appId, accessToken)).toBe(appId)
    const restarted = new ApplicationService(store, createLogger('silent'), () => now)
    expect(restarted.authenticate(appId, accessToken)).toBe(appId)
    now += ACCESS_TOKEN_SECONDS * 1000
    expect(() => restarted.authenticate(appId, accessToken)).toThrow(
      expect.objectContaining({ code: '1010005' }),
    )
  })
})
