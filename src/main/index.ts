// Electron shell (thin by design: the core runs as plain Node in a utilityProcess). Window, tray, kiosk mode
// and core restarts are the desktop-app issue; this is the minimum that starts the core and shows the dashboard.
import { join } from 'node:path'
import { app, BrowserWindow, utilityProcess } from 'electron'
import { secureWebPreferences } from './window-options.ts'

const HTTP_PORT = 8080

function startCore(): void {
  const core = utilityProcess.fork(join(import.meta.dirname, '..', 'cli.js'), [
    'start',
    '--data-dir',
    join(app.getPath('userData'), 'data'),
    '--http-port',
    String(HTTP_PORT),
  ])
  core.on('exit', (code) => console.error(`sitegate core exited with ${code}`))
}

async function openWindow(): Promise<void> {
  const win = new BrowserWindow({ width: 1280, height: 800, webPreferences: secureWebPreferences() })
  await win.loadURL(`http://127.0.0.1:${HTTP_PORT}/`)
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.whenReady().then(() => {
    startCore()
    return openWindow()
  })
  app.on('window-all-closed', () => app.quit())
}
