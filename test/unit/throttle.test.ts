import { describe, expect, it } from 'vitest'
import { AppThrottle } from '../../src/api/throttle.ts'

describe('AppThrottle (§1.5)', () => {
  it('allows maxCalls per window per application, then refuses until calls leave the window', () => {
    let now = 1_000_000
    const throttle = new AppThrottle(3, 60_000, () => now)
    expect([1, 2, 3, 4].map(() => throttle.take('a'))).toEqual([true, true, true, false])
    // Another application has its own budget.
    expect(throttle.take('b')).toBe(true)
    now += 59_999
    expect(throttle.take('a')).toBe(false)
    now += 1
    // The first three calls are 60 s old: out of the window.
    expect(throttle.take('a')).toBe(true)
  })

  it('a refused call does not count against the window', () => {
    let now = 0
    const throttle = new AppThrottle(1, 1000, () => now)
    expect(throttle.take('a')).toBe(true)
    now = 999
    expect(throttle.take('a')).toBe(false)
    now = 1000
    expect(throttle.take('a')).toBe(true)
  })

  it('maxCalls 0 is no limit', () => {
    const throttle = new AppThrottle(0, 1000)
    expect(Array.from({ length: 1000 }, () => throttle.take('a')).every(Boolean)).toBe(true)
  })
})
