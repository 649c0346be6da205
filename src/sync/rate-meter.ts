/** Events per second over a sliding window (the drain rate on the status page), in one-second buckets. */
export class RateMeter {
  private readonly buckets = new Map<number, number>()

  constructor(private readonly windowMs = 10_000) {}

  add(count: number, now = Date.now()): void {
    const second = Math.floor(now / 1000)
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + count)
    this.prune(second)
  }

  /** Average per second over the window's full seconds (0 when nothing happened). */
  perSecond(now = Date.now()): number {
    const second = Math.floor(now / 1000)
    this.prune(second)
    const span = this.windowMs / 1000
    let sum = 0
    for (const [s, n] of this.buckets) if (s < second && s >= second - span) sum += n
    return sum / span
  }

  private prune(second: number): void {
    const oldest = second - this.windowMs / 1000
    for (const s of this.buckets.keys()) if (s < oldest) this.buckets.delete(s)
  }
}
