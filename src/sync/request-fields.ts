// Field checks shared by the profiles' readers of cloud requests.
import { isPlainObject } from '../protocols/json-payload.ts'

const MAX_ID = 256

/** A non-empty string of at most 256 characters, or a message naming the field. */
export function idField(doc: Record<string, unknown>, name: string): string | { error: string } {
  const v = doc[name]
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID)
    return { error: `${name} must be a non-empty string of at most ${MAX_ID} characters` }
  return v
}

/** A JSON object field, or a message naming it. */
export function objectField(
  doc: Record<string, unknown>,
  name: string,
): Record<string, unknown> | { error: string } {
  const v = doc[name]
  return isPlainObject(v) ? v : { error: `${name} must be a JSON object` }
}

export const isError = (v: unknown): v is { error: string } =>
  typeof v === 'object' && v !== null && 'error' in v && !Array.isArray(v)
