// Baseline broker for bench/ingest.ts and bench/command-rtt.ts: plain aedes 1.x, default in-memory persistence,
// no auth, on a free port of 127.0.0.1 (or the port given); `--no-delay` turns Nagle's algorithm off on its
// sockets. Prints {"port": N} once listening; SIGTERM closes it.
import { type AddressInfo, createServer } from 'node:net'
import { Aedes } from 'aedes'

const broker = await Aedes.createBroker()
const args = process.argv.slice(2)
const server = createServer({ noDelay: args.includes('--no-delay') }, broker.handle)
server.listen(Number(args.find((a) => !a.startsWith('-')) ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`)
})
process.once('SIGTERM', () => {
  server.close()
  broker.close(() => process.exit(0))
})
