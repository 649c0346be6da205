import { parse } from 'yaml'

/** How the shell runs: from the command line and the `app:` section of the gateway's config file. */
export interface LaunchOptions {
  kiosk: boolean
  startAtLogin: boolean
  /** The core's HTTP port (the dashboard's origin); 8080 unless the config says otherwise. */
  httpPort: number
}

/** `app.kiosk`, `app.startAtLogin` and `http.port` of a config file's text; anything malformed is ignored here
 * (the core validates the file and refuses to start on a bad one, which the window then shows). */
export function settingsFromConfig(yamlText: string | undefined): Partial<LaunchOptions> {
  if (yamlText === undefined) return {}
  let doc: unknown
  try {
    doc = parse(yamlText)
  } catch {
    return {}
  }
  const d = (doc ?? {}) as { app?: { kiosk?: unknown; startAtLogin?: unknown }; http?: { port?: unknown } }
  const out: Partial<LaunchOptions> = {}
  if (typeof d.app?.kiosk === 'boolean') out.kiosk = d.app.kiosk
  if (typeof d.app?.startAtLogin === 'boolean') out.startAtLogin = d.app.startAtLogin
  if (typeof d.http?.port === 'number' && d.http.port > 0 && d.http.port < 65536) out.httpPort = d.http.port
  return out
}

/** `--kiosk` / `--no-kiosk` on the command line win over the config file. */
export function launchOptions(argv: readonly string[], fromConfig: Partial<LaunchOptions>): LaunchOptions {
  const kiosk = argv.includes('--kiosk')
    ? true
    : argv.includes('--no-kiosk')
      ? false
      : (fromConfig.kiosk ?? false)
  return {
    kiosk,
    startAtLogin: fromConfig.startAtLogin ?? false,
    httpPort: fromConfig.httpPort ?? 8080,
  }
}

/** The OS login item: start with the session, in kiosk mode when that is how it runs. */
export function loginItemSettings(opts: LaunchOptions): { openAtLogin: boolean; args: string[] } {
  return { openAtLogin: opts.startAtLogin, args: opts.kiosk ? ['--kiosk'] : [] }
}

/** The core's command line inside the utilityProcess: data under the app's userData directory. */
export function coreArgs(opts: {
  dataDir: string
  configFile: string | undefined
  httpPort: number
}): string[] {
  return [
    'start',
    '--data-dir',
    opts.dataDir,
    '--http-port',
    String(opts.httpPort),
    ...(opts.configFile ? ['--config', opts.configFile] : []),
  ]
}
