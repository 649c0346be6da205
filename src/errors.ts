// Error catalogue of the platform REST API (spec platform-rest-api.md §12). Each code has one HTTP status
// (the "gateway status" column: errors are never answered with 2xx) and its English error_desc.
export const ERROR_CATALOGUE = {
  '50252': { status: 500, desc: 'Internal server error.' },
  '50400': { status: 400, desc: 'The input is invalid.' },
  '100001': { status: 500, desc: 'Internal server error.' },
  '100003': { status: 400, desc: 'Invalid verify code.' },
  '100007': { status: 400, desc: 'Bad request message.' },
  '100019': { status: 400, desc: 'Illegal request.' },
  '100022': { status: 400, desc: 'The input is invalid.' },
  '100023': { status: 500, desc: 'The data in dataBase is abnomal.' },
  '100025': { status: 401, desc: 'AppId for auth not exist.' },
  '100203': { status: 403, desc: 'The application is not existed.' },
  '100208': { status: 401, desc: 'AppId or secret is not right.' },
  '100216': { status: 400, desc: 'The application input is invalid.' },
  '100217': { status: 403, desc: "The application hasn't been authorized." },
  '100218': { status: 400, desc: "The gatewayId and pageNo can't be both null." },
  '100222': { status: 400, desc: 'The request callbackurl is illegal.' },
  '100223': { status: 400, desc: 'Command counts has reached the upLimit.' },
  '100224': { status: 400, desc: 'The resource exceeds 1000, please refinement query conditions.' },
  '100225': { status: 404, desc: 'The resource is not found' },
  '100227': { status: 409, desc: 'The resource is conflicted.' },
  '100228': { status: 400, desc: 'The application input is invalid.' },
  '100403': { status: 404, desc: 'The device is not existed.' },
  '100405': { status: 400, desc: 'The request parameter is invalid.' },
  '100412': { status: 500, desc: 'The amount of device has reached the limit.' },
  '100418': { status: 404, desc: 'The deviceData is not existed.' },
  '100419': { status: 400, desc: "The deviceId and gatewayId can't be both null." },
  '100425': { status: 404, desc: 'The special deviceCapability is not exist.' },
  '100426': { status: 400, desc: 'The nodeId is duplicated.' },
  '100428': { status: 409, desc: 'The device is not online.' },
  '100431': { status: 404, desc: 'The serviceType is not exist.' },
  '100432': { status: 403, desc: 'The device command is muted.' },
  '100434': { status: 404, desc: 'The device command is not existed.' },
  '100435': { status: 409, desc: 'The device command already canceled, expired or executed, Cannot cancel.' },
  '100443': { status: 403, desc: 'The property is forbidden to write.' },
  '100444': { status: 404, desc: 'The serviceType is not exist.' },
  '100449': { status: 400, desc: 'The device is freezed cant operate.' },
  '100450': { status: 403, desc: 'The gateway is not online.' },
  '100601': { status: 409, desc: 'The number of device in the group has reach the max.' },
  '100602': { status: 409, desc: 'The device group name has been used.' },
  '100603': { status: 404, desc: 'The device group is not existed.' },
  '100604': { status: 400, desc: 'The device group request parameter is invalid.' },
  '100607': { status: 403, desc: 'The devGroup has reached the limit.' },
  '100609': { status: 400, desc: 'Too much devices to add.' },
  '100610': { status: 400, desc: 'Device is not active.' },
  '100611': { status: 400, desc: 'Device is online.' },
  '100612': { status: 403, desc: 'Device is zombie.' },
  '101001': { status: 404, desc: "Resource doesn't exist." },
  '102202': { status: 400, desc: 'Required Parameter is null or empty.' },
  '102203': { status: 400, desc: 'CommandName is invalid.' },
  '105001': { status: 403, desc: 'The batchTask count has reached the limit.' },
  '105002': { status: 409, desc: 'The batchTask name has exist.' },
  '105005': { status: 404, desc: 'The batchTask is not existed.' },
  '107002': { status: 400, desc: 'The properties is empty in database.' },
  '107003': { status: 400, desc: 'The request properties is unknown.' },
  '600002': { status: 403, desc: 'The product not existed.' },
  '1010005': { status: 403, desc: 'Invalid access token or appId.' },
  '1010009': { status: 403, desc: 'app throttle exceed.' },
  // sitegate's own (issue 7): a safety-device call needs the gateway's XMPP session.
  '109001': { status: 503, desc: 'The XMPP server is not connected.' },
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
