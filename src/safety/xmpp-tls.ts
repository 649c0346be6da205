// TLS options (trusted CA, certificate check) for the XMPP client's TLS sockets. @xmpp/client 0.14 opens them
// with only a host name — for xmpps:// in @xmpp/tls and for STARTTLS in @xmpp/starttls — so a site Openfire
// with a self-signed certificate could not be trusted without trusting it process-wide. Both go through one
// class, @xmpp/tls's Socket; its `connect` is wrapped once to add the options of the client whose connection
// this is. The client runs its connection inside `withTlsOptions`, and AsyncLocalStorage carries them to the
// socket callbacks (STARTTLS happens in a data handler of the TCP socket, reconnections in a timer), so
// another XMPP client in the same process is not affected.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { ConnectionOptions } from 'node:tls'
import TlsSocket from '@xmpp/tls/lib/Socket.js'

export interface XmppTlsOptions {
  ca?: Buffer | undefined
  rejectUnauthorized: boolean
}

const current = new AsyncLocalStorage<XmppTlsOptions>()
let installed = false

function install(): void {
  if (installed) return
  installed = true
  const connect = TlsSocket.prototype.connect
  TlsSocket.prototype.connect = function connectWithSiteOptions(this: TlsSocket, options: ConnectionOptions) {
    const extra = current.getStore()
    const merged: ConnectionOptions = extra
      ? {
          ...options,
          rejectUnauthorized: extra.rejectUnauthorized,
          ...(extra.ca ? { ca: extra.ca } : {}),
        }
      : options
    connect.call(this, merged)
  }
}

/** Runs `fn` (which opens the XMPP connection) so that its TLS sockets use `options`. */
export function withTlsOptions<T>(options: XmppTlsOptions, fn: () => T): T {
  install()
  return current.run(options, fn)
}
