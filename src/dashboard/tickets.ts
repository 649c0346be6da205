import { randomBytes } from 'node:crypto'

/**
 * One-time tickets for the dashboard's event stream. A browser's EventSource cannot send the Bearer header, and
 * an access token in a URL ends up in logs and proxies; so the dashboard trades its token (on an authenticated
 * POST) for a ticket that works once, within a few seconds, and names only the application.
 */
export class TicketBook {
  private readonly tickets = new Map<string, { appId: string; expiresAt: number }>()

  constructor(
    private readonly ttlMs = 30_000,
    /** Unused tickets kept at most (oldest dropped first): a client looping on POST cannot grow memory. */
    private readonly maxOutstanding = 1000,
  ) {}

  issue(appId: string, now = Date.now()): { ticket: string; expiresIn: number } {
    this.prune(now)
    while (this.tickets.size >= this.maxOutstanding) {
      const oldest = this.tickets.keys().next().value
      if (oldest === undefined) break
      this.tickets.delete(oldest)
    }
    const ticket = randomBytes(24).toString('base64url')
    this.tickets.set(ticket, { appId, expiresAt: now + this.ttlMs })
    return { ticket, expiresIn: Math.round(this.ttlMs / 1000) }
  }

  /** The application of a valid ticket, which is used up; undefined when unknown, used or expired. */
  redeem(ticket: string, now = Date.now()): string | undefined {
    const entry = this.tickets.get(ticket)
    if (!entry) return undefined
    this.tickets.delete(ticket)
    return entry.expiresAt > now ? entry.appId : undefined
  }

  private prune(now: number): void {
    for (const [ticket, entry] of this.tickets) if (entry.expiresAt <= now) this.tickets.delete(ticket)
  }
}
