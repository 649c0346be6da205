// The dashboard's only way to the main process (contextIsolation: the page sees `window.sitegateShell` and
// nothing else). A sandboxed preload cannot import local modules, so the channel names repeat src/main/ipc.ts
// (a unit test keeps them in step).
import electron = require('electron')

const CHANNELS = {
  coreStatus: 'sitegate:core-status',
  coreStatusChanged: 'sitegate:core-status-changed',
  restartCore: 'sitegate:restart-core',
  setStartAtLogin: 'sitegate:set-start-at-login',
} as const

electron.contextBridge.exposeInMainWorld('sitegateShell', {
  coreStatus: (): Promise<unknown> => electron.ipcRenderer.invoke(CHANNELS.coreStatus),
  restartCore: (): Promise<void> => electron.ipcRenderer.invoke(CHANNELS.restartCore),
  setStartAtLogin: (on: boolean): Promise<void> =>
    electron.ipcRenderer.invoke(CHANNELS.setStartAtLogin, on === true),
  onCoreStatus: (listener: (status: unknown) => void): (() => void) => {
    const wrapped = (_event: unknown, status: unknown) => listener(status)
    electron.ipcRenderer.on(CHANNELS.coreStatusChanged, wrapped)
    return () => electron.ipcRenderer.removeListener(CHANNELS.coreStatusChanged, wrapped)
  },
})
