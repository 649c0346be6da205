import { networkInterfaces } from 'node:os'

/**
 * The gateway's HTTP base URL as a camera on the LAN reaches it (upgrade_dev package_url, C.8): the configured
 * host, or — when it listens on every address — the first non-internal IPv4 address of the machine.
 */
export function lanBaseUrl(host: string, listeners: { kind: string; port: number }[]): string {
  const http = listeners.find((l) => l.kind === 'http') ?? listeners.find((l) => l.kind === 'https')
  const scheme = http?.kind === 'https' ? 'https' : 'http'
  let address = host
  if (host === '0.0.0.0' || host === '::') {
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)
    address = lan?.address ?? '127.0.0.1'
  }
  const hostPart = address.includes(':') ? `[${address}]` : address
  return `${scheme}://${hostPart}:${http?.port ?? 80}`
}
