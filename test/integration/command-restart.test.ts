// The command ledger across a restart of the real CLI (`tsx src/cli.ts start`, SIGTERM and SIGKILL) in the middle
// of its work: what was PENDING, SENT, DELIVERED or SUCCESSFUL when the gateway went down, and what the devices
// (mqtt.js simulators) and the REST API (§8.2) see once it is back.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  registerDevice,
  removeDir,
  type SpawnedGateway,
  spawnGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { deviceOptions, openDevice, waitFor } from '../helpers/mqtt.ts'
import {
  type AnswerPolicy,
  answerSuccess,
  type SimulatedDevice,
  simulateDevice,
} from '../helpers/simulator.ts'

// Each case starts node + tsx twice and waits out a response timeout.
vi.setConfig({ testTimeout: 90_000 })

/**
 * The response timeout of these gateways: long enough that a command sent just before the restart is still
 * awaiting its answer when its device is back (a restart takes a few seconds), short enough to wait for.
 */
const RESPONSE_TIMEOUT_MS = 15_000

interface CommandView {
  commandId: string
  status: string
  command: { method: string }
  result: { resultCode: string; resultDetail: Record<string, unknown> | null } | null
  issuedTimes: number | null
}

const children: SpawnedGateway[] = []
const sims: SimulatedDevice[] = []
const clients: MqttClient[] = []
const dirs: string[] = []

afterEach(async () => {
  try {
    for (const sim of sims.splice(0)) await sim.close()
    for (const c of clients.splice(0)) c.end(true)
    for (const g of children.splice(0)) {
      if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL')
      await g.exited
    }
  } finally {
    for (const d of dirs.splice(0)) removeDir(d)
  }
})

/** A data directory with a config file setting the response timeout. */
function siteDir(): { dir: string; config: string } {
  const dir = tempDir('sitegate-cmd-restart-')
  dirs.push(dir)
  const config = join(dir, 'sitegate.yaml')
  // The test polls the command list: more than the default 100 calls a minute (§1.5 has its own test).
  writeFileSync(
    config,
    `commands:\n  responseTimeoutMs: ${RESPONSE_TIMEOUT_MS}\nhttp:\n  throttle:\n    maxCalls: 0\n    windowSeconds: 60\n`,
  )
  return { dir, config }
}

/** `sitegate start` as a user runs it, on free loopback ports, with a REST session of the first application. */
async function startCli(site: { dir: string; config: string }) {
  const g = await spawnGateway([
    '--config',
    site.config,
    '--data-dir',
    site.dir,
    '--host',
    '127.0.0.1',
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--log-level',
    'info',
  ])
  children.push(g)
  const httpUrl = `http://127.0.0.1:${g.httpPort}`
  const mqttUrl = `mqtt://127.0.0.1:${g.mqttPort}`
  const session = await login(httpUrl, firstApp(site.dir))
  return { g, httpUrl, mqttUrl, session, ...rest(httpUrl, session) }
}

/** Stops the child with `signal` and returns how it exited. */
async function stopCli(g: SpawnedGateway, signal: 'SIGTERM' | 'SIGKILL') {
  g.child.kill(signal)
  const exit = await g.exited
  children.splice(children.indexOf(g), 1)
  return exit
}

function rest(httpUrl: string, session: AppSession) {
  const api = (method: string, path: string, body?: unknown) => callApi(httpUrl, session, method, path, body)
  const list = async (deviceId: string) =>
    (await api('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${deviceId}`)).body.data as CommandView[]
  const command = async (deviceId: string, commandId: string) =>
    (await list(deviceId)).find((c) => c.commandId === commandId)
  return {
    /** §8.1 with default options; returns the commandId. */
    create: async (deviceId: string, method: string) => {
      const res = await api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
        deviceId,
        command: { serviceId: 'Light', method, paras: { level: 4 } },
      })
      expect(res.status).toBe(201)
      return res.body.commandId as string
    },
    command,
    statusBecomes: (deviceId: string, commandId: string, status: string, timeoutMs = 10_000) =>
      waitFor(
        async () => {
          const c = await command(deviceId, commandId)
          return c?.status === status ? c : undefined
        },
        `command ${commandId} ${status}`,
        timeoutMs,
      ),
  }
}

async function device(gw: { httpUrl: string; session: AppSession }, nodeId: string) {
  const d = await registerDevice(gw.httpUrl, gw.session, nodeId)
  return { deviceId: d.deviceId, login: { id: d.deviceId, secret: d.secret } }
}

async function online(mqttUrl: string, login: { id: string; secret: string }, policy: AnswerPolicy) {
  const sim = await simulateDevice(mqttUrl, login, policy)
  sims.push(sim)
  return sim
}

async function offline(sim: SimulatedDevice) {
  sims.splice(sims.indexOf(sim), 1)
  await sim.close()
}

describe('PENDING commands across a crash', () => {
  it('commands answered 201 survive SIGKILL and reach the device in creation order once it connects', async () => {
    const site = siteDir()
    const first = await startCli(site)
    const d = await device(first, 'restart-pending')
    const ids: string[] = []
    for (const method of ['FIRST', 'SECOND', 'THIRD']) ids.push(await first.create(d.deviceId, method))
    // Killed right after the last 201: nothing but the acknowledgement says the commands exist.
    expect(await stopCli(first.g, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })

    const second = await startCli(site)
    for (const id of ids) expect((await second.command(d.deviceId, id))?.status).toBe('PENDING')
    const sim = await online(second.mqttUrl, d.login, answerSuccess)
    await sim.waitForCommands(3)
    for (const id of ids) await second.statusBecomes(d.deviceId, id, 'SUCCESSFUL')
    expect(sim.received.map((r) => r.cmd)).toEqual(['FIRST', 'SECOND', 'THIRD'])
  })
})

describe.each(['SIGTERM', 'SIGKILL'] as const)('a restart (%s) in the middle of the ledger', (signal) => {
  it('SENT goes again, DELIVERED is not sent again and ends TIMEOUT, SUCCESSFUL stays, PENDING follows', async () => {
    const site = siteDir()
    const first = await startCli(site)

    // Answered before the restart.
    const done = await device(first, 'restart-done')
    const doneSim = await online(first.mqttUrl, done.login, answerSuccess)
    const doneId = await first.create(done.deviceId, 'DONE')
    const doneBefore = await first.statusBecomes(done.deviceId, doneId, 'SUCCESSFUL')
    await offline(doneSim)

    // Acknowledged (PUBACK) but never answered; a second command waits behind it.
    const acked = await device(first, 'restart-delivered')
    const ackedSim = await online(first.mqttUrl, acked.login, () => 'silent')
    const unansweredId = await first.create(acked.deviceId, 'UNANSWERED')
    await first.statusBecomes(acked.deviceId, unansweredId, 'DELIVERED')
    const behindId = await first.create(acked.deviceId, 'BEHIND')
    expect((await first.command(acked.deviceId, behindId))?.status).toBe('PENDING')
    expect(ackedSim.received.map((r) => r.cmd)).toEqual(['UNANSWERED'])

    // SENT to a device that was connected but not listening on its command topic, then left: it never got it.
    const missed = await device(first, 'restart-sent')
    const plain = await openDevice(first.mqttUrl, deviceOptions(missed.login))
    clients.push(plain.client)
    const sentId = await first.create(missed.deviceId, 'MISSED')
    await first.statusBecomes(missed.deviceId, sentId, 'SENT')
    plain.client.end(true)

    const exit = await stopCli(first.g, signal)
    expect(exit).toEqual(signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' })
    await offline(ackedSim)

    const second = await startCli(site)
    // The SENT one is still awaiting its answer; it goes again when its device listens.
    expect((await second.command(missed.deviceId, sentId))?.status).toBe('SENT')
    const missedSim = await online(second.mqttUrl, missed.login, answerSuccess)
    await second.statusBecomes(missed.deviceId, sentId, 'SUCCESSFUL')
    expect(missedSim.received.map((r) => r.cmd)).toEqual(['MISSED'])

    // The DELIVERED one is not sent again: it times out at its deadline, then the one behind it goes.
    const ackedAgain = await online(second.mqttUrl, acked.login, answerSuccess)
    expect((await second.command(acked.deviceId, unansweredId))?.status).toBe('DELIVERED')
    const timedOut = await second.statusBecomes(
      acked.deviceId,
      unansweredId,
      'TIMEOUT',
      RESPONSE_TIMEOUT_MS + 10_000,
    )
    expect(timedOut.result?.resultCode).toBe('TIMEOUT')
    expect(timedOut.issuedTimes).toBe(1)
    await second.statusBecomes(acked.deviceId, behindId, 'SUCCESSFUL')
    expect(ackedAgain.received.map((r) => r.cmd)).toEqual(['BEHIND'])

    // The SUCCESSFUL one is unchanged and never sent again.
    expect(await second.command(done.deviceId, doneId)).toEqual(doneBefore)
    const doneAgain = await online(second.mqttUrl, done.login, answerSuccess)
    const nextId = await second.create(done.deviceId, 'NEXT')
    await second.statusBecomes(done.deviceId, nextId, 'SUCCESSFUL')
    expect(doneAgain.received.map((r) => r.cmd)).toEqual(['NEXT'])
  })
})
