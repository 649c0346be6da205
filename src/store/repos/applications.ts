import type { Database } from 'better-sqlite3'

export interface ApplicationRow {
  app_id: string
  name: string
  secret_hash: string
  source: string
  created_at: number
  api_key_hash: string | null
}

export interface TokenRow {
  app_id: string
  access_hash: string
  access_expires_at: number
  refresh_hash: string
  refresh_expires_at: number
}

/** Applications (the REST API's callers) and their current token pair. */
export class ApplicationsRepo {
  private readonly stmts

  setApiKeyHash(appId: string, hash: string): void {
    this.stmts.setApiKeyHash.run(hash, appId)
  }

  appIdForApiKeyHash(hash: string): string | undefined {
    return this.stmts.byApiKeyHash.get(hash) as string | undefined
  }

  constructor(db: Database) {
    this.stmts = {
      insert: db.prepare(
        'INSERT INTO applications (app_id, name, secret_hash, source, created_at) VALUES (@app_id, @name, @secret_hash, @source, @created_at)',
      ),
      setApiKeyHash: db.prepare('UPDATE applications SET api_key_hash = ? WHERE app_id = ?'),
      byApiKeyHash: db.prepare('SELECT app_id FROM applications WHERE api_key_hash = ?').pluck(),
      updateSecret: db.prepare('UPDATE applications SET secret_hash = ?, name = ? WHERE app_id = ?'),
      get: db.prepare('SELECT * FROM applications WHERE app_id = ?'),
      list: db.prepare('SELECT * FROM applications ORDER BY created_at'),
      count: db.prepare('SELECT count(*) AS n FROM applications').pluck(),
      upsertTokens:
        db.prepare(`INSERT INTO app_tokens VALUES (@app_id, @access_hash, @access_expires_at, @refresh_hash, @refresh_expires_at)
        ON CONFLICT(app_id) DO UPDATE SET access_hash = excluded.access_hash, access_expires_at = excluded.access_expires_at,
        refresh_hash = excluded.refresh_hash, refresh_expires_at = excluded.refresh_expires_at`),
      tokens: db.prepare('SELECT * FROM app_tokens WHERE app_id = ?'),
      allTokens: db.prepare('SELECT * FROM app_tokens'),
    }
  }

  insert(row: Omit<ApplicationRow, 'api_key_hash'>): void {
    this.stmts.insert.run(row)
  }

  updateSecret(appId: string, secretHash: string, name: string): void {
    this.stmts.updateSecret.run(secretHash, name, appId)
  }

  get(appId: string): ApplicationRow | undefined {
    return this.stmts.get.get(appId) as ApplicationRow | undefined
  }

  list(): ApplicationRow[] {
    return this.stmts.list.all() as ApplicationRow[]
  }

  count(): number {
    return this.stmts.count.get() as number
  }

  saveTokens(row: TokenRow): void {
    this.stmts.upsertTokens.run(row)
  }

  tokens(appId: string): TokenRow | undefined {
    return this.stmts.tokens.get(appId) as TokenRow | undefined
  }

  allTokens(): TokenRow[] {
    return this.stmts.allTokens.all() as TokenRow[]
  }
}
