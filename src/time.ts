// Platform time strings (spec platform-rest-api.md §1.8, device-mqtt.md A.4): UTC, yyyyMMdd'T'HHmmss'Z'.
const PLATFORM_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

// Formatting repeats for every record of a batch sampled in the same second: remember the last second.
let lastSecond = Number.NaN
let lastFormatted = ''

/** Formats epoch milliseconds as `20151212T121212Z`. */
export function toPlatformTime(ms: number): string {
  const second = Math.floor(ms / 1000)
  if (second !== lastSecond) {
    lastFormatted = formatUncached(ms)
    lastSecond = second
  }
  return lastFormatted
}

function formatUncached(ms: number): string {
  const d = new Date(ms)
  return (
    `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`
  )
}

// Devices sampling together send the same eventTime many times a second: remember the last one parsed.
let lastText = ''
let lastMs: number | undefined

/** Parses `20151212T121212Z` to epoch milliseconds; undefined when malformed or not a real date. */
export function parsePlatformTime(text: string): number | undefined {
  if (text === lastText) return lastMs
  const ms = parseUncached(text)
  lastText = text
  lastMs = ms
  return ms
}

function parseUncached(text: string): number | undefined {
  const m = PLATFORM_TIME.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  const back = new Date(ms)
  // Reject rolled-over dates such as 20230231 or hour 25.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h) return undefined
  if (mi > 59 || s > 59) return undefined
  return ms
}

/** `YYYYMMDDHH` of the UTC hour containing `ms` (the MQTT ClientId timestamp, device-mqtt.md A.3). */
export function toHourStamp(ms: number): string {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}`
}

/** Parses `YYYYMMDDHH` to the epoch ms of that UTC hour; undefined when not a real hour. */
export function parseHourStamp(text: string): number | undefined {
  if (!/^\d{10}$/.test(text)) return undefined
  return parsePlatformTime(`${text.slice(0, 8)}T${text.slice(8, 10)}0000Z`)
}
