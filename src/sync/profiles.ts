import type { GatewayConfig } from '../config/schema.ts'
import { OneJsonProfile } from './onejson-profile.ts'
import { PlatformProfile } from './platform-profile.ts'
import type { UpstreamProfile } from './profile.ts'

/** The profile the config names (config/load.ts checked that its identity is complete). */
export function profileOf(config: GatewayConfig['upstream']): UpstreamProfile {
  const id = config.deviceId ?? ''
  const secret = config.secret ?? ''
  return config.profile === 'onejson'
    ? new OneJsonProfile(config.productId ?? '', id, secret)
    : new PlatformProfile(id, secret)
}
