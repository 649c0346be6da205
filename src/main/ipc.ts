import { isDashboardUrl } from './navigation-policy.ts'

/** The channels of the preload's bridge (src/preload/index.cts repeats them: a sandboxed preload cannot import). */
export const IPC = {
  coreStatus: 'sitegate:core-status',
  coreStatusChanged: 'sitegate:core-status-changed',
  restartCore: 'sitegate:restart-core',
  setStartAtLogin: 'sitegate:set-start-at-login',
} as const

/**
 * An IPC message is taken only from the dashboard window's main frame at the dashboard's origin: not from a
 * subframe, not from a page the window was somehow led to.
 */
export function trustedSender(
  frame: { url: string; parent: unknown } | null | undefined,
  origin: string,
  fromWindowId: number | undefined,
  dashboardWindowId: number | undefined,
): boolean {
  if (!frame || frame.parent !== null) return false
  if (fromWindowId === undefined || fromWindowId !== dashboardWindowId) return false
  return isDashboardUrl(frame.url, origin)
}

/** setStartAtLogin's argument must be a boolean; anything else is refused. */
export function booleanArg(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError('expected a boolean')
  return value
}
