// Serial instruments, faults (issue 8): the port is exclusively the gateway's; when the PTY disappears (socat
// killed, as an unplugged USB adapter) the devices go OFFLINE, commands wait in the ledger, the gateway keeps
// serving, and it reopens the port with back-off until socat is back with the same link names, then resumes.
import { SerialPort } from 'serialport'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { openSerialSite, type SerialSite } from '../helpers/serial-site.ts'

describe.runIf(requireProgram('socat'))('serial port removed and restored', () => {
  let site: SerialSite
  let noise: string

  beforeAll(async () => {
    site = await openSerialSite(
      {
        baudRate: 9600,
        reopenMinMs: 100,
        reopenMaxMs: 400,
        slaves: [
          {
            unitId: 5,
            nodeId: 'noise-5',
            serviceId: 'Noise',
            pollMs: 100,
            timeoutMs: 200,
            points: [
              { name: 'level', function: 'input', address: 0, scale: 0.1 },
              { name: 'threshold', function: 'holding', address: 1, writable: true },
            ],
          },
        ],
      },
      {
        setup: (sim) => {
          sim.unit(5).input[0] = 654
        },
      },
    )
    noise = site.deviceId('noise-5')
    await waitFor(async () => (await site.reported(noise, 'Noise'))?.level === 65.4, 'level reported')
  })
  afterAll(async () => {
    await site?.close()
  })

  it('holds the port exclusively: a second opener is refused', async () => {
    const intruder = new SerialPort({ path: site.pty.gatewayPath, baudRate: 9600, autoOpen: false })
    const err = await new Promise<Error | null>((resolve) => intruder.open((e) => resolve(e)))
    expect(err?.message).toMatch(/lock/i)
    expect((await site.port()).state).toBe('open')
  })

  it('goes OFFLINE when the PTY disappears, keeps commands in the ledger, and resumes when it is back', async () => {
    await site.pty.pull()
    await waitFor(async () => (await site.deviceStatus(noise)) === 'OFFLINE', 'device OFFLINE')
    const lost = await waitFor(async () => {
      const p = await site.port()
      return p.state !== 'open' && p.openAttempts >= 2 ? p : undefined
    }, 'reopen attempts')
    expect(lost.lastError).toBeTruthy()
    expect(lost.nextOpenAttempt).not.toBeNull()
    expect(lost.slaves[0]).toMatchObject({ state: 'offline', quarantined: false })

    // A desired value set while the bus is away waits (PENDING) for the device.
    const put = await site.api('PUT', `/iocm/app/shadow/v1.5.0/devices/${noise}`, {
      serviceDesireds: [{ serviceId: 'Noise', desired: { threshold: 85 } }],
    })
    expect(put.status).toBe(200)
    expect(site.gw.gateway.store.shadows.get(noise, 'Noise')?.desired_status).toBe('PENDING')

    site.sim.unit(5).input[0] = 712
    await site.pty.plugIn()
    await site.sim.reopen()
    await waitFor(async () => (await site.port()).state === 'open', 'port open again')
    await waitFor(async () => (await site.deviceStatus(noise)) === 'ONLINE', 'device ONLINE again')
    await waitFor(async () => (await site.reported(noise, 'Noise'))?.level === 71.2, 'new level reported')
    await waitFor(() => site.sim.unit(5).holding[1] === 85, 'threshold written after the outage')
    await waitFor(
      () => site.gw.gateway.store.shadows.get(noise, 'Noise')?.desired_status === 'SETTLED',
      'desired SETTLED',
    )
  })

  it('survives the PTY going away again and again', async () => {
    for (let i = 0; i < 3; i++) {
      await site.pty.pull()
      await waitFor(async () => (await site.deviceStatus(noise)) === 'OFFLINE', `OFFLINE (${i})`)
      site.sim.unit(5).input[0] = 100 + i
      await site.pty.plugIn()
      await site.sim.reopen()
      await waitFor(
        async () => (await site.reported(noise, 'Noise'))?.level === 10 + i / 10,
        `level after outage ${i}`,
      )
    }
    expect(await site.deviceStatus(noise)).toBe('ONLINE')
  })
})
