import { describe, expect, it } from 'vitest'
import { parseHourStamp, parsePlatformTime, toHourStamp, toPlatformTime } from '../../src/time.ts'

const at = (iso: string): number => Date.parse(iso)

describe('platform time yyyyMMddTHHmmssZ (spec §1.8)', () => {
  it('formats UTC with zero padding', () => {
    expect(toPlatformTime(at('2015-12-12T12:12:12Z'))).toBe('20151212T121212Z')
    expect(toPlatformTime(at('2001-02-03T04:05:06.789Z'))).toBe('20010203T040506Z')
  })

  it.each(['2015-12-12T12:12:12Z', '2024-02-29T23:59:59Z', '1999-12-31T00:00:00Z'])(
    'round-trips %s',
    (iso) => {
      const ms = at(iso)
      expect(parsePlatformTime(toPlatformTime(ms))).toBe(ms)
    },
  )

  it('parses to the exact UTC instant', () => {
    expect(parsePlatformTime('20161219T114920Z')).toBe(at('2016-12-19T11:49:20Z'))
  })

  it.each([
    ['20230231T000000Z', 'February 31st'],
    ['20230229T000000Z', 'February 29th of a non-leap year'],
    ['20231301T000000Z', 'month 13'],
    ['20230100T000000Z', 'day 0'],
    ['20230101T240000Z', 'hour 24'],
    ['20230101T006000Z', 'minute 60'],
    ['20230101T000060Z', 'second 60'],
  ])('rejects %s (%s)', (text) => {
    expect(parsePlatformTime(text)).toBeUndefined()
  })

  it.each([
    '2023-01-01T00:00:00Z',
    '20230101T0000Z',
    '20230101T000000',
    '20230101T000000z',
    '20230101t000000Z',
    '20230101 000000Z',
    ' 20230101T000000Z',
    '20230101T000000Z ',
    '020230101T000000Z',
    '20230101T000000.000Z',
    '',
  ])('accepts only the 16-character form, not %j', (text) => {
    expect(parsePlatformTime(text)).toBeUndefined()
  })
})

describe('hour stamps YYYYMMDDHH (device-mqtt.md A.3)', () => {
  it('formats the UTC hour containing the instant (spec example)', () => {
    expect(toHourStamp(at('2018-07-24T17:56:20Z'))).toBe('2018072417')
    expect(toHourStamp(at('2018-01-02T03:59:59.999Z'))).toBe('2018010203')
  })

  it('parses to the start of that UTC hour', () => {
    expect(parseHourStamp('2018072417')).toBe(at('2018-07-24T17:00:00Z'))
    expect(parseHourStamp(toHourStamp(at('2030-06-30T00:30:00Z')))).toBe(at('2030-06-30T00:00:00Z'))
  })

  it.each(['2018072424', '2018023110', '2018130110', '201807241', '20180724170', '2018-07-24', '201807241a'])(
    'rejects %j',
    (text) => {
      expect(parseHourStamp(text)).toBeUndefined()
    },
  )
})
