import { describe, expect, it } from 'vitest'
import {
  deviceCredentials,
  devicePassword,
  parseClientId,
  passwordMatches,
  timestampFresh,
} from '../../src/broker/credentials.ts'

// device-mqtt.md A.3 worked example.
const SECRET = 'a1b2c3d4e5f60718293a'
const STAMP = '2018072417'
const PASSWORD = '6c8310c88bc64593ad324f686eadbdc6edec12ca9d7309e1e0bdb384d90c66f7'
const HOUR = 3_600_000
const hourOf = (iso: string): number => Date.parse(iso)

describe('parseClientId {id}_{authType}_{signType}_{YYYYMMDDHH}', () => {
  it('reads the four parts', () => {
    expect(parseClientId(`dev-1_0_1_${STAMP}`)).toEqual({
      id: 'dev-1',
      authType: 0,
      signType: 1,
      timestamp: STAMP,
      hourMs: hourOf('2018-07-24T17:00:00Z'),
    })
  })

  it('parses from the right, so a nodeId may contain underscores', () => {
    const parsed = parseClientId(`node_with_0_1_parts_2_0_${STAMP}`)
    expect(parsed).toMatchObject({ id: 'node_with_0_1_parts', authType: 2, signType: 0, timestamp: STAMP })
  })

  it.each([
    [`dev_1_0_${STAMP}`, 'authType 1 is not defined'],
    [`dev_3_0_${STAMP}`, 'authType 3'],
    [`dev_0_2_${STAMP}`, 'signType 2'],
    ['dev_0_0_201807241', '9-digit timestamp'],
    ['dev_0_0_20180724170', '11-digit timestamp'],
    ['dev_0_0_2018072425', 'hour 25'],
    ['dev_0_0_2018023110', 'February 31st'],
    [`_0_0_${STAMP}`, 'empty id'],
    [`dev_0_${STAMP}`, 'missing signType'],
    ['dev_0_0', 'missing timestamp'],
    ['', 'empty'],
  ])('rejects %j (%s)', (clientId) => {
    expect(parseClientId(clientId)).toBeUndefined()
  })
})

describe('device password', () => {
  it('matches the spec worked example (HMAC-SHA256, key = timestamp, lowercase hex)', () => {
    expect(devicePassword(SECRET, STAMP)).toBe(PASSWORD)
  })

  it('depends on the timestamp', () => {
    expect(devicePassword(SECRET, '2018072418')).not.toBe(PASSWORD)
  })

  it('passwordMatches accepts the password in either case, as a string or bytes', () => {
    expect(passwordMatches(PASSWORD, SECRET, STAMP)).toBe(true)
    expect(passwordMatches(PASSWORD.toUpperCase(), SECRET, STAMP)).toBe(true)
    expect(passwordMatches(Buffer.from(PASSWORD), SECRET, STAMP)).toBe(true)
  })

  it.each([
    ['nothing', undefined],
    ['an empty password', ''],
    ['the secret itself', SECRET],
    ['one changed character', `${PASSWORD.slice(0, -1)}0`],
    ['a truncated password', PASSWORD.slice(0, 63)],
    ['an extra character', `${PASSWORD}0`],
  ])('passwordMatches refuses %s', (_what, presented) => {
    expect(passwordMatches(presented, SECRET, STAMP)).toBe(false)
  })

  it('passwordMatches refuses the right password for another timestamp', () => {
    expect(passwordMatches(PASSWORD, SECRET, '2018072418')).toBe(false)
  })
})

describe('timestampFresh (signType 1)', () => {
  const stampHour = hourOf('2018-07-24T17:00:00Z')

  it.each([
    ['the same hour', '2018-07-24T17:56:20Z', 0, true],
    ['one hour later, tolerance 1', '2018-07-24T18:59:59Z', 1, true],
    ['one hour earlier, tolerance 1', '2018-07-24T16:00:00Z', 1, true],
    ['two hours later, tolerance 1', '2018-07-24T19:00:00Z', 1, false],
    ['two hours earlier, tolerance 1', '2018-07-24T15:59:59Z', 1, false],
    ['one hour later, tolerance 0', '2018-07-24T18:00:00Z', 0, false],
    ['the last millisecond of the hour, tolerance 0', '2018-07-24T17:59:59.999Z', 0, true],
    ['two hours later, tolerance 2', '2018-07-24T19:30:00Z', 2, true],
  ])('%s → %s', (_what, now, tolerance, fresh) => {
    expect(timestampFresh(stampHour, hourOf(now as string), tolerance as number)).toBe(fresh)
  })

  it('a stamp made now is fresh even with tolerance 0', () => {
    const now = Date.now()
    const parsed = parseClientId(deviceCredentials({ id: 'd', secret: SECRET, now }).clientId)
    expect(parsed).toBeDefined()
    expect(timestampFresh(parsed!.hourMs, now, 0)).toBe(true)
    expect(timestampFresh(parsed!.hourMs, now + 2 * HOUR, 1)).toBe(false)
  })
})

describe('deviceCredentials', () => {
  it('builds the spec example ClientId, username and password', () => {
    const creds = deviceCredentials({
      id: 'dev-1',
      secret: SECRET,
      signType: 0,
      now: hourOf('2018-07-24T17:56:20Z'),
    })
    expect(creds).toEqual({ clientId: `dev-1_0_0_${STAMP}`, username: 'dev-1', password: PASSWORD })
  })

  it('defaults to authType 0 and signType 1; authType 2 connects by nodeId', () => {
    const now = hourOf('2018-07-24T17:56:20Z')
    expect(deviceCredentials({ id: 'd', secret: SECRET, now }).clientId).toBe(`d_0_1_${STAMP}`)
    expect(deviceCredentials({ id: 'n_1', secret: SECRET, authType: 2, now }).clientId).toBe(
      `n_1_2_1_${STAMP}`,
    )
  })
})
