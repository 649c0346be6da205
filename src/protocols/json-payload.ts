// What every JSON device protocol starts with: bytes → a JSON object, or a reason why not.

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string }

export const fail = (error: string): { ok: false; error: string } => ({ ok: false, error })

/** A JSON object as JSON.parse makes one (or a literal): not an array, not a class instance. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Parses a payload that must be one JSON object (UTF-8). */
export function parseJsonObject(payload: Buffer | string): Decoded<Record<string, unknown>> {
  let doc: unknown
  try {
    doc = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    return fail('payload is not JSON')
  }
  return isPlainObject(doc) ? { ok: true, value: doc } : fail('payload is not a JSON object')
}
