// HTTP and HTTPS from one fastify instance. fastify owns one server; the HTTPS listener is a second Node server
// handing its requests to the same fastify handler, so both listeners share the routes, hooks, schemas and state,
// and the core holds one copy of the API rather than one per listener (memory, issue 10).
import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'

/** fastify's default keep-alive for its own servers; servers from a `serverFactory` have to be given it. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000
/** How long a stopping listener waits for requests in progress before it drops their connections. */
const CLOSE_GRACE_MS = 5_000

export class ApiServers {
  /** The HTTPS server, when the API was built with a certificate. */
  secure: HttpsServer | undefined

  constructor(private readonly tls: { cert: Buffer; key: Buffer } | undefined) {}

  /** fastify's `serverFactory`: returns the plain server fastify listens on, and builds the TLS one beside it. */
  readonly factory = (handler: RequestListener): HttpServer => {
    const plain = createHttpServer(handler)
    plain.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
    if (this.tls) {
      const secure = createHttpsServer({ cert: this.tls.cert, key: this.tls.key }, handler)
      secure.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
      // A malformed request on the TLS listener is answered as on the plain one: by fastify's handler, which
      // fastify installs on its own server only (it writes to the socket it is given).
      secure.on('clientError', (err, socket) => plain.emit('clientError', err, socket))
      this.secure = secure
    }
    return plain
  }

  /** Starts the HTTPS listener; resolves with its port. */
  listenSecure(host: string, port: number): Promise<number> {
    const secure = this.secure
    if (!secure) return Promise.reject(new Error('the API was built without a TLS certificate'))
    return new Promise((resolve, reject) => {
      secure.once('error', reject)
      secure.listen({ host, port }, () => {
        secure.off('error', reject)
        resolve((secure.address() as AddressInfo).port)
      })
    })
  }

  /**
   * Stops the HTTPS listener: no new connections, idle ones closed now, requests in progress given
   * CLOSE_GRACE_MS to finish. Call after fastify's close() (which answers new requests 503 and ends the dashboard's
   * event streams).
   */
  closeSecure(): Promise<void> {
    const secure = this.secure
    if (!secure?.listening) return Promise.resolve()
    return new Promise((resolve) => {
      const force = setTimeout(() => secure.closeAllConnections(), CLOSE_GRACE_MS)
      secure.close(() => {
        clearTimeout(force)
        resolve()
      })
      secure.closeIdleConnections()
    })
  }
}
