// Worker thread side of startLoad: connects its share of the clients, then runs phases on request.
import { parentPort, workerData } from 'node:worker_threads'
import { connectLoad, type Load, type LoadOptions } from './load.ts'

const port = parentPort!
const reply = (p: Promise<unknown>) =>
  p.then(
    (result) => port.postMessage({ ok: true, result }),
    (err: unknown) => port.postMessage({ ok: false, error: String((err as Error).stack ?? err) }),
  )

let load: Load | undefined
void reply(
  connectLoad(workerData as LoadOptions).then((l) => {
    load = l
  }),
)
port.on('message', (msg: { run?: number; close?: boolean }) => {
  if (msg.run !== undefined) void reply(load!.run(msg.run))
  else if (msg.close) void reply(load!.close())
})
