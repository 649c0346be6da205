// Electron shell (thin by design: every decision is in the pure modules beside this file, tested under Node).
// The core runs as plain Node in a utilityProcess (ARCHITECTURE rule 5: the core never imports electron).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { app, BrowserWindow, ipcMain, Menu, nativeImage, session, Tray } from 'electron'
import { CoreHost } from './core-host.ts'
import { statusPage, withCsp } from './csp.ts'
import { booleanArg, IPC, trustedSender } from './ipc.ts'
import { coreArgs, launchOptions, loginItemSettings, settingsFromConfig } from './launch-options.ts'
import { allowNavigation, allowPermission, dashboardOrigin, windowOpenAction } from './navigation-policy.ts'
import { DEFAULT_RESTART, RestartPolicy } from './restart-policy.ts'
import { trayMenu, trayTooltip } from './tray-menu.ts'
import { windowOptions } from './window-options.ts'

const configFile = join(app.getPath('userData'), 'sitegate.yaml')
const opts = launchOptions(
  process.argv,
  settingsFromConfig(existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined),
)
const origin = dashboardOrigin(opts.httpPort)
const preload = join(import.meta.dirname, '..', 'preload', 'index.cjs')
let win: BrowserWindow | undefined
let tray: Tray | undefined

const core = new CoreHost(
  join(import.meta.dirname, '..', 'cli.js'),
  coreArgs({
    dataDir: join(app.getPath('userData'), 'data'),
    configFile: existsSync(configFile) ? configFile : undefined,
    httpPort: opts.httpPort,
  }),
  new RestartPolicy({ ...DEFAULT_RESTART, kiosk: opts.kiosk }),
)

function openWindow(): void {
  if (win) {
    win.show()
    win.focus()
    return
  }
  win = new BrowserWindow(windowOptions(preload, { kiosk: opts.kiosk }))
  if (opts.kiosk) win.removeMenu()
  const contents = win.webContents
  contents.setWindowOpenHandler(windowOpenAction)
  contents.on('will-navigate', (e, url) => allowNavigation(url, origin) || e.preventDefault())
  contents.on('will-redirect', (e, url) => allowNavigation(url, origin) || e.preventDefault())
  contents.on('will-attach-webview', (e) => e.preventDefault())
  // A crashed or hung renderer is reloaded (a kiosk has nobody to press F5).
  contents.on('render-process-gone', () => win?.reload())
  win.on('unresponsive', () => opts.kiosk && win?.reload())
  win.once('ready-to-show', () => win?.show())
  win.on('closed', () => {
    win = undefined
  })
  void showCore()
}

async function showCore(): Promise<void> {
  if (!win) return
  const s = core.status
  if (s.state === 'running') await win.loadURL(`${origin}/`)
  else await win.loadURL(statusPage(`sitegate core: ${s.state}`, s.lastError ?? ''))
}

function updateTray(): void {
  if (!tray) return
  tray.setToolTip(trayTooltip(core.status))
  tray.setContextMenu(
    Menu.buildFromTemplate(
      trayMenu(core.status, opts, {
        open: openWindow,
        restartCore: () => core.restartNow(),
        toggleStartAtLogin: (on) => setStartAtLogin(on),
        quit: () => app.quit(),
      }),
    ),
  )
}

function setStartAtLogin(on: boolean): void {
  opts.startAtLogin = on
  app.setLoginItemSettings(loginItemSettings(opts))
  updateTray()
}

function handle(channel: string, fn: (arg: unknown) => unknown): void {
  ipcMain.handle(channel, (event, arg: unknown) => {
    const from = BrowserWindow.fromWebContents(event.sender)?.id
    if (!trustedSender(event.senderFrame, origin, from, win?.id)) throw new Error('refused')
    return fn(arg)
  })
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', openWindow)
  app.whenReady().then(() => {
    if (opts.kiosk) Menu.setApplicationMenu(null)
    session.defaultSession.setPermissionRequestHandler((_wc, permission, done) =>
      done(allowPermission(permission)),
    )
    session.defaultSession.webRequest.onHeadersReceived((details, done) =>
      done({ responseHeaders: withCsp(details.responseHeaders) }),
    )
    handle(IPC.coreStatus, () => core.status)
    handle(IPC.restartCore, () => core.restartNow())
    handle(IPC.setStartAtLogin, (on) => setStartAtLogin(booleanArg(on)))
    core.on('status', (status) => {
      updateTray()
      win?.webContents.send(IPC.coreStatusChanged, status)
      if (status.state !== 'running') void showCore()
    })
    core.on('listening', () => void showCore())
    tray = new Tray(nativeImage.createFromPath(join(import.meta.dirname, '..', '..', 'build', 'icon.png')))
    updateTray()
    app.setLoginItemSettings(loginItemSettings(opts))
    core.start()
    openWindow()
  })
  // The app lives in the tray on the desktop; a kiosk never closes its window.
  app.on('window-all-closed', () => {})
  app.on('before-quit', (e) => {
    if (core.status.state === 'stopped') return
    e.preventDefault()
    void core.stop().then(() => app.exit(0))
  })
}
