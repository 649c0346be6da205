import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron'

/**
 * The renderer gets no Node, runs sandboxed and isolated from the preload's world; only the preload's narrow
 * bridge reaches the main process. DevTools are off in kiosk mode.
 */
export function secureWebPreferences(
  preload: string,
  opts: { kiosk: boolean } = { kiosk: false },
): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    devTools: !opts.kiosk,
  }
}

/** The dashboard window: a desktop window, or in kiosk mode full screen with no frame and no menu. */
export function windowOptions(preload: string, opts: { kiosk: boolean }): BrowserWindowConstructorOptions {
  const common: BrowserWindowConstructorOptions = {
    title: 'sitegate',
    backgroundColor: '#f4f6f8',
    show: false,
    webPreferences: secureWebPreferences(preload, opts),
  }
  if (opts.kiosk) {
    return {
      ...common,
      kiosk: true,
      fullscreen: true,
      frame: false,
      autoHideMenuBar: true,
      closable: false,
      minimizable: false,
      movable: false,
      resizable: false,
    }
  }
  // 1024×600 is the smallest screen the dashboard is laid out for (gateway touch panels).
  return { ...common, width: 1280, height: 800, minWidth: 1024, minHeight: 600, autoHideMenuBar: false }
}
