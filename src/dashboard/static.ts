import { existsSync, readFileSync } from 'node:fs'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'

/** Where `npm run build:renderer` (vite) puts the dashboard; beside dist/ in an installed app too. */
export const RENDERER_DIST = fileURLToPath(new URL('../../renderer/dist/', import.meta.url))

/**
 * The dashboard's Content-Security-Policy: its own scripts and styles only, API calls and the event stream to
 * this origin, snapshots shown from blob: URLs (they are fetched with the token, an <img> cannot send it).
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sitegate</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem">
<h1>sitegate</h1>
<p>The gateway is running, but the dashboard is not built: run <code>npm run build:renderer</code>
(<code>npm start</code> does it when needed). The LAN REST API is served under <code>/iocm/app/…</code>.</p>
<p lang="zh">网关正在运行，但仪表盘尚未构建：请运行 <code>npm run build:renderer</code>。</p>
</body></html>`

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', DASHBOARD_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
}

/**
 * Serves the built dashboard at `/` and its hashed files under `/assets/` (no credentials: it is a static page
 * that signs in itself). Files are read per request, so a rebuild is served without a restart. Routing in the
 * page is by URL hash, so no other path is taken from the API prefixes.
 */
export function dashboardStatic(app: FastifyInstance, dir = RENDERER_DIST): void {
  app.get('/', { config: { auth: false }, schema: { hide: true } }, async (_request, reply) => {
    const index = join(dir, 'index.html')
    const page = existsSync(index) ? readFileSync(index) : NOT_BUILT
    return securityHeaders(reply).type(TYPES['.html']!).header('cache-control', 'no-cache').send(page)
  })
  app.get('/assets/*', { config: { auth: false }, schema: { hide: true } }, async (request, reply) => {
    const rest = (request.params as { '*': string })['*']
    const root = join(dir, 'assets')
    const file = normalize(join(root, rest))
    const type = TYPES[extname(file)]
    // Only plain files under assets/ with a known type: no traversal, no directory listings.
    if (!file.startsWith(root + sep) || type === undefined || !existsSync(file)) {
      return reply.status(404).type('text/plain').send('not found')
    }
    return securityHeaders(reply)
      .type(type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(readFileSync(file))
  })
}
