// Topic ACL (spec device-mqtt.md A.2 gateway note), both directions, against a real gateway: a device may
// publish only to its own data topic and subscribe only to its own command topic.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type AppSession,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import {
  closed,
  commandTopic,
  type DeviceClient,
  type DeviceLogin,
  dataTopic,
  deviceOptions,
  openDevice,
  publishAcked,
  subscribeGranted,
  waitFor,
} from '../helpers/mqtt.ts'

type Registered = Awaited<ReturnType<typeof registerDevice>>

const REFUSED = 128
const poison = deviceReq([{ serviceId: 'Poison', serviceData: { injected: true } }])

describe('MQTT topic ACL', () => {
  let gw: RunningGateway
  let session: AppSession
  let seq = 0
  const open: DeviceClient[] = []

  const newDevice = (nodeId = `acl-dev-${++seq}`) => registerDevice(gw.httpUrl, session, nodeId)
  const connect = async (login: DeviceLogin) => {
    const device = await openDevice(gw.mqttUrl, deviceOptions(login))
    open.push(device)
    return device
  }
  /** A second connection of `d` (signType 0 gives it another ClientId) listening on its command topic. */
  const listener = async (d: Registered) => {
    const device = await connect({ id: d.deviceId, secret: d.secret, signType: 0 })
    expect(await subscribeGranted(device.client, commandTopic(d.deviceId), 1)).toEqual([1])
    return device
  }
  const marker = (id: string) =>
    JSON.stringify({ msgType: 'cloudReq', serviceId: 'Marker', cmd: id, paras: {}, mid: 1 })
  /** What the store holds that a REST client would see: history rows and reported shadow services. */
  const stored = (deviceId: string) => ({
    history: gw.gateway.store.telemetry.forDevice(deviceId, 1000).map((r) => r.serviceId),
    shadow: gw.gateway.store.shadows.forDevice(deviceId).map((r) => r.service_id),
  })

  beforeAll(async () => {
    gw = await startGateway()
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(() => {
    for (const d of open.splice(0)) d.client.end(true)
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  describe('publish', () => {
    it.each([
      ["another device's data topic", 1, (_a: Registered, v: Registered) => dataTopic(v.deviceId)],
      ["another device's data topic at QoS 0", 0, (_a: Registered, v: Registered) => dataTopic(v.deviceId)],
      ["another device's data topic by nodeId", 1, (_a: Registered, v: Registered) => dataTopic(v.nodeId)],
      ["another device's command topic", 1, (_a: Registered, v: Registered) => commandTopic(v.deviceId)],
      ['its own command topic', 1, (a: Registered) => commandTopic(a.deviceId)],
      [
        'its own data topic with an unknown codec',
        1,
        (a: Registered) => `/huawei/v1/devices/${a.deviceId}/data/xml`,
      ],
      ['its own data topic with an extra level', 1, (a: Registered) => `${dataTopic(a.deviceId)}/extra`],
      ['its nodeId data topic while connected by deviceId', 1, (a: Registered) => dataTopic(a.nodeId)],
      ['an arbitrary topic', 1, () => 'site/noise/raw'],
    ] as const)('to %s: disconnected, nothing stored or delivered', async (_label, qos, topicOf) => {
      const attacker = await newDevice()
      const victim = await newDevice()
      const victimInbox = await listener(victim)
      const attackerInbox = await listener(attacker)
      const { client } = await connect({ id: attacker.deviceId, secret: attacker.secret })

      client.publishAsync(topicOf(attacker, victim), poison, { qos }).catch(() => {})
      await closed(client)

      // Nothing reached any subscriber: the first thing either listener gets is the gateway's own marker.
      await gw.gateway.broker.publish(commandTopic(victim.deviceId), marker('victim'), 1)
      await gw.gateway.broker.publish(commandTopic(attacker.deviceId), marker('attacker'), 1)
      expect((await victimInbox.received(1))[0]?.payload).toBe(marker('victim'))
      expect((await attackerInbox.received(1))[0]?.payload).toBe(marker('attacker'))

      // Nothing was stored: a later valid report is the only history either device has.
      const ok = await connect({ id: victim.deviceId, secret: victim.secret })
      await publishAcked(
        ok.client,
        dataTopic(victim.deviceId),
        deviceReq([{ serviceId: 'Valid', serviceData: { v: 1 } }]),
      )
      expect(stored(victim.deviceId)).toEqual({ history: ['Valid'], shadow: ['Valid'] })
      expect(stored(attacker.deviceId)).toEqual({ history: [], shadow: [] })
    })

    it('its own data topic is accepted and the connection stays open', async () => {
      const d = await newDevice()
      const { client } = await connect({ id: d.deviceId, secret: d.secret })
      await publishAcked(
        client,
        dataTopic(d.deviceId),
        deviceReq([{ serviceId: 'Own', serviceData: { x: 1 } }]),
      )
      expect(client.connected).toBe(true)
      expect(stored(d.deviceId)).toEqual({ history: ['Own'], shadow: ['Own'] })
    })
  })

  describe('subscribe', () => {
    it.each([
      ["another device's command topic", (_a: Registered, v: Registered) => commandTopic(v.deviceId)],
      ["another device's command topic by nodeId", (_a: Registered, v: Registered) => commandTopic(v.nodeId)],
      ['every command topic (+)', () => '/huawei/v1/devices/+/command/json'],
      ['everything (#)', () => '#'],
      ['every device topic (/huawei/#)', () => '/huawei/#'],
      ['its own topics with a wildcard kind', (a: Registered) => `/huawei/v1/devices/${a.deviceId}/+/json`],
      [
        'its own command topic with a wildcard codec',
        (a: Registered) => `/huawei/v1/devices/${a.deviceId}/command/+`,
      ],
      ['its own data topic', (a: Registered) => dataTopic(a.deviceId)],
      ["another device's data topic", (_a: Registered, v: Registered) => dataTopic(v.deviceId)],
    ] as const)('to %s: SUBACK 128, still connected, receives nothing from it', async (_label, filterOf) => {
      const spy = await newDevice()
      const victim = await newDevice()
      const { client, inbox, received } = await connect({ id: spy.deviceId, secret: spy.secret })

      expect(await subscribeGranted(client, filterOf(spy, victim), 1)).toEqual([REFUSED])
      expect(client.connected).toBe(true)

      // Traffic the refused filter would have matched: a command to the victim and the victim's own report.
      await gw.gateway.broker.publish(commandTopic(victim.deviceId), marker('for-victim'), 1)
      const v = await connect({ id: victim.deviceId, secret: victim.secret })
      await publishAcked(
        v.client,
        dataTopic(victim.deviceId),
        deviceReq([{ serviceId: 'Secret', serviceData: { s: 1 } }]),
      )
      // The spy's own command topic still works, and its marker is the only thing it ever gets.
      expect(await subscribeGranted(client, commandTopic(spy.deviceId), 1)).toEqual([1])
      await gw.gateway.broker.publish(commandTopic(spy.deviceId), marker('for-spy'), 1)
      await received(1)
      expect(inbox.map((m) => m.payload)).toEqual([marker('for-spy')])
    })

    it('one SUBSCRIBE with an allowed and a refused filter is decided per filter', async () => {
      const d = await newDevice()
      const { client } = await connect({ id: d.deviceId, secret: d.secret })
      expect(await subscribeGranted(client, [commandTopic(d.deviceId), '#'], 1)).toEqual([1, REFUSED])
      expect(client.connected).toBe(true)
    })
  })

  describe('own command topic', () => {
    it('the device receives what the gateway publishes there, at QoS 1', async () => {
      const d = await newDevice()
      const { client, received } = await connect({ id: d.deviceId, secret: d.secret })
      expect(await subscribeGranted(client, commandTopic(d.deviceId), 1)).toEqual([1])
      const command = JSON.stringify({
        msgType: 'cloudReq',
        serviceId: 'Light',
        cmd: 'ON',
        paras: { v: 4 },
        mid: 7,
      })
      await gw.gateway.broker.publish(commandTopic(d.deviceId), command, 1)
      expect(await received(1)).toEqual([
        { topic: commandTopic(d.deviceId), payload: command, qos: 1, retain: false },
      ])
    })

    it('a QoS 2 subscription gets commands at QoS 1 (commands go out at QoS 1 at most)', async () => {
      const d = await newDevice()
      const { client, received } = await connect({ id: d.deviceId, secret: d.secret })
      expect(await subscribeGranted(client, commandTopic(d.deviceId), 2)).not.toEqual([REFUSED])
      await gw.gateway.broker.publish(commandTopic(d.deviceId), marker('qos'), 1)
      expect((await received(1))[0]).toMatchObject({ payload: marker('qos'), qos: 1 })
    })
  })

  describe('refused filters stay refused', () => {
    it('a retained command for another device is not delivered through a refused filter', async () => {
      const spy = await newDevice()
      const victim = await newDevice()
      await gw.gateway.broker.publish(commandTopic(victim.deviceId), marker('retained-for-victim'), 1, true)
      const { client, inbox, received } = await connect({ id: spy.deviceId, secret: spy.secret })
      const filters = [commandTopic(spy.deviceId), '#', commandTopic(victim.deviceId)]
      expect(await subscribeGranted(client, filters, 1)).toEqual([1, REFUSED, REFUSED])
      await gw.gateway.broker.publish(commandTopic(spy.deviceId), marker('for-spy'), 1)
      await received(1)
      expect(inbox.map((m) => m.payload)).toEqual([marker('for-spy')])
    })

    it('a persistent session does not queue, while offline, what a refused filter would match', async () => {
      const spy = await newDevice()
      const victim = await newDevice()
      // signType 0 with a fixed hour: the same ClientId on reconnect, so the session resumes.
      const options = deviceOptions(
        { id: spy.deviceId, secret: spy.secret, signType: 0, now: Date.UTC(2024, 0, 1) },
        { clean: false },
      )
      const first = await openDevice(gw.mqttUrl, options)
      const filters = [
        commandTopic(spy.deviceId),
        commandTopic(victim.deviceId),
        '/huawei/v1/devices/+/command/json',
      ]
      expect(await subscribeGranted(first.client, filters, 1)).toEqual([1, REFUSED, REFUSED])
      const clients = gw.gateway.broker.connectedClients
      await first.client.endAsync()
      await waitFor(() => gw.gateway.broker.connectedClients === clients - 1, 'the spy to go offline')

      await gw.gateway.broker.publish(commandTopic(victim.deviceId), marker('for-victim'), 1)
      await gw.gateway.broker.publish(commandTopic(spy.deviceId), marker('for-spy'), 1)
      const back = await openDevice(gw.mqttUrl, options)
      open.push(back)
      expect(back.sessionPresent).toBe(true)
      await back.received(1)
      // Another message that the queue could only deliver after the first one.
      await gw.gateway.broker.publish(commandTopic(spy.deviceId), marker('after'), 1)
      await back.received(2)
      expect(back.inbox.map((m) => m.payload)).toEqual([marker('for-spy'), marker('after')])
    })
  })

  describe('a device authenticated by nodeId', () => {
    it('uses its nodeId in topics: publish and subscribe by nodeId work', async () => {
      const d = await newDevice('acl_node_with_underscores_1')
      const { client, received } = await connect({ id: d.nodeId, secret: d.secret, authType: 2 })
      expect(await subscribeGranted(client, commandTopic(d.nodeId), 1)).toEqual([1])
      expect(await subscribeGranted(client, commandTopic(d.deviceId), 1)).toEqual([REFUSED])
      await publishAcked(
        client,
        dataTopic(d.nodeId),
        deviceReq([{ serviceId: 'ByNode', serviceData: { n: 1 } }]),
      )
      // Stored under the device's deviceId.
      expect(stored(d.deviceId)).toEqual({ history: ['ByNode'], shadow: ['ByNode'] })
      await gw.gateway.broker.publish(commandTopic(d.nodeId), marker('node'), 1)
      expect((await received(1))[0]).toMatchObject({ topic: commandTopic(d.nodeId), payload: marker('node') })
    })

    it('publishing to its deviceId data topic disconnects it and stores nothing', async () => {
      const d = await newDevice('acl_node_with_underscores_2')
      const { client } = await connect({ id: d.nodeId, secret: d.secret, authType: 2 })
      client.publishAsync(dataTopic(d.deviceId), poison, { qos: 1 }).catch(() => {})
      await closed(client)
      const again = await connect({ id: d.nodeId, secret: d.secret, authType: 2 })
      await publishAcked(
        again.client,
        dataTopic(d.nodeId),
        deviceReq([{ serviceId: 'Valid', serviceData: {} }]),
      )
      expect(stored(d.deviceId)).toEqual({ history: ['Valid'], shadow: ['Valid'] })
    })
  })
})
