// A local HTTP receiver for §7.12 command status notifications (platform-rest-api.md): every POST is timed on
// arrival (monotonic nowMs) and answered 200 at once.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nowMs } from './proc.ts'

export interface StatusNotification {
  deviceId: string
  commandId: string
  result: { resultCode: string; resultDetail: unknown }
}

export interface CallbackReceiver {
  /** http://127.0.0.1:PORT */
  url: string
  /** Requests that were not a JSON notification (answered 400). */
  malformed: number
  close(): Promise<void>
}

export async function startCallbackReceiver(
  onNotification: (n: StatusNotification, at: number, path: string) => void,
): Promise<CallbackReceiver> {
  const receiver = { url: '', malformed: 0, close: async () => {} }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = nowMs()
      let n: StatusNotification
      try {
        n = JSON.parse(Buffer.concat(chunks).toString()) as StatusNotification
        if (typeof n.commandId !== 'string' || typeof n.result?.resultCode !== 'string') throw new Error()
      } catch {
        receiver.malformed += 1
        res.writeHead(400).end()
        return
      }
      res.writeHead(200).end()
      onNotification(n, at, req.url ?? '/')
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return receiver
}
