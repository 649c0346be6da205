// Baseline broker for the benchmarks: plain aedes 1.x, default in-memory persistence, no auth, on a free port of
// 127.0.0.1 (or the port given); `--no-delay` turns Nagle's algorithm off on its sockets. Prints {"port": N} once
// listening; SIGTERM closes it. Plain JavaScript, so that it runs without a TypeScript loader (whose own memory
// would be counted against the baseline's RSS in bench/soak).
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const broker = await Aedes.createBroker()
const args = process.argv.slice(2)
const server = createServer({ noDelay: args.includes('--no-delay') }, broker.handle)
server.listen(Number(args.find((a) => !a.startsWith('-')) ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})
process.once('SIGTERM', () => {
  server.close()
  broker.close(() => process.exit(0))
})
