/** A request waiting for an HTTP camera's next POST, and the ledger mid it carries. */
export interface MailboxItem {
  commandId: string
  mid: number
  request: Record<string, unknown>
}

/**
 * Requests for HTTP cameras (upload_type 0), which the gateway cannot call: a camera is reachable only while
 * one of its POSTs is being answered, and the requests put here then travel in that response (README
 * "Cameras": the `requests` field).
 */
export class HttpMailbox {
  private readonly items = new Map<string, MailboxItem[]>()
  private readonly listening = new Map<string, number>()
  private readonly waiters = new Map<string, Set<() => void>>()

  /** A POST of this camera is being handled: requests can be put in its response. */
  open(deviceId: string): void {
    this.listening.set(deviceId, (this.listening.get(deviceId) ?? 0) + 1)
  }

  close(deviceId: string): void {
    const n = (this.listening.get(deviceId) ?? 1) - 1
    if (n > 0) this.listening.set(deviceId, n)
    else this.listening.delete(deviceId)
  }

  isOpen(deviceId: string): boolean {
    return this.listening.has(deviceId)
  }

  put(deviceId: string, item: MailboxItem): void {
    const list = this.items.get(deviceId) ?? []
    // A command sent again (retransmission, resend after a restart) replaces its earlier copy.
    const rest = list.filter((i) => i.commandId !== item.commandId)
    rest.push(item)
    this.items.set(deviceId, rest)
    this.wake(deviceId)
  }

  /** Ends the waits of a camera's POST without a request (its command was refused before sending). */
  wake(deviceId: string): void {
    for (const wake of this.waiters.get(deviceId) ?? []) wake()
  }

  has(deviceId: string): boolean {
    return (this.items.get(deviceId)?.length ?? 0) > 0
  }

  take(deviceId: string): MailboxItem[] {
    const list = this.items.get(deviceId) ?? []
    this.items.delete(deviceId)
    return list
  }

  /** Resolves when a request is put for the camera, or after `ms`. */
  wait(deviceId: string, ms: number): Promise<void> {
    if (this.has(deviceId) || ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const set = this.waiters.get(deviceId) ?? new Set()
      this.waiters.set(deviceId, set)
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0) this.waiters.delete(deviceId)
        resolve()
      }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }

  forget(deviceId: string): void {
    this.items.delete(deviceId)
  }
}
