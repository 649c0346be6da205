// Serial instruments, reading (issue 8): a real gateway polls Modbus RTU slaves over a socat PTY pair; the slave
// simulator answers with real RTU frames through a real serial port. Values arrive in the shadow, history and
// outbox like an MQTT device's; the bus is polled one frame at a time; a corrupted response is retried; a slave
// that stops answering is quarantined (OFFLINE) without stopping the other, and comes back on its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lane } from '../../src/store/repos/outbox.ts'
import { waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import { openSerialSite, type SerialSite, waitForSlave } from '../helpers/serial-site.ts'

const TURNAROUND_MS = 5

describe.runIf(requireProgram('socat'))('serial polling over a PTY (Modbus RTU)', () => {
  let site: SerialSite
  let meter: string
  let dust: string

  beforeAll(async () => {
    site = await openSerialSite(
      {
        baudRate: 19200,
        parity: 'even',
        turnaroundMs: TURNAROUND_MS,
        slaves: [
          {
            unitId: 1,
            nodeId: 'power-meter-1',
            name: 'Power meter',
            serviceId: 'Power',
            pollMs: 100,
            timeoutMs: 150,
            retries: 1,
            quarantineAfter: 2,
            reprobeMs: 200,
            reprobeMaxMs: 400,
            points: [
              { name: 'voltage', function: 'holding', address: 0, dataType: 'int16', scale: 0.1 },
              { name: 'energy', function: 'input', address: 10, dataType: 'uint32' },
              { name: 'temperature', function: 'input', address: 12, dataType: 'int16', offset: -40 },
              { name: 'relay', function: 'coil', address: 0 },
              { name: 'door', function: 'discrete', address: 3 },
              { name: 'abcd', function: 'holding', address: 20, dataType: 'float32' },
              { name: 'cdab', function: 'holding', address: 22, dataType: 'float32', wordOrder: 'little' },
              { name: 'badc', function: 'holding', address: 24, dataType: 'float32', byteOrder: 'little' },
              {
                name: 'dcba',
                function: 'holding',
                address: 26,
                dataType: 'float32',
                wordOrder: 'little',
                byteOrder: 'little',
              },
              { name: 'phases', function: 'input', address: 30, count: 3, dataType: 'int16' },
            ],
          },
          {
            unitId: 2,
            nodeId: 'dust-2',
            pollMs: 100,
            timeoutMs: 150,
            retries: 1,
            quarantineAfter: 2,
            reprobeMs: 200,
            reprobeMaxMs: 400,
            points: [
              { name: 'pm25', serviceId: 'Dust', function: 'input', address: 0, scale: 0.1 },
              { name: 'pm10', serviceId: 'Dust', function: 'input', address: 1, scale: 0.1 },
            ],
          },
        ],
      },
      {
        setup: (sim) => {
          const u1 = sim.unit(1)
          u1.holding[0] = 2301 // 230.1 V
          u1.input[10] = 0x0001
          u1.input[11] = 0x1170 // 70000
          u1.input[12] = 65 // 65 − 40 = 25 °C
          u1.input[30] = 1
          u1.input[31] = 0xffff // −1
          u1.input[32] = 3
          u1.coils[0] = 1
          u1.discrete[3] = 0
          u1.setFloat('holding', 20, 12.5, 'ABCD')
          u1.setFloat('holding', 22, -3.75, 'CDAB')
          u1.setFloat('holding', 24, 1013.25, 'BADC')
          u1.setFloat('holding', 26, 0.1, 'DCBA')
          const u2 = sim.unit(2)
          u2.input[0] = 351
          u2.input[1] = 802
          // An instrument that takes a while to answer: a master that does not wait would overlap it.
          u2.responseDelayMs = 15
        },
      },
    )
    meter = site.deviceId('power-meter-1')
    dust = site.deviceId('dust-2')
  })
  afterAll(async () => {
    await site?.close()
  })

  it('registers each configured slave as a device with its nodeId, ONLINE once it answers', async () => {
    const res = await site.api<{ deviceInfo: Record<string, unknown> }>(
      'GET',
      `/iocm/app/dm/v1.4.0/devices/${meter}`,
    )
    expect(res.status).toBe(200)
    expect(res.body.deviceInfo).toMatchObject({
      nodeId: 'power-meter-1',
      name: 'Power meter',
      protocolType: 'ModbusRTU',
    })
    await waitFor(async () => (await site.deviceStatus(meter)) === 'ONLINE', 'meter ONLINE')
    await waitFor(async () => (await site.deviceStatus(dust)) === 'ONLINE', 'dust sensor ONLINE')
  })

  it('decodes, scales and offsets every data type, and every float word and byte order', async () => {
    const power = await waitFor(async () => {
      const r = await site.reported(meter, 'Power')
      return r && Object.keys(r).length === 10 ? r : undefined
    }, 'all 10 meter properties reported')
    expect(power).toEqual({
      voltage: 230.1,
      energy: 70000,
      temperature: 25,
      relay: true,
      door: false,
      abcd: 12.5,
      cdab: -3.75,
      badc: 1013.25,
      dcba: 0.1,
      phases: [1, -1, 3],
    })
    const dustValues = await waitFor(async () => {
      const r = await site.reported(dust, 'Dust')
      return r && Object.keys(r).length === 2 ? r : undefined
    }, 'dust reported')
    expect(dustValues).toEqual({ pm25: 35.1, pm10: 80.2 })
  })

  it('follows changes, stores history and queues telemetry and shadow rows for the cloud', async () => {
    site.sim.unit(2).input[0] = 420
    await waitFor(async () => (await site.reported(dust, 'Dust'))?.pm25 === 42, 'pm25 = 42 reported')
    const history = await site.api<{
      totalCount: number
      deviceDataHistoryDTOs: { data: { pm25: number } }[]
    }>(
      'GET',
      `/iocm/app/data/v1.2.0/deviceDataHistory?deviceId=${dust}&gatewayId=${dust}&serviceId=Dust&pageSize=100`,
    )
    expect(history.status).toBe(200)
    const values = history.body.deviceDataHistoryDTOs.map((d) => d.data.pm25)
    expect(values).toContain(42)
    expect(values).toContain(35.1)
    const outbox = site.gw.gateway.store.db
      .prepare('SELECT lane, count(*) AS n FROM outbox WHERE device_id = ? GROUP BY lane')
      .all(dust) as { lane: number; n: number }[]
    const lanes = new Map(outbox.map((r) => [r.lane, r.n]))
    expect(lanes.get(Lane.telemetry) ?? 0).toBeGreaterThan(0)
    expect(lanes.get(Lane.shadow) ?? 0).toBeGreaterThan(0)
  })

  it('never has two frames on the bus at once, and keeps the turnaround silence between exchanges', async () => {
    const from = site.sim.requests.length
    await waitFor(() => site.sim.requests.length >= from + 60, '60 more requests')
    const seen = site.sim.requests.slice(from)
    expect(new Set(seen.map((r) => r.unit))).toEqual(new Set([1, 2]))
    expect(site.sim.overlaps).toBe(0)
    for (let i = 1; i < seen.length; i++) {
      const previous = seen[i - 1]!
      const current = seen[i]!
      // A request never arrives before the previous one was answered, and then only after the silence.
      if (previous.respondedAt !== undefined) {
        expect(current.at - previous.respondedAt).toBeGreaterThanOrEqual(TURNAROUND_MS - 1)
      }
    }
  })

  it('retries a response with a corrupted CRC and counts it', async () => {
    const before = await site.slave(1)
    site.sim.unit(1).corruptResponses = 1
    const after = await waitForSlave(site, 1, 'a CRC error counted', (s) => s.crcErrors > before.crcErrors)
    expect(after.crcErrors).toBe(before.crcErrors + 1)
    expect(after.quarantined).toBe(false)
    expect(after.state).toBe('online')
    expect(site.sim.requestsOf(1).some((r) => r.crcCorrupted)).toBe(true)
    // The retry got the value: polling goes on and the device stays ONLINE.
    await waitForSlave(site, 1, 'more responses', (s) => s.responses > after.responses + 5)
    expect(await site.deviceStatus(meter)).toBe('ONLINE')
  })

  it('quarantines a slave that stops answering (OFFLINE), keeps polling the other, and recovers it', async () => {
    site.sim.unit(2).silent = true
    const quarantined = await waitForSlave(site, 2, 'unit 2 quarantined', (s) => s.quarantined)
    expect(quarantined.state).toBe('quarantined')
    expect(quarantined.timeouts).toBeGreaterThanOrEqual(2)
    expect(quarantined.quarantines).toBe(1)
    await waitFor(async () => (await site.deviceStatus(dust)) === 'OFFLINE', 'dust sensor OFFLINE')
    expect(await site.deviceStatus(meter)).toBe('ONLINE')

    // While quarantined, unit 2 only gets occasional re-probes; unit 1 keeps being polled.
    const u1 = site.sim.requestsOf(1).length
    const u2 = site.sim.requestsOf(2).length
    const since = Date.now()
    await waitFor(() => site.sim.requestsOf(2).length >= u2 + 2, 'two re-probes of unit 2')
    const elapsed = Date.now() - since
    expect(site.sim.requestsOf(1).length - u1).toBeGreaterThan(2)
    // Re-probes come at most every reprobeMs (200 ms, doubling to 400 ms), however long this took.
    const probes = site.sim.requestsOf(2).length - u2
    expect(probes).toBeLessThanOrEqual(Math.floor(elapsed / 200) + 1)

    site.sim.unit(2).input[1] = 999
    site.sim.unit(2).silent = false
    await waitForSlave(site, 2, 'unit 2 back online', (s) => s.state === 'online' && !s.quarantined)
    await waitFor(async () => (await site.deviceStatus(dust)) === 'ONLINE', 'dust sensor ONLINE again')
    await waitFor(async () => (await site.reported(dust, 'Dust'))?.pm10 === 99.9, 'pm10 = 99.9 reported')
  })

  it('answers per-port and per-slave counters at GET /sitegate/v1/serial, to an authenticated application', async () => {
    const port = await site.port()
    expect(port).toMatchObject({
      path: site.pty.gatewayPath,
      state: 'open',
      baudRate: 19200,
      parity: 'even',
      turnaroundMs: TURNAROUND_MS,
    })
    expect(port.requests).toBe(port.slaves.reduce((n, s) => n + s.requests, 0))
    const unit1 = port.slaves.find((s) => s.unitId === 1)!
    expect(unit1).toMatchObject({
      nodeId: 'power-meter-1',
      deviceId: meter,
      state: 'online',
      quarantined: false,
    })
    expect(unit1.requests).toBeGreaterThan(10)
    expect(Date.parse(unit1.lastSuccess!)).toBeGreaterThan(Date.now() - 60_000)
    const all = await site.api<{ available: unknown[] }>('GET', '/sitegate/v1/serial')
    expect(Array.isArray(all.body.available)).toBe(true)

    const anonymous = await fetch(`${site.gw.httpUrl}/sitegate/v1/serial`)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({ error_code: '100025' })
  })
})
