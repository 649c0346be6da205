// The platform REST API and sitegate's admin endpoints, as the signed-in application. The token lives in this
// object only (never in storage or URLs); the secret too, to refresh the token before it expires (§3.2).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message)
  }
}

interface LoginAnswer {
  accessToken: string
  refreshToken: string
  expiresIn: number
}

export interface Credentials {
  appId: string
  secret: string
}

export class ApiClient {
  private token: LoginAnswer | undefined
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  /** Called when the session ends by itself (token refused): the app shows the sign-in page again. */
  onSignedOut: (reason: string) => void = () => {}

  constructor(
    readonly credentials: Credentials,
    private readonly base = '',
  ) {}

  static async signIn(credentials: Credentials, base = ''): Promise<ApiClient> {
    const client = new ApiClient(credentials, base)
    await client.login()
    return client
  }

  get appId(): string {
    return this.credentials.appId
  }

  signOut(): void {
    clearTimeout(this.refreshTimer)
    this.token = undefined
  }

  /** Calls the API; JSON in and out. Errors carry the platform's error_code (spec §12). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body === undefined ? undefined : JSON.stringify(body))
    const text = await res.text()
    if (!res.ok) throw this.error(res.status, text)
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  /** A binary answer (snapshot images) as a blob. */
  async blob(path: string): Promise<Blob> {
    const res = await this.raw('GET', path)
    if (!res.ok) throw this.error(res.status, await res.text())
    return res.blob()
  }

  private async raw(method: string, path: string, body?: string): Promise<Response> {
    if (!this.token) throw new ApiError(403, '1010005', 'not signed in')
    const headers: Record<string, string> = {
      app_key: this.appId,
      authorization: `Bearer ${this.token.accessToken}`,
    }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    })
    if (res.status === 403 || res.status === 401) {
      const clone = res.clone()
      const code = (await clone.json().catch(() => ({}))) as { error_code?: string }
      // Another sign-in of the same application voids this token (§3.1): back to the sign-in page.
      if (code.error_code === '1010005' || code.error_code === '100025') {
        this.signOut()
        this.onSignedOut('session ended')
      }
    }
    return res
  }

  private error(status: number, text: string): ApiError {
    try {
      const body = JSON.parse(text) as { error_code?: string; error_desc?: string }
      return new ApiError(status, body.error_code, `${body.error_code ?? status}: ${body.error_desc ?? text}`)
    } catch {
      return new ApiError(status, undefined, `HTTP ${status}`)
    }
  }

  private async login(): Promise<void> {
    const res = await fetch(`${this.base}/iocm/app/sec/v1.1.0/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        appId: this.credentials.appId,
        secret: this.credentials.secret,
      }).toString(),
    })
    const text = await res.text()
    if (!res.ok) throw this.error(res.status, text)
    this.accept(JSON.parse(text) as LoginAnswer)
  }

  private accept(answer: LoginAnswer): void {
    this.token = answer
    clearTimeout(this.refreshTimer)
    // Refresh at 80% of the lifetime (§3.2); a failure signs out.
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(10, answer.expiresIn * 800))
  }

  private async refresh(): Promise<void> {
    if (!this.token) return
    const res = await fetch(`${this.base}/iocm/app/sec/v1.1.0/refreshToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...this.credentials, refreshToken: this.token.refreshToken }),
    })
    if (!res.ok) {
      this.signOut()
      this.onSignedOut('session expired')
      return
    }
    this.accept((await res.json()) as LoginAnswer)
  }
}
