// Baseline server for bench/rest.ts: bare fastify (no auth, no SQLite, no plugins, no logger) on a free port of
// 127.0.0.1, answering the gateway's two benchmarked routes with bodies read from a JSON file
// ({"shadow": <a §4.9 shadow body>, "batch": <a §5.2 batch query body>}), serialised per request as the
// gateway does. Prints {"port": N} once listening; SIGTERM closes it.
//   node --import tsx bench/lib/bare-fastify.ts BODIES.json
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'

const file = process.argv[2]
if (!file) throw new Error('usage: bare-fastify.ts BODIES.json')
const bodies = JSON.parse(readFileSync(file, 'utf8')) as { shadow: Record<string, unknown>; batch: unknown }

const app = Fastify()
app.get('/iocm/app/shadow/v1.5.0/devices/:deviceId', async (request) => ({
  ...bodies.shadow,
  deviceId: (request.params as { deviceId: string }).deviceId,
}))
app.get('/iocm/app/dm/v1.4.0/devices', async () => bodies.batch)

await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port })}\n`)
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
