import type { FastifyRequest } from 'fastify'
import type { ApplicationService } from '../apps/service.ts'
import { PlatformError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated application (set by `authenticateRequest`). */
    appId: string
  }
  interface FastifyContextConfig {
    /** false for the token endpoints, which take appId + secret instead of a token. */
    auth?: boolean
    /** error_code for a request that fails schema validation (default 50400, spec §12 gateway note). */
    validationCode?: '50400' | '102202' | '100022' | '100216' | '100405' | '100228'
  }
}

/**
 * Every API except login/refresh needs `app_key` (alias `x-app-key`, spec §1.2 notes) and
 * `Authorization: Bearer {accessToken}` (spec §1.2, §1.4). Missing app_key → 401 100025; a missing, wrong or
 * expired token → 403 1010005. An `appId` query naming another application is the authorized-application
 * scenario, which a single-site gateway does not have (spec §1.6) → 403 100217.
 */
export function authenticateRequest(apps: ApplicationService, request: FastifyRequest): void {
  const appKey = request.headers.app_key ?? request.headers['x-app-key']
  if (typeof appKey !== 'string' || appKey.length === 0) throw new PlatformError('100025')
  const authorization = request.headers.authorization
  const match = typeof authorization === 'string' ? /^bearer\s+(\S+)\s*$/i.exec(authorization) : null
  if (!match) throw new PlatformError('1010005')
  request.appId = apps.authenticate(appKey, match[1]!)
  const query = request.query as Record<string, unknown> | undefined
  const asApp = query?.appId ?? query?.accessAppId
  if (asApp !== undefined && asApp !== '' && asApp !== request.appId) throw new PlatformError('100217')
}
