// Platform time strings (spec platform-rest-api.md §1.8, device-mqtt.md A.4): UTC, yyyyMMdd'T'HHmmss'Z'.
const DAY = /^(\d{4})(\d{2})(\d{2})$/

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

// Many eventTimes of a batch fall on the same day: remember the last day's midnight.
let lastDay = ''
let lastDayMs: number | undefined

function parseUncached(text: string): number | undefined {
  if (text.length !== 16 || text[8] !== 'T' || text[15] !== 'Z') return undefined
  const day = text.slice(0, 8)
  if (day !== lastDay) {
    lastDayMs = parseDay(day)
    lastDay = day
  }
  if (lastDayMs === undefined) return undefined
  const [h, mi, s] = [twoDigits(text, 9), twoDigits(text, 11), twoDigits(text, 13)]
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return undefined
  return lastDayMs + ((h * 60 + mi) * 60 + s) * 1000
}

/** Epoch ms of `yyyyMMdd` at 00:00 UTC; undefined when not a real date (20230231 rolls over: rejected). */
function parseDay(day: string): number | undefined {
  const m = DAY.exec(day)
  if (!m) return undefined
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const ms = Date.UTC(y, mo - 1, d)
  const back = new Date(ms)
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined
  return ms
}

/** The two-digit number at text[i..i+1]; -1 when not two digits. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - 48
  const b = text.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
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
