// The REST API through a real HTTP socket: every route the gateway's own OpenAPI document lists, called with
// fuzzed path parameters, query strings, headers and bodies (bodies built from the route's schema, then
// mutated). Properties: never a 5xx; a refused call (4xx) commits nothing (SQLite data_version unchanged).
import { ERROR_CATALOGUE, type ErrorCode } from '../../../src/errors.ts'
import { login } from '../../helpers/gateway.ts'
import type { FuzzGateway } from '../gateway-env.ts'
import { type FuzzTarget, refusedByClient, Violation } from '../harness.ts'
import { mutateBytes, mutateJson, randomJson, randomString } from '../mutate.ts'
import type { Rng } from '../prng.ts'

type Schema = Record<string, unknown>

interface Route {
  method: string
  path: string
  pathParams: string[]
  query: { name: string; schema: Schema }[]
  body: Schema | undefined
  contentType: string | undefined
}

interface OpenApiOperation {
  parameters?: { in: string; name: string; schema?: Schema }[]
  requestBody?: { content?: Record<string, { schema?: Schema }> }
}

async function routesOf(httpUrl: string): Promise<Route[]> {
  const doc = (await (await fetch(`${httpUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, OpenApiOperation>>
  }
  const routes: Route[] = []
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = op.parameters ?? []
      const [contentType, media] = Object.entries(op.requestBody?.content ?? {})[0] ?? []
      routes.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: media?.schema,
        contentType,
      })
    }
  }
  return routes
}

/** A value that satisfies `schema` (mostly: enums, bounds, required keys), for mutation to start from. */
function exampleOf(schema: Schema | undefined, rng: Rng, depth = 0): unknown {
  if (!schema || depth > 5) return randomJson(rng, 3)
  const anyOf = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (anyOf?.length) return exampleOf(rng.pick(anyOf), rng, depth + 1)
  if (Array.isArray(schema.enum)) return rng.pick(schema.enum)
  if (schema.const !== undefined) return schema.const
  const type = Array.isArray(schema.type)
    ? rng.pick(schema.type as string[])
    : (schema.type as string | undefined)
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      const required = new Set((schema.required as string[] | undefined) ?? [])
      for (const [k, s] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) {
        if (required.has(k) || rng.chance(0.5)) out[k] = exampleOf(s, rng, depth + 1)
      }
      return out
    }
    case 'array':
      return Array.from(
        { length: rng.int(Number(schema.minItems ?? 0), Math.min(3, Number(schema.maxItems ?? 3))) },
        () => exampleOf(schema.items as Schema, rng, depth + 1),
      )
    case 'integer':
    case 'number': {
      const min = Number(schema.minimum ?? 0)
      const max = Number(schema.maximum ?? min + 100)
      return rng.int(min, Math.max(min, Math.min(max, min + 1000)))
    }
    case 'boolean':
      return rng.chance(0.5)
    case 'string': {
      if (schema.format === 'uri') return 'http://127.0.0.1:9/cb'
      const n = Math.max(Number(schema.minLength ?? 1), 1)
      return 'x'.repeat(Math.min(n, 64))
    }
    default:
      return randomJson(rng, 3)
  }
}

function queryValue(schema: Schema, rng: Rng): string {
  if (rng.chance(0.5)) return String(exampleOf(schema, rng))
  return rng.chance(0.5)
    ? randomString(rng).slice(0, 200)
    : String(rng.pick([-1, 0, 1e9, 1.5, 'NaN', '', '%']))
}

export function restTargets(env: FuzzGateway): FuzzTarget[] {
  let routes: Route[] | undefined
  let headers = env.session.headers
  const ids = () => [
    env.spare.deviceId,
    env.device.deviceId.slice(0, 8),
    '0',
    '..',
    'a/b',
    '%2e%2e',
    '__proto__',
  ]
  return [
    {
      name: 'rest:routes',
      weight: 4,
      async one(rng) {
        routes ??= await routesOf(env.gw.httpUrl)
        const route = rng.pick(routes)
        let path = route.path
        for (const p of route.pathParams) {
          const id = rng.chance(0.3)
            ? env.spare.deviceId
            : rng.chance(0.5)
              ? rng.pick(ids())
              : randomString(rng)
          path = path.replace(`{${p}}`, encodeURIComponent(Buffer.from(id.slice(0, 300)).toString('utf8')))
        }
        const query = new URLSearchParams()
        for (const q of route.query) if (rng.chance(0.5)) query.set(q.name, queryValue(q.schema, rng))
        if (rng.chance(0.1)) query.set(randomString(rng).slice(0, 50), randomString(rng).slice(0, 50))
        let search = query.toString()
        if (rng.chance(0.05)) search = mutateBytes(Buffer.from(search || 'a=b'), rng).toString('latin1')
        const sent: Record<string, string> = { ...headers }
        if (route.contentType && route.contentType !== 'application/json')
          sent['content-type'] = route.contentType
        const damage = rng.next()
        if (damage < 0.05) delete sent.app_key
        else if (damage < 0.1) sent.authorization = `Bearer ${randomString(rng).replace(/[^\x21-\x7e]/g, '')}`
        else if (damage < 0.15)
          sent['content-type'] = rng.pick([
            'text/plain',
            'application/xml',
            'application/json; charset=latin1',
            '',
          ])
        else if (damage < 0.18) sent[`x-${rng.int(0, 99)}`] = 'y'.repeat(rng.int(1, 8000))
        let body: string | Buffer | undefined
        if (route.method !== 'GET' && route.method !== 'DELETE') {
          const r = rng.next()
          const example = exampleOf(route.body, rng)
          body =
            r < 0.5
              ? JSON.stringify(mutateJson(example, rng))
              : r < 0.7
                ? JSON.stringify(example)
                : r < 0.85
                  ? JSON.stringify(randomJson(rng))
                  : mutateBytes(Buffer.from(JSON.stringify(example) ?? ''), rng)
          if (route.contentType === 'application/x-www-form-urlencoded' && rng.chance(0.7))
            body = new URLSearchParams(
              Object.entries(example as object).map(([k, v]): [string, string] => [k, String(v)]),
            ).toString()
        }
        const url = `${env.gw.httpUrl}${path}${search ? `?${search}` : ''}`
        const input = `${route.method} ${path}?${search}\n${JSON.stringify(sent)}\n${body ?? ''}`
        const before = env.version()
        let status: number
        let text = ''
        try {
          const res = await fetch(url, {
            method: route.method,
            headers: sent,
            ...(body === undefined ? {} : { body }),
          })
          text = await res.text()
          status = res.status
        } catch (err) {
          // fetch refuses some URLs and header values itself (nothing was sent).
          if (refusedByClient(err)) return
          throw new Violation(
            `request failed: ${(err as Error).message} (${String((err as { cause?: unknown }).cause)})`,
            input,
          )
        }
        // A 5xx is a finding, but for the catalogue's "a dependency is down" answer (503 109001: the XMPP server
        // is not connected — this gateway has none), which is the API's designed reply, not a failure.
        if (status >= 500 && !(status === 503 && dependencyDown(text)))
          throw new Violation(`HTTP ${status} ${text.slice(0, 200)}`, input)
        if (status >= 400 && env.version() !== before)
          throw new Violation(`a refused call (HTTP ${status}) changed the database`, input)
        // A fuzzed refreshToken or login may have replaced the session's token: log in again.
        if (
          status === 401 &&
          sent.authorization === headers.authorization &&
          sent.app_key === headers.app_key
        ) {
          headers = (await login(env.gw.httpUrl, env.app)).headers
        }
      },
    },
  ]
}

/** Whether a body is a platform error whose catalogue entry is a 503 (a dependency of the call is down). */
function dependencyDown(text: string): boolean {
  try {
    const code = (JSON.parse(text) as { error_code?: unknown }).error_code
    return typeof code === 'string' && ERROR_CATALOGUE[code as ErrorCode]?.status === 503
  } catch {
    return false
  }
}
