// The parts of @xmpp/client 0.14 (no bundled types) that sitegate uses.
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events'
  import type { Element, Node } from 'ltx'

  export interface Jid {
    local: string
    domain: string
    resource: string
    bare(): Jid
    toString(): string
  }

  export type XmppStatus =
    | 'offline'
    | 'connecting'
    | 'connect'
    | 'opening'
    | 'open'
    | 'online'
    | 'closing'
    | 'close'
    | 'disconnecting'
    | 'disconnect'

  export interface Reconnect extends EventEmitter {
    /** Wait before the next reconnection attempt (ms); read each time one is scheduled. */
    delay: number
    start(): void
    stop(): void
  }

  export interface XmppClient extends EventEmitter {
    status: XmppStatus
    jid: Jid | null
    reconnect: Reconnect
    start(): Promise<Jid>
    stop(): Promise<unknown>
    disconnect(): Promise<unknown>
    send(element: Element): Promise<void>
    on(event: 'online', listener: (jid: Jid) => void): this
    on(event: 'offline', listener: () => void): this
    on(event: 'status', listener: (status: XmppStatus) => void): this
    on(event: 'stanza', listener: (stanza: Element) => void): this
    on(event: 'error', listener: (err: Error & { condition?: string }) => void): this
    on(event: string, listener: (...args: unknown[]) => void): this
  }

  export interface ClientOptions {
    service: string
    domain?: string
    resource?: string
    username?: string
    password?: string
    timeout?: number
  }

  export function client(options: ClientOptions): XmppClient
  export function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: (Node | Node[])[]
  ): Element
  export function jid(text: string): Jid
}

declare module '@xmpp/tls/lib/Socket.js' {
  /** The TLS socket @xmpp/tls (xmpps://) and @xmpp/starttls both open, through `connect(options)`. */
  export default class Socket {
    connect(options: import('node:tls').ConnectionOptions): void
  }
}
