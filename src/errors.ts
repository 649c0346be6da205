// Error catalogue of the platform REST API (spec platform-rest-api.md §12). Each code has one HTTP status
// (the "gateway status" column: errors are never answered with 2xx) and its English error_desc.
export const ERROR_CATALOGUE = {
  '50252': { status: 500, desc: 'Internal server error.' },
  '50400': { status: 400, desc: 'The input is invalid.' },
  '100001': { status: 500, desc: 'Internal server error.' },
  '100007': { status: 400, desc: 'Bad request message.' },
  '100022': { status: 400, desc: 'The input is invalid.' },
  '100025': { status: 401, desc: 'AppId for auth not exist.' },
  '100203': { status: 403, desc: 'The application is not existed.' },
  '100208': { status: 401, desc: 'AppId or secret is not right.' },
  '100216': { status: 400, desc: 'The application input is invalid.' },
  '100217': { status: 403, desc: "The application hasn't been authorized." },
  '100225': { status: 404, desc: 'The resource is not found' },
  '100403': { status: 404, desc: 'The device is not existed.' },
  '100405': { status: 400, desc: 'The request parameter is invalid.' },
  '100412': { status: 500, desc: 'The amount of device has reached the limit.' },
  '100418': { status: 404, desc: 'The deviceData is not existed.' },
  '100426': { status: 400, desc: 'The nodeId is duplicated.' },
  '100449': { status: 400, desc: 'The device is freezed cant operate.' },
  '102202': { status: 400, desc: 'Required Parameter is null or empty.' },
  '600002': { status: 403, desc: 'The product not existed.' },
  '1010005': { status: 403, desc: 'Invalid access token or appId.' },
  '1010009': { status: 403, desc: 'app throttle exceed.' },
} as const satisfies Record<string, { status: number; desc: string }>

export type ErrorCode = keyof typeof ERROR_CATALOGUE

/** An error that the REST API answers as `{"error_code","error_desc"}` with the catalogue's status. */
export class PlatformError extends Error {
  readonly status: number
  readonly code: ErrorCode
  readonly detail: string | undefined

  constructor(code: ErrorCode, detail?: string) {
    const entry = ERROR_CATALOGUE[code]
    super(detail ? `${entry.desc} (${detail})` : entry.desc)
    this.name = 'PlatformError'
    this.code = code
    this.status = entry.status
    this.detail = detail
  }

  /** The wire body; error_code is a JSON string (spec §1.3). */
  toBody(): { error_code: string; error_desc: string } {
    return { error_code: this.code, error_desc: ERROR_CATALOGUE[this.code].desc }
  }
}
