/**
 * The CSP the shell enforces on every response the window gets, in case the page's own (src/dashboard/static.ts)
 * is missing — e.g. the "core is restarting" page the shell shows itself.
 */
export const SHELL_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

/** Response headers with the shell's CSP added when the response has none. */
export function withCsp(headers: Record<string, string[]> | undefined): Record<string, string[]> {
  const out = { ...(headers ?? {}) }
  const has = Object.keys(out).some((k) => k.toLowerCase() === 'content-security-policy')
  if (!has) out['Content-Security-Policy'] = [SHELL_CSP]
  return out
}

/** The page shown while the core is not serving: plain HTML, no script. */
export function statusPage(title: string, detail: string): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)
  return `data:text/html;charset=utf-8,${encodeURIComponent(
    `<!doctype html><meta charset="utf-8"><title>sitegate</title>` +
      `<body style="font-family:system-ui,sans-serif;margin:3rem"><h1>${esc(title)}</h1><pre>${esc(detail)}</pre>`,
  )}`
}
