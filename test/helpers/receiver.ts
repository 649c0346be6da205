// A local HTTP receiver for callbackUrl POSTs (§7, §7.12): each endpoint is its own URL (path) answering with
// the status its `answer` says, and records every request.
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from './mqtt.ts'

export interface Hit<T> {
  method: string
  headers: IncomingHttpHeaders
  body: T
  /** The body's top-level keys in the order they were sent. */
  keys: string[]
  contentType: string | undefined
  /** What the receiver answered. */
  status: number
}

export interface Endpoint<T> {
  url: string
  hits(): Hit<T>[]
  /** Waits until at least n POSTs arrived; returns them all. */
  received(n: number, timeoutMs?: number): Promise<Hit<T>[]>
}

export async function startReceiver<T extends object>(pathPrefix: string) {
  const hits = new Map<string, Hit<T>[]>()
  const answers = new Map<string, (previous: number) => number>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const list = hits.get(path) ?? []
      const status = (answers.get(path) ?? (() => 404))(list.length)
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T
      list.push({
        method: req.method ?? '',
        headers: req.headers,
        body,
        keys: Object.keys(body),
        contentType: req.headers['content-type'],
        status,
      })
      hits.set(path, list)
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  let n = 0
  return {
    port,
    /** A fresh URL; `answer(previous)` is the status for a POST after `previous` earlier ones to it. */
    endpoint(answer: (previous: number) => number = () => 200, userinfo = ''): Endpoint<T> {
      n += 1
      const path = `${pathPrefix}/${n}`
      answers.set(path, answer)
      const all = () => hits.get(path) ?? []
      return {
        url: `http://${userinfo}127.0.0.1:${port}${path}`,
        hits: all,
        received: (count, timeoutMs) =>
          waitFor(
            () => (all().length >= count ? all() : undefined),
            `${count} POST(s) to ${path}`,
            timeoutMs,
          ),
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
