import type { WebPreferences } from 'electron'

/** The renderer gets no Node, runs sandboxed and isolated from the preload's world. */
export function secureWebPreferences(): WebPreferences {
  return { contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true }
}
