import type { MenuItemConstructorOptions } from 'electron'
import type { CoreStatus } from './core-host.ts'

const STATE_TEXT: Record<CoreStatus['state'], string> = {
  starting: 'starting',
  running: 'running',
  restarting: 'restarting',
  failed: 'stopped after repeated crashes',
  stopped: 'stopped',
}

/** The tray's tooltip: the core's state and how often it was restarted. */
export function trayTooltip(status: CoreStatus): string {
  const restarts = status.restarts > 0 ? ` (restarted ${status.restarts}×)` : ''
  return `sitegate: ${STATE_TEXT[status.state]}${restarts}`
}

/** The tray menu: status (a label), open, restart the core, start at login, quit (not in kiosk mode). */
export function trayMenu(
  status: CoreStatus,
  opts: { kiosk: boolean; startAtLogin: boolean },
  actions: {
    open: () => void
    restartCore: () => void
    toggleStartAtLogin: (on: boolean) => void
    quit: () => void
  },
): MenuItemConstructorOptions[] {
  const items: MenuItemConstructorOptions[] = [
    { label: trayTooltip(status), enabled: false },
    { type: 'separator' },
    { label: 'Open dashboard', click: actions.open },
    { label: 'Restart gateway core', click: actions.restartCore, enabled: status.state !== 'starting' },
    {
      label: 'Start at login',
      type: 'checkbox',
      checked: opts.startAtLogin,
      click: (item) => actions.toggleStartAtLogin(item.checked),
    },
  ]
  // A kiosk is left by its operator through the OS, not by a passer-by on the touch screen.
  if (!opts.kiosk) items.push({ type: 'separator' }, { label: 'Quit sitegate', click: actions.quit })
  return items
}
