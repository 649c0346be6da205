import { ConfigError, validateConfig } from '../config/load.ts'
import type { GatewayConfig } from '../config/schema.ts'

/** Shown instead of a secret; a candidate that still holds it keeps the running value. */
export const HIDDEN = '(hidden)'

/** The sections the settings page shows and checks. */
export const SETTINGS_SECTIONS = [
  'apps',
  'upstream',
  'xmpp',
  'serial',
  'http',
  'mqtt',
  'cameras',
  'commands',
] as const
export type SettingsSection = (typeof SETTINGS_SECTIONS)[number]

const SECRET_KEY = /^(secret|password|apiKey|token|passphrase)$/i

/** A copy of `value` with every secret-named field replaced by HIDDEN. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && typeof v === 'string' ? HIDDEN : redact(v)
  }
  return out
}

/** Puts the running value back wherever the candidate still says HIDDEN (same path). */
function unhide(candidate: unknown, running: unknown): unknown {
  if (candidate === HIDDEN) return running
  if (Array.isArray(candidate)) {
    const r = Array.isArray(running) ? running : []
    return candidate.map((c, i) => unhide(c, r[i]))
  }
  if (candidate === null || typeof candidate !== 'object') return candidate
  const r = (running !== null && typeof running === 'object' ? running : {}) as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(candidate)) out[k] = unhide(v, r[k])
  return out
}

/**
 * Checks one section of the configuration as it would be loaded (the same schema and cross-field checks as
 * `loadConfig`), against the running values of every other section. Nothing is applied: the config file is
 * the operator's, and a change takes effect on restart.
 */
export function validateSection(
  running: Readonly<GatewayConfig>,
  section: SettingsSection,
  value: unknown,
): { valid: true } | { valid: false; error: string } {
  const candidate = structuredClone(running) as unknown as Record<string, unknown>
  candidate[section] = unhide(value, (running as unknown as Record<string, unknown>)[section])
  try {
    validateConfig(candidate)
    return { valid: true }
  } catch (err) {
    if (err instanceof ConfigError)
      return { valid: false, error: err.message.replace(/^invalid config: /, '') }
    throw err
  }
}
