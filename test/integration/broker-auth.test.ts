// CONNECT authentication (spec device-mqtt.md A.3) and the connection status it drives, against a real
// gateway: real aedes over TCP, real SQLite, real REST.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devicePassword } from '../../src/broker/credentials.ts'
import { toHourStamp } from '../../src/time.ts'
import {
  type AppSession,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import {
  closed,
  connackCode,
  type DeviceLogin,
  deviceOptions,
  deviceStatus,
  getDevice,
  openDevice,
  waitFor,
} from '../helpers/mqtt.ts'

const HOUR = 3_600_000
const ACCEPTED = 0
const IDENTIFIER_REJECTED = 2
const BAD_USERNAME_OR_PASSWORD = 4

describe('MQTT CONNECT authentication', () => {
  let gw: RunningGateway
  let session: AppSession
  let seq = 0
  /** A freshly registered device, so tests never share connection state. */
  const newDevice = (nodeId = `auth-dev-${++seq}`) => registerDevice(gw.httpUrl, session, nodeId)
  const connack = (login: DeviceLogin, extra = {}) => connackCode(gw.mqttUrl, deviceOptions(login, extra))
  /** CONNECT fields written by hand: the ClientId is taken as given, the password is a valid HMAC for `ts`. */
  const rawConnack = (clientId: string, username: string, secret: string, ts = toHourStamp(Date.now())) =>
    connackCode(gw.mqttUrl, { clientId, username, password: devicePassword(secret, ts) })

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  describe('accepted', () => {
    it('by deviceId (authType 0) with the current hour checked (signType 1)', async () => {
      const d = await newDevice()
      expect(await connack({ id: d.deviceId, secret: d.secret, authType: 0, signType: 1 })).toBe(ACCEPTED)
    })

    it.each([
      ['a plain nodeId', 'meter-0042'],
      ['a nodeId containing underscores', 'site_A_crane_07'],
      ['a nodeId that itself ends like a ClientId suffix', 'pump_0_1_2018072417'],
    ])('by nodeId (authType 2): %s', async (_label, nodeId) => {
      const d = await newDevice(nodeId)
      expect(await connack({ id: nodeId, secret: d.secret, authType: 2, signType: 1 })).toBe(ACCEPTED)
      expect(await connack({ id: nodeId, secret: d.secret, authType: 2, signType: 0 })).toBe(ACCEPTED)
    })

    it('signType 0 with a timestamp weeks old (the timestamp is only the HMAC key)', async () => {
      const d = await newDevice()
      const old = Date.now() - 30 * 24 * HOUR
      expect(await connack({ id: d.deviceId, secret: d.secret, signType: 0, now: old })).toBe(ACCEPTED)
      expect(await rawConnack(`${d.deviceId}_0_0_2018072417`, d.deviceId, d.secret, '2018072417')).toBe(
        ACCEPTED,
      )
    })

    it('a password in uppercase hexadecimal', async () => {
      const d = await newDevice()
      const ts = toHourStamp(Date.now())
      const password = devicePassword(d.secret, ts).toUpperCase()
      expect(
        await connackCode(gw.mqttUrl, {
          clientId: `${d.deviceId}_0_0_${ts}`,
          username: d.deviceId,
          password,
        }),
      ).toBe(ACCEPTED)
    })
  })

  describe('refused', () => {
    it('a wrong HMAC: password of another secret, keyed with another hour, or none → 4', async () => {
      const d = await newDevice()
      const ts = toHourStamp(Date.now())
      const clientId = `${d.deviceId}_0_1_${ts}`
      expect(await connack({ id: d.deviceId, secret: 'a1b2c3d4e5f60718293a' })).toBe(BAD_USERNAME_OR_PASSWORD)
      const otherHour = devicePassword(d.secret, toHourStamp(Date.now() - 3 * HOUR))
      expect(await connackCode(gw.mqttUrl, { clientId, username: d.deviceId, password: otherHour })).toBe(
        BAD_USERNAME_OR_PASSWORD,
      )
      expect(await connackCode(gw.mqttUrl, { clientId, username: d.deviceId })).toBe(BAD_USERNAME_OR_PASSWORD)
      const truncated = devicePassword(d.secret, ts).slice(0, 63)
      expect(await connackCode(gw.mqttUrl, { clientId, username: d.deviceId, password: truncated })).toBe(
        BAD_USERNAME_OR_PASSWORD,
      )
    })

    it('the "Bad username or password" error reaches the device', async () => {
      const d = await newDevice()
      await expect(
        openDevice(gw.mqttUrl, deviceOptions({ id: d.deviceId, secret: 'ffffffffffffffffffff' })),
      ).rejects.toMatchObject({ code: BAD_USERNAME_OR_PASSWORD, message: expect.stringMatching(/bad user/i) })
    })

    it.each([
      ['5 hours ago', -5],
      ['5 hours ahead', 5],
    ])('signType 1 with a timestamp %s → 4 (signType 0 with it → accepted)', async (_label, hours) => {
      const d = await newDevice()
      const now = Date.now() + hours * HOUR
      expect(await connack({ id: d.deviceId, secret: d.secret, signType: 1, now })).toBe(
        BAD_USERNAME_OR_PASSWORD,
      )
      expect(await connack({ id: d.deviceId, secret: d.secret, signType: 0, now })).toBe(ACCEPTED)
    })

    it.each([
      ['a missing timestamp', (id: string) => `${id}_0_1`],
      ['only the id', (id: string) => id],
      ['authType 1 (not defined)', (id: string) => `${id}_1_0_${toHourStamp(Date.now())}`],
      ['signType 2', (id: string) => `${id}_0_2_${toHourStamp(Date.now())}`],
      ['a non-digit timestamp', (id: string) => `${id}_0_0_2018O72417`],
      ['a 9-digit timestamp', (id: string) => `${id}_0_0_201807241`],
      ['an hour that does not exist', (id: string) => `${id}_0_0_2018072425`],
      ['an empty id', () => `_0_0_${toHourStamp(Date.now())}`],
    ])('a malformed ClientId with %s → 2 (identifier rejected)', async (_label, clientIdOf) => {
      const d = await newDevice()
      expect(await rawConnack(clientIdOf(d.deviceId), d.deviceId, d.secret)).toBe(IDENTIFIER_REJECTED)
    })

    it('an unknown id, or a known id under the other auth type → 4', async () => {
      const d = await newDevice()
      const secret = d.secret
      expect(await connack({ id: '00000000-0000-0000-0000-000000000000', secret })).toBe(
        BAD_USERNAME_OR_PASSWORD,
      )
      // A deviceId is not a nodeId, and a nodeId is not a deviceId.
      expect(await connack({ id: d.deviceId, secret, authType: 2 })).toBe(BAD_USERNAME_OR_PASSWORD)
      expect(await connack({ id: d.nodeId, secret, authType: 0 })).toBe(BAD_USERNAME_OR_PASSWORD)
    })

    it('a User Name that differs from the ClientId id → 4', async () => {
      const d = await newDevice()
      const other = await newDevice()
      const good = deviceOptions({ id: d.deviceId, secret: d.secret })
      expect(await connackCode(gw.mqttUrl, { ...good, username: other.deviceId })).toBe(
        BAD_USERNAME_OR_PASSWORD,
      )
      expect(await connackCode(gw.mqttUrl, { ...good, username: d.nodeId })).toBe(BAD_USERNAME_OR_PASSWORD)
      // No User Name at all (and so, per MQTT 3.1.1, no password either).
      expect(
        await connackCode(gw.mqttUrl, { clientId: good.clientId, username: undefined, password: undefined }),
      ).toBe(BAD_USERNAME_OR_PASSWORD)
    })
  })

  describe('deleted devices', () => {
    it('a deleted device is disconnected and can no longer connect', async () => {
      const d = await newDevice()
      const login = { id: d.deviceId, secret: d.secret }
      const { client } = await openDevice(gw.mqttUrl, deviceOptions(login))
      const res = await fetch(`${gw.httpUrl}/iocm/app/dm/v1.4.0/devices/${d.deviceId}`, {
        method: 'DELETE',
        headers: { ...session.headers, 'content-type': 'text/plain' },
      })
      expect(res.status).toBe(204)
      await closed(client)
      expect(await connack(login)).toBe(BAD_USERNAME_OR_PASSWORD)
      expect(await connack({ id: d.nodeId, secret: d.secret, authType: 2 })).toBe(BAD_USERNAME_OR_PASSWORD)
      expect((await getDevice(gw.httpUrl, session, d.deviceId)).status).not.toBe(200)
      client.end(true)
    })
  })

  describe('connection status (GET /iocm/app/dm/v1.4.0/devices/{id})', () => {
    const status = (deviceId: string) => deviceStatus(gw.httpUrl, session, deviceId)
    const becomes = (deviceId: string, want: string) =>
      waitFor(async () => (await status(deviceId)) === want, `status ${want}`)

    it('INACTIVE before the first connect (a refused CONNECT does not change it), ONLINE, then OFFLINE', async () => {
      const d = await newDevice()
      expect(await status(d.deviceId)).toBe('INACTIVE')
      expect(await connack({ id: d.deviceId, secret: 'ffffffffffffffffffff' })).toBe(BAD_USERNAME_OR_PASSWORD)
      expect(await status(d.deviceId)).toBe('INACTIVE')
      const { client } = await openDevice(gw.mqttUrl, deviceOptions({ id: d.deviceId, secret: d.secret }))
      await becomes(d.deviceId, 'ONLINE')
      await client.endAsync()
      await becomes(d.deviceId, 'OFFLINE')
    })

    it('a device connected by nodeId is ONLINE under its deviceId', async () => {
      const d = await newDevice('status_by_node_1')
      const { client } = await openDevice(
        gw.mqttUrl,
        deviceOptions({ id: d.nodeId, secret: d.secret, authType: 2 }),
      )
      await becomes(d.deviceId, 'ONLINE')
      await client.endAsync()
      await becomes(d.deviceId, 'OFFLINE')
    })

    it('stays ONLINE while a second connection of the device is open', async () => {
      const d = await newDevice()
      const before = gw.gateway.broker.connectedClients
      const first = await openDevice(
        gw.mqttUrl,
        deviceOptions({ id: d.deviceId, secret: d.secret, signType: 1 }),
      )
      const second = await openDevice(
        gw.mqttUrl,
        deviceOptions({ id: d.deviceId, secret: d.secret, signType: 0 }),
      )
      await becomes(d.deviceId, 'ONLINE')
      await first.client.endAsync()
      await waitFor(() => gw.gateway.broker.connectedClients === before + 1, 'the broker to drop one client')
      expect(await status(d.deviceId)).toBe('ONLINE')
      await second.client.endAsync()
      await becomes(d.deviceId, 'OFFLINE')
    })

    it('a session takeover (same ClientId reconnecting) keeps it ONLINE, and the last close makes it OFFLINE', async () => {
      const d = await newDevice()
      const options = deviceOptions({ id: d.deviceId, secret: d.secret, signType: 0 })
      const old = await openDevice(gw.mqttUrl, options)
      await becomes(d.deviceId, 'ONLINE')
      const taker = await openDevice(gw.mqttUrl, options)
      await closed(old.client)
      old.client.end(true)
      expect(await status(d.deviceId)).toBe('ONLINE')
      await taker.client.endAsync()
      await becomes(d.deviceId, 'OFFLINE')
    })
  })
})
