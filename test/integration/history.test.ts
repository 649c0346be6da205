// Device history data (spec §5.3) read back from the history chunks ingest writes.
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  connectDevice,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { dataTopic, publishAcked } from '../helpers/mqtt.ts'

const at = (minute: number) => `20260102T03${String(minute).padStart(2, '0')}00Z`

describe('GET deviceDataHistory (§5.3)', () => {
  let gw: RunningGateway
  let session: AppSession
  let deviceId: string
  let client: MqttClient

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
    const d = await registerDevice(gw.httpUrl, session, 'history-node')
    deviceId = d.deviceId
    client = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    // Ten messages, minutes 0..9, the even ones with two services: 15 records.
    for (let m = 0; m < 10; m++) {
      const data = [{ serviceId: 'Noise', serviceData: { db: 50 + m }, eventTime: at(m) }]
      if (m % 2 === 0) data.push({ serviceId: 'Dust', serviceData: { pm25: m } as never, eventTime: at(m) })
      await publishAcked(client, dataTopic(d.deviceId), JSON.stringify({ msgType: 'deviceReq', data }))
    }
  })
  afterAll(async () => {
    client.end(true)
    await gw.stop()
    removeDir(gw.dataDir)
  })

  const history = (query: string) =>
    callApi<{
      totalCount: number
      pageNo: number
      pageSize: number
      deviceDataHistoryDTOs: Record<string, unknown>[]
      error_code?: string
    }>(gw.httpUrl, session, 'GET', `/iocm/app/data/v1.2.0/deviceDataHistory?${query}`)

  it('pageSize defaults to 1: the newest record, in the DTO shape', async () => {
    const res = await history(`deviceId=${deviceId}&gatewayId=${deviceId}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      totalCount: 15,
      pageNo: 0,
      pageSize: 1,
      deviceDataHistoryDTOs: [
        {
          serviceId: 'Noise',
          deviceId,
          gatewayId: deviceId,
          appId: session.appId,
          data: { db: 59 },
          timestamp: at(9),
        },
      ],
    })
  })

  it('pages through every record newest first, up to 2000 per page', async () => {
    const all = await history(`deviceId=${deviceId}&pageSize=2000`)
    expect(all.body.deviceDataHistoryDTOs).toHaveLength(15)
    const times = all.body.deviceDataHistoryDTOs.map((r) => r.timestamp as string)
    expect([...times].sort().reverse()).toEqual(times)
    const page2 = await history(`deviceId=${deviceId}&pageSize=4&pageNo=1`)
    expect(page2.body.deviceDataHistoryDTOs).toEqual(all.body.deviceDataHistoryDTOs.slice(4, 8))
    const beyond = await history(`deviceId=${deviceId}&pageSize=10&pageNo=5`)
    expect(beyond.body).toMatchObject({ totalCount: 15, deviceDataHistoryDTOs: [] })
  })

  it('startTime/endTime keep the records generated strictly between them', async () => {
    const res = await history(`deviceId=${deviceId}&pageSize=100&startTime=${at(2)}&endTime=${at(7)}`)
    // Minutes 3..6: Noise ×4, Dust at 4 and 6.
    expect(res.body.totalCount).toBe(6)
    expect(new Set(res.body.deviceDataHistoryDTOs.map((r) => r.timestamp))).toEqual(
      new Set([at(3), at(4), at(5), at(6)]),
    )
  })

  it('with only gatewayId, the devices under that gateway', async () => {
    const res = await history(`gatewayId=${deviceId}&pageSize=3`)
    expect(res.body.totalCount).toBe(15)
  })

  it.each([
    ['no deviceId nor gatewayId', 'pageSize=1', 400, '100419'],
    ['pageSize 2001', 'pageSize=2001', 400, '100216'],
    ['pageSize 0', 'pageSize=0', 400, '100216'],
    ['pageNo -1', 'pageNo=-1', 400, '100216'],
    ['a startTime not in platform form', 'startTime=2026-01-02', 400, '100216'],
  ])('%s → %s %s', async (_what, query, status, code) => {
    const res = await history(query.startsWith('pageSize=1') ? query : `deviceId=${deviceId}&${query}`)
    expect(res.status).toBe(status)
    expect(res.body.error_code).toBe(code)
  })

  it('an unknown device is 100418', async () => {
    expect((await history('deviceId=nope')).body.error_code).toBe('100418')
  })
})
