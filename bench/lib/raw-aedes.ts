// Baseline broker for bench/ingest.ts: plain aedes 1.x, default in-memory persistence, no auth, on a free
// port of 127.0.0.1. Prints {"port": N} once listening; SIGTERM closes it.
import { type AddressInfo, createServer } from 'node:net'
import { Aedes } from 'aedes'

const broker = await Aedes.createBroker()
const server = createServer(broker.handle)
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
process.once('SIGTERM', () => {
  server.close()
  broker.close(() => process.exit(0))
})
