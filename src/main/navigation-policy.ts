/**
 * Where the window may go: the dashboard's own origin only (http://127.0.0.1:{port}). Everything else —
 * another origin, file:, javascript:, data: — is refused, and so are new windows. A site PC's browser is the
 * place for other pages.
 */
export function dashboardOrigin(port: number): string {
  return `http://127.0.0.1:${port}`
}

export function isDashboardUrl(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin
  } catch {
    return false
  }
}

/** `will-navigate`/`will-redirect`: allowed only inside the dashboard. */
export function allowNavigation(url: string, origin: string): boolean {
  return isDashboardUrl(url, origin)
}

/** `setWindowOpenHandler`: no new windows, ever (the dashboard opens none). */
export function windowOpenAction(): { action: 'deny' } {
  return { action: 'deny' }
}

/** Permission requests (camera, microphone, notifications, geolocation, …): the dashboard needs none. */
export function allowPermission(_permission: string): boolean {
  return false
}
