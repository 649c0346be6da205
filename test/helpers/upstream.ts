import type { GatewayConfig } from '../../src/config/schema.ts'

export const GW_ID = 'site-gw-1'
export const GW_SECRET = 'cloud-secret-1'

/** A startGateway config step: upstream sync to `url` as GW_ID, with short reconnect waits. */
export function upstreamConfig(url: string, extra: Partial<GatewayConfig['upstream']> = {}) {
  return (c: GatewayConfig) => {
    c.upstream = {
      ...c.upstream,
      url,
      deviceId: GW_ID,
      secret: GW_SECRET,
      initialBackoffMs: 50,
      maxBackoffMs: 400,
      ...extra,
    }
    if (process.env.SYNC_DEBUG) c.log.level = 'debug'
  }
}
