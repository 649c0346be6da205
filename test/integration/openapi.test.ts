// The LAN API's OpenAPI document (/openapi.json) and docs page (/docs), generated from the route schemas.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { compileAllSchemas } from '../../src/api/server.ts'
import { type RunningGateway, removeDir, startGateway } from '../helpers/gateway.ts'

let gw: RunningGateway
beforeAll(async () => {
  gw = await startGateway()
})
afterAll(async () => {
  await gw.stop()
  removeDir(gw.dataDir)
})

interface OpenApi {
  openapi: string
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>
  >
  components: { securitySchemes: Record<string, unknown> }
}

it('/openapi.json describes the API from the schemas that validate it, without credentials', async () => {
  const res = await fetch(`${gw.httpUrl}/openapi.json`)
  expect(res.status).toBe(200)
  const doc = (await res.json()) as OpenApi
  expect(doc.openapi).toMatch(/^3\./)
  expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['app_key', 'bearer'])
  for (const path of [
    '/iocm/app/sec/v1.1.0/login',
    '/iocm/app/reg/v2.0.0/deviceCredentials',
    '/iocm/app/dm/v1.4.0/devices/{deviceId}',
    '/iocm/app/cmd/v1.4.0/deviceCommands',
    '/iocm/app/sub/v1.2.0/subscriptions',
    '/iot/v1/application/device/rpc/async',
  ]) {
    expect(doc.paths, path).toHaveProperty([path])
  }
  // The §8.1 body schema is the one the route validates with: maxRetransmit 0..3.
  const create = doc.paths['/iocm/app/cmd/v1.4.0/deviceCommands']!.post!.requestBody as {
    content: {
      'application/json': { schema: { properties: { maxRetransmit: { minimum: number; maximum: number } } } }
    }
  }
  expect(create.content['application/json'].schema.properties.maxRetransmit).toMatchObject({
    minimum: 0,
    maximum: 3,
  })
  // §8.2 query parameters are listed.
  const list = doc.paths['/iocm/app/cmd/v1.4.0/deviceCommands']!.get!
  expect(list.parameters?.map((p) => p.name)).toEqual(
    expect.arrayContaining(['pageNo', 'pageSize', 'deviceId']),
  )
})

it('/docs serves a human-readable page', async () => {
  const res = await fetch(`${gw.httpUrl}/docs/`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/text\/html/)
  expect(await res.text()).toMatch(/swagger/i)
})

it('every schema the routes declare compiles (the validators and serializers are built on first use)', () => {
  // fastify would refuse to start on a schema ajv or fast-json-stringify cannot compile; compiled lazily, this
  // is where such a schema shows.
  // Dozens of routes, each with a validator per request part and a serializer per response status.
  expect(compileAllSchemas(gw.gateway.api)).toBeGreaterThan(100)
  // All of them now: nothing is left to compile.
  expect(compileAllSchemas(gw.gateway.api)).toBe(0)
})
