// Serial instruments, writing (issue 8): desired state (§4.8) and commands (§8.1) become Modbus writes — FC 5, 6,
// 15, 16 — through the command ledger: DELIVERED once the frame is on the bus, then SUCCESSFUL, FAILED with the
// Modbus exception, or TIMEOUT when the slave does not answer. The slave simulator holds what was written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CommandRow } from '../../src/store/repos/commands.ts'
import { waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { openSerialSite, type SerialSite } from '../helpers/serial-site.ts'

interface CommandView {
  commandId: string
  status: string
  result: { resultCode: string; resultDetail: Record<string, unknown> | null } | null
}

describe.runIf(requireProgram('socat'))('serial writes over a PTY (Modbus RTU)', () => {
  let site: SerialSite
  let hvac: string
  /** Every status each command went through, from the gateway's event bus. */
  const statuses = new Map<string, string[]>()

  beforeAll(async () => {
    site = await openSerialSite(
      {
        baudRate: 38400,
        turnaroundMs: 2,
        slaves: [
          {
            unitId: 3,
            nodeId: 'hvac-3',
            serviceId: 'Hvac',
            pollMs: 200,
            timeoutMs: 150,
            retries: 1,
            points: [
              {
                name: 'setpoint',
                function: 'holding',
                address: 100,
                dataType: 'int16',
                scale: 0.1,
                writable: true,
              },
              {
                name: 'limit',
                function: 'holding',
                address: 102,
                dataType: 'float32',
                wordOrder: 'little',
                writable: true,
              },
              { name: 'mode', function: 'holding', address: 104, writable: true, writeMultiple: true },
              { name: 'locked', function: 'holding', address: 106, writable: true },
              { name: 'relay', function: 'coil', address: 10, writable: true },
              { name: 'outputs', function: 'coil', address: 20, count: 3, writable: true },
              { name: 'reading', function: 'input', address: 0 },
            ],
          },
        ],
      },
      { setup: (sim) => sim.unit(3) },
    )
    hvac = site.deviceId('hvac-3')
    site.gw.gateway.bus.on('command.status', ({ command }: { command: CommandRow }) => {
      statuses.set(command.command_id, [...(statuses.get(command.command_id) ?? []), command.status])
    })
    await waitFor(async () => (await site.deviceStatus(hvac)) === 'ONLINE', 'hvac ONLINE')
  })
  afterAll(async () => {
    await site?.close()
  })

  const command = async (paras: Record<string, unknown>) => {
    const res = await site.api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
      deviceId: hvac,
      command: { serviceId: 'Hvac', method: 'WRITE', paras },
    })
    expect(res.status).toBe(201)
    return res.body.commandId as string
  }
  const ended = (commandId: string) =>
    waitFor(async () => {
      const page = await site.api<{ data: CommandView[] }>(
        'GET',
        `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${hvac}`,
      )
      const c = page.body.data.find((d) => d.commandId === commandId)
      return c && !['PENDING', 'SENT', 'DELIVERED'].includes(c.status) ? c : undefined
    }, `command ${commandId} ended`)
  const writesSince = (from: number) =>
    site.sim.requests
      .slice(from)
      .filter((r) => [5, 6, 15, 16].includes(r.fc))
      .map((r) => [r.fc, r.address, r.quantity])

  it('writes desired values with FC 6 (scaled int16) and FC 16 (float32, low word first), then reports them', async () => {
    const from = site.sim.requests.length
    const put = await site.api('PUT', `/iocm/app/shadow/v1.5.0/devices/${hvac}`, {
      serviceDesireds: [{ serviceId: 'Hvac', desired: { setpoint: 21.5, limit: -12.25 } }],
    })
    expect(put.status).toBe(200)
    const unit = site.sim.unit(3)
    await waitFor(() => unit.holding[100] === 215, 'setpoint register = 215')
    await waitFor(() => unit.getFloat('holding', 102, 'CDAB') === -12.25, 'limit registers = -12.25')
    expect(writesSince(from)).toEqual([
      [6, 100, 1],
      [16, 102, 2],
    ])
    const row = await waitFor(
      () => (site.gw.gateway.store.commands.inFlight().length === 0 ? lastDesired() : undefined),
      'desired command ended',
    )
    expect(row.status).toBe('SUCCESSFUL')
    expect(statuses.get(row.command_id)).toEqual(expect.arrayContaining(['SENT', 'DELIVERED', 'SUCCESSFUL']))
    // The written points are read back: the shadow's reported section follows, and the desired state settles.
    await waitFor(async () => {
      const r = await site.reported(hvac, 'Hvac')
      return r?.setpoint === 21.5 && r.limit === -12.25
    }, 'reported setpoint and limit')
    await waitFor(
      () => site.gw.gateway.store.shadows.get(hvac, 'Hvac')?.desired_status === 'SETTLED',
      'desired SETTLED',
    )
  })

  const lastDesired = () =>
    site.gw.gateway.store.db
      .prepare("SELECT * FROM commands WHERE device_id = ? AND origin = 'desired' ORDER BY seq DESC LIMIT 1")
      .get(hvac) as CommandRow | undefined

  it('writes a coil with FC 5 and several coils with FC 15 for a command; DELIVERED, then SUCCESSFUL', async () => {
    const from = site.sim.requests.length
    const id = await command({ relay: true, outputs: [true, false, true] })
    const done = await ended(id)
    expect(done.status).toBe('SUCCESSFUL')
    expect(done.result?.resultDetail).toEqual({ written: { relay: true, outputs: [true, false, true] } })
    // DELIVERED when the first frame was on the bus (the driver's PUBACK), before the slave's answer.
    expect(statuses.get(id)?.filter((s) => s !== 'PENDING')).toEqual(['SENT', 'DELIVERED', 'SUCCESSFUL'])
    const unit = site.sim.unit(3)
    expect([unit.coils[10], unit.coils[20], unit.coils[21], unit.coils[22]]).toEqual([1, 1, 0, 1])
    expect(writesSince(from)).toEqual([
      [5, 10, 1],
      [15, 20, 3],
    ])
  })

  it('writes one register with FC 16 when the point asks for writeMultiple', async () => {
    const from = site.sim.requests.length
    const done = await ended(await command({ mode: 7 }))
    expect(done.status).toBe('SUCCESSFUL')
    expect(site.sim.unit(3).holding[104]).toBe(7)
    expect(writesSince(from)).toEqual([[16, 104, 1]])
  })

  it('ends FAILED with the Modbus exception the slave answers', async () => {
    site.sim.unit(3).exceptions.set('6:106', 3)
    const done = await ended(await command({ locked: 1 }))
    expect(done.status).toBe('FAILED')
    expect(done.result?.resultDetail).toMatchObject({ exceptionCode: 3, property: 'locked' })
    expect(String(done.result?.resultDetail?.reason)).toMatch(/exception 3/i)
    expect(site.sim.unit(3).holding[106]).toBe(0)
    const slave = await site.slave(3)
    expect(slave.exceptions).toBeGreaterThanOrEqual(1)
    expect(slave.state).toBe('online') // an exception is an answer: the slave is alive
  })

  it('ends TIMEOUT when the slave does not answer the write (after its retry)', async () => {
    const unit = site.sim.unit(3)
    unit.ignore.add(5)
    try {
      const from = site.sim.requests.length
      const done = await ended(await command({ relay: false }))
      expect(done.status).toBe('TIMEOUT')
      expect(String(done.result?.resultDetail?.reason)).toMatch(/no response from unit 3/)
      // The frame went out twice (retries: 1), and the slave applied neither.
      expect(writesSince(from)).toEqual([
        [5, 10, 1],
        [5, 10, 1],
      ])
      expect(unit.coils[10]).toBe(1)
    } finally {
      unit.ignore.delete(5)
    }
    expect(await site.deviceStatus(hvac)).toBe('ONLINE')
  })

  it('refuses, writing nothing, a value for a read-only point, an unknown property or a value out of range', async () => {
    const from = site.sim.requests.length
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ reading: 5 }, /Hvac\.reading is not writable/],
      [{ setpoint: 20, nonsense: 1 }, /Hvac\.nonsense is not a point of hvac-3/],
      [{ setpoint: 4000 }, /out of range for int16/],
      [{ relay: 'on' }, /expected true or false/],
    ]
    for (const [paras, reason] of cases) {
      const done = await ended(await command(paras))
      expect(done.status).toBe('FAILED')
      expect(String(done.result?.resultDetail?.reason)).toMatch(reason)
    }
    expect(writesSince(from)).toEqual([])
    expect(site.sim.unit(3).holding[100]).toBe(215)
  })
})
