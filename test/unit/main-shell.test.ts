// The Electron shell's decisions, under plain Node. electron itself is mocked (the only mock allowed: its
// binary cannot run here): utilityProcess.fork hands back a fake child the tests drive.
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

class FakeChild extends EventEmitter {
  stdout = new PassThrough()
  stderr = new PassThrough()
  killed = false
  constructor(
    readonly modulePath: string,
    readonly args: string[],
  ) {
    super()
  }
  kill(): boolean {
    this.killed = true
    setImmediate(() => this.emit('exit', 0))
    return true
  }
}

const forks: FakeChild[] = []
vi.mock('electron', () => ({
  utilityProcess: {
    fork: (modulePath: string, args: string[]) => {
      const child = new FakeChild(modulePath, args)
      forks.push(child)
      return child
    },
  },
}))

const { CoreHost, listeningHttpPort } = await import('../../src/main/core-host.ts')
const { RestartPolicy, DEFAULT_RESTART } = await import('../../src/main/restart-policy.ts')
const { windowOptions, secureWebPreferences } = await import('../../src/main/window-options.ts')
const nav = await import('../../src/main/navigation-policy.ts')
const launch = await import('../../src/main/launch-options.ts')
const { IPC, trustedSender, booleanArg } = await import('../../src/main/ipc.ts')
const { trayMenu, trayTooltip } = await import('../../src/main/tray-menu.ts')
const { withCsp } = await import('../../src/main/csp.ts')
const { validateConfig } = await import('../../src/config/load.ts')
const { defaultConfig } = await import('../../src/config/schema.ts')

const LISTENING =
  '{"level":30,"listeners":[{"kind":"mqtt","host":"0.0.0.0","port":1883},{"kind":"http","host":"0.0.0.0","port":8080}],"msg":"sitegate listening: …"}\n'

describe('window security', () => {
  it('isolates the renderer: no Node, sandboxed, context isolation, the preload only', () => {
    const prefs = secureWebPreferences('/app/preload/index.cjs')
    expect(prefs).toMatchObject({
      preload: '/app/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    })
  })

  it('kiosk: full screen, frameless, no devtools, cannot be closed from the window', () => {
    const o = windowOptions('/p.cjs', { kiosk: true })
    expect(o).toMatchObject({
      kiosk: true,
      fullscreen: true,
      frame: false,
      closable: false,
      autoHideMenuBar: true,
    })
    expect(o.webPreferences?.devTools).toBe(false)
  })

  it('desktop: a resizable window no smaller than the 1024×600 panel, devtools available', () => {
    const o = windowOptions('/p.cjs', { kiosk: false })
    expect(o.kiosk).toBeUndefined()
    expect(o).toMatchObject({ minWidth: 1024, minHeight: 600 })
    expect(o.webPreferences?.devTools).toBe(true)
    expect(o.webPreferences?.sandbox).toBe(true)
  })
})

describe('navigation policy', () => {
  const origin = nav.dashboardOrigin(8080)

  it('stays inside the dashboard', () => {
    expect(nav.allowNavigation('http://127.0.0.1:8080/#/devices', origin)).toBe(true)
    expect(nav.allowNavigation('http://127.0.0.1:8080/docs', origin)).toBe(true)
  })

  it('refuses other origins, ports, schemes and junk', () => {
    for (const url of [
      'http://127.0.0.1:8081/',
      'https://127.0.0.1:8080/',
      'http://localhost:8080/',
      'https://example.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'data:text/html,<h1>x</h1>',
      'not a url',
    ]) {
      expect(nav.allowNavigation(url, origin), url).toBe(false)
    }
  })

  it('opens no new windows and grants no permissions', () => {
    expect(nav.windowOpenAction()).toEqual({ action: 'deny' })
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal'])
      expect(nav.allowPermission(p)).toBe(false)
  })
})

describe('launch options', () => {
  it('--kiosk or app.kiosk: true turns kiosk mode on; --no-kiosk wins over the file', () => {
    expect(launch.launchOptions(['electron', '.', '--kiosk'], {}).kiosk).toBe(true)
    const file = launch.settingsFromConfig('app:\n  kiosk: true\n  startAtLogin: true\nhttp:\n  port: 9090\n')
    expect(file).toEqual({ kiosk: true, startAtLogin: true, httpPort: 9090 })
    expect(launch.launchOptions(['electron', '.'], file)).toEqual({
      kiosk: true,
      startAtLogin: true,
      httpPort: 9090,
    })
    expect(launch.launchOptions(['electron', '.', '--no-kiosk'], file).kiosk).toBe(false)
    expect(launch.launchOptions(['electron', '.'], {})).toEqual({
      kiosk: false,
      startAtLogin: false,
      httpPort: 8080,
    })
  })

  it('ignores a malformed file or wrongly typed keys (the core reports the file itself)', () => {
    expect(launch.settingsFromConfig(': : [')).toEqual({})
    expect(launch.settingsFromConfig('app:\n  kiosk: "yes"\nhttp:\n  port: false\n')).toEqual({})
    expect(launch.settingsFromConfig(undefined)).toEqual({})
  })

  it('starts at login with the same mode, and runs the core with its data under userData', () => {
    expect(launch.loginItemSettings({ kiosk: true, startAtLogin: true, httpPort: 8080 })).toEqual({
      openAtLogin: true,
      args: ['--kiosk'],
    })
    expect(launch.coreArgs({ dataDir: '/u/data', configFile: '/u/sitegate.yaml', httpPort: 8080 })).toEqual([
      'start',
      '--data-dir',
      '/u/data',
      '--http-port',
      '8080',
      '--config',
      '/u/sitegate.yaml',
    ])
  })

  it('the gateway config accepts the app section the shell reads', () => {
    const c = defaultConfig()
    expect(validateConfig({ ...c, app: { kiosk: true, startAtLogin: false } }).app?.kiosk).toBe(true)
    expect(() => validateConfig({ ...c, app: { kiosk: 'yes' } })).toThrow(/app/)
  })
})

describe('restart policy', () => {
  it('restarts at once, then backs off doubling up to the cap while the core keeps dying young', () => {
    const p = new RestartPolicy({ ...DEFAULT_RESTART, maxQuickRestarts: 100 })
    const delays = Array.from({ length: 9 }, () => (p.onExit(0, 1000) as { delayMs: number }).delayMs)
    expect(delays).toEqual([0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
  })

  it('a core that ran long enough counts as healthy again', () => {
    const p = new RestartPolicy()
    p.onExit(0, 1000)
    p.onExit(0, 1000)
    expect(p.onExit(0, 120_000)).toEqual({ restart: true, delayMs: 0, attempt: 1 })
  })

  it('on the desktop it gives up after repeated quick crashes; a kiosk never does', () => {
    const desktop = new RestartPolicy({ ...DEFAULT_RESTART, maxQuickRestarts: 3 })
    const kiosk = new RestartPolicy({ ...DEFAULT_RESTART, maxQuickRestarts: 3, kiosk: true })
    const d = Array.from({ length: 4 }, () => desktop.onExit(0, 10).restart)
    const k = Array.from({ length: 10 }, () => kiosk.onExit(0, 10).restart)
    expect(d).toEqual([true, true, true, false])
    expect(k.every(Boolean)).toBe(true)
    desktop.reset()
    expect(desktop.onExit(0, 10).restart).toBe(true)
  })
})

describe('core host (utilityProcess)', () => {
  beforeEach(() => {
    forks.length = 0
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })
  afterEach(() => vi.useRealTimers())

  it('reads the HTTP port from the listening line', () => {
    expect(listeningHttpPort(LISTENING.trim())).toBe(8080)
    expect(listeningHttpPort('{"msg":"other"}')).toBeUndefined()
    expect(listeningHttpPort('sitegate listening but not JSON')).toBeUndefined()
  })

  it('starts the core, reports it running, and restarts it (counted) when it dies', async () => {
    const host = new CoreHost('/app/dist/cli.js', ['start'], new RestartPolicy())
    const states: string[] = []
    const ports: number[] = []
    host.on('status', (s) => states.push(s.state))
    host.on('listening', (p) => ports.push(p))
    host.start()
    expect(forks).toHaveLength(1)
    expect(forks[0]!.modulePath).toBe('/app/dist/cli.js')
    forks[0]!.stdout.write(LISTENING.slice(0, 40))
    forks[0]!.stdout.write(LISTENING.slice(40))
    await vi.waitFor(() => expect(ports).toEqual([8080]))
    expect(host.status.state).toBe('running')

    forks[0]!.stderr.write('sitegate: failed: disk full\n')
    await new Promise((r) => setImmediate(r))
    forks[0]!.emit('exit', 1)
    expect(host.status).toMatchObject({ state: 'restarting', restarts: 1, lastExitCode: 1 })
    expect(host.status.lastError).toContain('disk full')
    vi.advanceTimersByTime(0)
    expect(forks).toHaveLength(2)
    forks[1]!.stdout.write(LISTENING)
    await vi.waitFor(() => expect(host.status.state).toBe('running'))
    expect(states).toEqual(['starting', 'running', 'restarting', 'restarting', 'running'])
  })

  it('backs off between quick deaths and stops restarting on the desktop after too many', () => {
    const host = new CoreHost('/cli.js', [], new RestartPolicy({ ...DEFAULT_RESTART, maxQuickRestarts: 2 }))
    host.start()
    forks[0]!.emit('exit', 1)
    vi.advanceTimersByTime(0)
    forks[1]!.emit('exit', 1)
    expect(host.status.nextRestartAt).toBe(Date.now() + 500)
    vi.advanceTimersByTime(499)
    expect(forks).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(forks).toHaveLength(3)
    forks[2]!.emit('exit', 1)
    expect(host.status.state).toBe('failed')
    vi.advanceTimersByTime(60_000)
    expect(forks).toHaveLength(3)
  })

  it('stop() asks the core to stop and restarts nothing', async () => {
    vi.useRealTimers()
    const host = new CoreHost('/cli.js', [], new RestartPolicy())
    host.start()
    await host.stop()
    expect(forks[0]!.killed).toBe(true)
    expect(host.status.state).toBe('stopped')
    await new Promise((r) => setTimeout(r, 20))
    expect(forks).toHaveLength(1)
  })
})

describe('IPC, tray and CSP', () => {
  const origin = 'http://127.0.0.1:8080'

  it('takes IPC only from the dashboard window main frame at its origin', () => {
    const main = { url: `${origin}/#/overview`, parent: null }
    expect(trustedSender(main, origin, 1, 1)).toBe(true)
    expect(trustedSender({ url: `${origin}/`, parent: {} }, origin, 1, 1)).toBe(false)
    expect(trustedSender({ url: 'https://evil.example/', parent: null }, origin, 1, 1)).toBe(false)
    expect(trustedSender(main, origin, 2, 1)).toBe(false)
    expect(trustedSender(null, origin, 1, 1)).toBe(false)
    expect(booleanArg(true)).toBe(true)
    expect(() => booleanArg('true')).toThrow(TypeError)
  })

  it('the preload uses the same channel names as the main process', () => {
    const preload = readFileSync(new URL('../../src/preload/index.cts', import.meta.url), 'utf8')
    for (const channel of Object.values(IPC)) expect(preload).toContain(`'${channel}'`)
    expect(preload).not.toMatch(/nodeIntegration|require\(['"](?!electron)/)
  })

  it('the tray shows status and restarts; a kiosk tray has no Quit', () => {
    const status = {
      state: 'restarting' as const,
      restarts: 3,
      lastExitCode: 1,
      nextRestartAt: null,
      lastError: null,
    }
    expect(trayTooltip(status)).toBe('sitegate: restarting (restarted 3×)')
    const noop = () => {}
    const actions = { open: noop, restartCore: noop, toggleStartAtLogin: noop, quit: noop }
    const desktop = trayMenu(status, { kiosk: false, startAtLogin: false }, actions).map((i) => i.label)
    const kiosk = trayMenu(status, { kiosk: true, startAtLogin: true }, actions).map((i) => i.label)
    expect(desktop).toContain('Quit sitegate')
    expect(kiosk).not.toContain('Quit sitegate')
    expect(kiosk).toContain('Open dashboard')
  })

  it('adds the shell CSP only where a response has none', () => {
    expect(withCsp({ 'content-type': ['text/html'] })['Content-Security-Policy']?.[0]).toMatch(
      /default-src 'self'/,
    )
    const own = withCsp({ 'content-security-policy': ["default-src 'none'"] })
    expect(own['Content-Security-Policy']).toBeUndefined()
  })
})

describe('architecture rule 5', () => {
  it('only src/main and src/preload import electron', async () => {
    const { readdirSync, statSync } = await import('node:fs')
    const { join } = await import('node:path')
    const root = new URL('../../src/', import.meta.url).pathname
    const offenders: string[] = []
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name)
        if (statSync(path).isDirectory()) {
          if (!['main', 'preload'].includes(name) || dir !== root.replace(/\/$/, '')) walk(path)
        } else if (
          /\.(ts|cts|mts)$/.test(name) &&
          /from ['"]electron['"]|require\(['"]electron['"]\)/.test(readFileSync(path, 'utf8'))
        ) {
          offenders.push(path)
        }
      }
    }
    walk(root.replace(/\/$/, ''))
    expect(offenders).toEqual([])
  })
})
