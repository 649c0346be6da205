import { describe, expect, it } from 'vitest'
import { ERROR_CATALOGUE, type ErrorCode, PlatformError } from '../../src/errors.ts'

describe('ERROR_CATALOGUE (spec §12)', () => {
  const entries = Object.entries(ERROR_CATALOGUE) as [ErrorCode, { status: number; desc: string }][]

  it.each(entries)('%s is an error status with a description', (code, entry) => {
    expect(code).toMatch(/^\d+$/)
    expect(entry.status).toBeGreaterThanOrEqual(400)
    expect(entry.status).toBeLessThan(600)
    expect(entry.desc.trim().length).toBeGreaterThan(0)
  })

  // Strings and gateway statuses carried over exactly from spec §12 (after the §0 repairs).
  it.each([
    ['100208', 401, 'AppId or secret is not right.'],
    ['1010005', 403, 'Invalid access token or appId.'],
    ['100426', 400, 'The nodeId is duplicated.'],
    ['100418', 404, 'The deviceData is not existed.'],
    ['100403', 404, 'The device is not existed.'],
    ['102202', 400, 'Required Parameter is null or empty.'],
    ['100025', 401, 'AppId for auth not exist.'],
    ['50400', 400, 'The input is invalid.'],
    ['600002', 403, 'The product not existed.'],
    ['100225', 404, 'The resource is not found'],
    ['100217', 403, "The application hasn't been authorized."],
    ['50252', 500, 'Internal server error.'],
    ['100405', 400, 'The request parameter is invalid.'],
    ['1010009', 403, 'app throttle exceed.'],
  ] as const)('%s is %i "%s"', (code, status, desc) => {
    expect(ERROR_CATALOGUE[code]).toEqual({ status, desc })
  })
})

describe('PlatformError', () => {
  it('answers the spec §1.3 body: error_code as a JSON string, error_desc from the catalogue', () => {
    const error = new PlatformError('100208')
    expect(error.status).toBe(401)
    expect(error.code).toBe('100208')
    expect(error.toBody()).toEqual({ error_code: '100208', error_desc: 'AppId or secret is not right.' })
    expect(JSON.parse(JSON.stringify(error.toBody()))).toEqual({
      error_code: '100208',
      error_desc: 'AppId or secret is not right.',
    })
  })

  it('keeps internal detail out of the wire body', () => {
    const error = new PlatformError('50400', 'unknown refreshToken')
    expect(error.message).toContain('unknown refreshToken')
    expect(error.detail).toBe('unknown refreshToken')
    expect(error.toBody()).toEqual({ error_code: '50400', error_desc: 'The input is invalid.' })
  })

  it('is an Error', () => {
    expect(new PlatformError('100403')).toBeInstanceOf(Error)
  })
})
