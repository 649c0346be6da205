/**
 * Per-application call limit (spec §1.5: at most 100 calls per 60 s by default): a sliding window of the
 * calls each application made. `maxCalls` 0 turns it off.
 */
export class AppThrottle {
  private readonly calls = new Map<string, number[]>()

  constructor(
    private readonly maxCalls: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a call; false when the application is over its limit (the call is refused and not counted). */
  take(appId: string): boolean {
    if (this.maxCalls === 0) return true
    const now = this.now()
    let times = this.calls.get(appId)
    if (!times) {
      times = []
      this.calls.set(appId, times)
    }
    // Oldest first: drop what left the window.
    let expired = 0
    while (expired < times.length && times[expired]! <= now - this.windowMs) expired++
    if (expired > 0) times.splice(0, expired)
    if (times.length >= this.maxCalls) return false
    times.push(now)
    return true
  }
}
