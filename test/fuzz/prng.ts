// A small seeded PRNG (mulberry32) and the draws the fuzz generators need. Seeded, so that a failure printed with
// its seed replays the same inputs in the same order (`npm run fuzz -- --seed N`).

export class Rng {
  private state: number

  constructor(readonly seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n)
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255)
    return out
  }

  /** A child generator for one target, so that targets do not shift each other's inputs. */
  fork(label: string): Rng {
    let h = this.seed ^ 0x9e3779b9
    for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193)
    return new Rng(h >>> 0)
  }
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31)
}
