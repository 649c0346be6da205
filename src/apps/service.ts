import { randomBytes } from 'node:crypto'
import { PlatformError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import { hashSecret, randomToken, sameDigest, tokenHash, verifySecret } from './secrets.ts'

export const ACCESS_TOKEN_SECONDS = 3600 // spec §1.4: expiresIn fixed at 3600
export const REFRESH_TOKEN_SECONDS = 24 * 3600 // spec §1.4: refreshToken valid 24 h

export interface TokenResponse {
  scope: 'default'
  tokenType: 'Bearer '
  expiresIn: number
  accessToken: string
  refreshToken: string
}

export interface NewApplication {
  appId: string
  secret: string
  /** The remote-call API key (rpc-and-calls.md A.2 `apikey`). */
  apiKey: string
  name: string
}

interface CachedToken {
  accessHash: string
  accessExpiresAt: number
  /**
   * The accessToken itself once a request has presented it and it matched the hash: later requests are compared
   * with it (in constant time) instead of hashing (issue 4 item 8). A login or refresh replaces the whole entry.
   */
  verified?: string
}

/**
 * Applications and their tokens (spec §3). Only the most recently issued accessToken of an application is
 * valid: a login or refresh replaces the stored pair. Tokens survive a restart (they are in SQLite); a memory
 * cache keeps the per-request check off the database.
 */
export class ApplicationService {
  private readonly cache = new Map<string, CachedToken>()

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    for (const t of store.applications.allTokens()) {
      this.cache.set(t.app_id, { accessHash: t.access_hash, accessExpiresAt: t.access_expires_at })
    }
  }

  /** Creates an application with a generated appId and secret. */
  async create(name: string, source: 'cli' | 'first-start'): Promise<NewApplication> {
    const appId = randomBytes(12).toString('hex')
    const secret = randomToken(24)
    const apiKey = randomToken(24)
    const secretHash = await hashSecret(secret)
    this.store.transaction(() => {
      this.store.applications.insert({
        app_id: appId,
        name,
        secret_hash: secretHash,
        source,
        created_at: this.now(),
      })
      this.store.applications.setApiKeyHash(appId, tokenHash(apiKey))
    })
    return { appId, secret, apiKey, name }
  }

  /** Issues a new remote-call API key for an application; the previous one stops working. */
  issueApiKey(appId: string): string {
    if (!this.exists(appId)) throw new PlatformError('100203')
    const apiKey = randomToken(24)
    this.store.applications.setApiKeyHash(appId, tokenHash(apiKey))
    return apiKey
  }

  /** The application an `apikey` belongs to (rpc-and-calls.md A.5 note 3: the key is the only credential). */
  appForApiKey(apiKey: string): string | undefined {
    return apiKey.length === 0 ? undefined : this.store.applications.appIdForApiKeyHash(tokenHash(apiKey))
  }

  /** Makes the applications of the config file exist with exactly the configured secrets. */
  async syncConfigApps(
    apps: readonly {
      appId: string
      secret: string
      name?: string | undefined
      apiKey?: string | undefined
    }[],
  ): Promise<void> {
    for (const app of apps) {
      if (app.apiKey !== undefined && this.store.applications.get(app.appId)) {
        this.store.applications.setApiKeyHash(app.appId, tokenHash(app.apiKey))
      }
      const existing = this.store.applications.get(app.appId)
      const name = app.name ?? app.appId
      if (existing && (await verifySecret(app.secret, existing.secret_hash)) && existing.name === name)
        continue
      const hash = await hashSecret(app.secret)
      if (existing) this.store.applications.updateSecret(app.appId, hash, name)
      else
        this.store.applications.insert({
          app_id: app.appId,
          name,
          secret_hash: hash,
          source: 'config',
          created_at: this.now(),
        })
      if (app.apiKey !== undefined) this.store.applications.setApiKeyHash(app.appId, tokenHash(app.apiKey))
      this.log.info(
        { appId: app.appId },
        existing ? 'application updated from config' : 'application added from config',
      )
    }
  }

  exists(appId: string): boolean {
    return this.store.applications.get(appId) !== undefined
  }

  /** POST /iocm/app/sec/v1.1.0/login */
  async login(appId: string | undefined, secret: string | undefined): Promise<TokenResponse> {
    if (!appId || !secret) throw new PlatformError('102202')
    await this.checkSecret(appId, secret)
    return this.issue(appId)
  }

  /** POST /iocm/app/sec/v1.1.0/refreshToken: a new pair; the previous accessToken stops working. */
  async refresh(appId: string, secret: string, refreshToken: string): Promise<TokenResponse> {
    if (!appId || !secret || !refreshToken) throw new PlatformError('102202')
    await this.checkSecret(appId, secret)
    const stored = this.store.applications.tokens(appId)
    if (!stored || !sameDigest(tokenHash(refreshToken), stored.refresh_hash)) {
      throw new PlatformError('50400', 'unknown refreshToken')
    }
    if (stored.refresh_expires_at <= this.now()) throw new PlatformError('50400', 'refreshToken expired')
    return this.issue(appId)
  }

  /** Checks `app_key` + bearer token of a request; returns the appId or throws 1010005. */
  authenticate(appKey: string, accessToken: string): string {
    const cached = this.cache.get(appKey)
    // Expiry is checked on every request, remembered token or not.
    if (!cached || cached.accessExpiresAt <= this.now()) throw new PlatformError('1010005')
    if (cached.verified !== undefined && sameText(cached.verified, accessToken)) return appKey
    if (!sameDigest(tokenHash(accessToken), cached.accessHash)) throw new PlatformError('1010005')
    cached.verified = accessToken
    return appKey
  }

  /**
   * The application whose current accessToken this is, or undefined: for APIs that send only
   * `Authorization: bearer {token}` (the safety-device call API, rpc-and-calls.md B.3).
   */
  appForAccessToken(accessToken: string): string | undefined {
    const hash = tokenHash(accessToken)
    for (const [appId, cached] of this.cache) {
      if (cached.accessExpiresAt > this.now() && sameDigest(hash, cached.accessHash)) return appId
    }
    return undefined
  }

  private async checkSecret(appId: string, secret: string): Promise<void> {
    const app = this.store.applications.get(appId)
    const ok = app ? await verifySecret(secret, app.secret_hash) : false
    if (!ok) {
      this.log.warn({ appId }, 'login refused: wrong appId or secret')
      throw new PlatformError('100208')
    }
  }

  private issue(appId: string): TokenResponse {
    const accessToken = randomToken(32)
    const refreshToken = randomToken(32)
    const now = this.now()
    const row = {
      app_id: appId,
      access_hash: tokenHash(accessToken),
      access_expires_at: now + ACCESS_TOKEN_SECONDS * 1000,
      refresh_hash: tokenHash(refreshToken),
      refresh_expires_at: now + REFRESH_TOKEN_SECONDS * 1000,
    }
    this.store.applications.saveTokens(row)
    this.cache.set(appId, { accessHash: row.access_hash, accessExpiresAt: row.access_expires_at })
    return {
      scope: 'default',
      tokenType: 'Bearer ',
      expiresIn: ACCESS_TOKEN_SECONDS,
      accessToken,
      refreshToken,
    }
  }
}

/**
 * A token equals the remembered one, in time independent of where they differ (only the length may show): every
 * character is compared, without the allocation a Buffer and timingSafeEqual would cost on each request.
 */
function sameText(known: string, token: string): boolean {
  if (token.length !== known.length) return false
  let diff = 0
  for (let i = 0; i < known.length; i++) diff |= known.charCodeAt(i) ^ token.charCodeAt(i)
  return diff === 0
}
