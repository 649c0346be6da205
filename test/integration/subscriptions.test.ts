// Subscriptions (spec platform-rest-api.md §6.1–6.6) and the push notifications they bring (§7.1–7.5, 7.9–7.11,
// 7.14) over real sockets: a real gateway with two applications from its config, simulated mqtt.js devices, and a
// node:http receiver on loopback whose endpoints answer as each test says (200, 500 a few times, 500 until told
// otherwise). Delivery (retries, give-up, counters, restart) runs on gateways of its own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { GatewayConfig } from '../../src/config/schema.ts'
import {
  type AppSession,
  callApi,
  connectDevice,
  deviceReq,
  firstApp,
  login,
  type RunningGateway,
  registerDevice,
  removeDir,
  startGateway,
  tempDir,
} from '../helpers/gateway.ts'
import { dataTopic, deviceStatus, getDevice, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { startReceiver as startBaseReceiver } from '../helpers/receiver.ts'
import {
  type AnswerPolicy,
  answerSuccess,
  type SimulatedDevice,
  simulateDevice,
} from '../helpers/simulator.ts'

const APP_A = { appId: 'subs_app_a', secret: 'secret-of-subs-app-a-01' }
const APP_B = { appId: 'subs_app_b', secret: 'secret-of-subs-app-b-02' }

const SUBS = '/iocm/app/sub/v1.2.0/subscriptions'
const MANAGEMENT = '/iodm/app/sub/v1.1.0/subscribe'
const PLATFORM_TIME = /^\d{8}T\d{6}Z$/

const NOT_FOUND = { error_code: '100225', error_desc: 'The resource is not found' }
const CONFLICT = { error_code: '100227', error_desc: 'The resource is conflicted.' }
const ILLEGAL_URL = { error_code: '100222', error_desc: 'The request callbackurl is illegal.' }
const INVALID = { error_code: '50400', error_desc: 'The input is invalid.' }

/** epoch ms → `yyyyMMddTHHmmssZ`. */
const platformTime = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '')

/** A push notification body as received (fields checked per test). */
type Note = Record<string, unknown> & { notifyType?: string; deviceId?: string }

interface Subscription {
  subscriptionId: string
  notifyType: string
  callbackUrl: string
  deliveredCount: number
  failedCount: number
}

interface SubscriptionPage {
  totalCount: number
  pageNo: number
  pageSize: number
  subscriptions: Subscription[]
}

/** The shared receiver, with the notifications it accepted and a wait for those about a device. */
async function startReceiver() {
  const base = await startBaseReceiver<Note>('/push')
  return {
    ...base,
    endpoint(answer?: (previous: number) => number) {
      const e = base.endpoint(answer)
      const accepted = () => e.hits().filter((h) => h.status >= 200 && h.status < 300)
      return {
        ...e,
        /** Bodies answered 2xx, in arrival order. */
        accepted: () => accepted().map((h) => h.body),
        /** Waits until at least n POSTs about `deviceId` were accepted; returns those. */
        about: (deviceId: string, count: number, timeoutMs?: number) =>
          waitFor(
            () => {
              const mine = accepted().filter((h) => aboutDevice(h.body) === deviceId)
              return mine.length >= count ? mine : undefined
            },
            `${count} notification(s) about ${deviceId} at ${e.url}`,
            timeoutMs,
          ),
      }
    },
  }
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>

/** The device a notification is about (top level, or in the header of §7.10/§7.11). */
function aboutDevice(body: Note): string | undefined {
  if (typeof body.deviceId === 'string') return body.deviceId
  const header = body.header as { deviceId?: string; from?: string } | undefined
  return header?.deviceId ?? /^\/devices\/([^/]+)/.exec(header?.from ?? '')?.[1]
}

/** REST calls and devices as one application of one gateway. */
function rest(gw: { httpUrl: string; mqttUrl: string }, session: AppSession, sims: SimulatedDevice[]) {
  const api = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
    callApi<T>(gw.httpUrl, session, method, path, body)
  let nodes = 0
  return {
    appId: session.appId,
    session,
    api,
    /** §6.1. */
    subscribe: (notifyType: string, callbackUrl: string) => api('POST', SUBS, { notifyType, callbackUrl }),
    /** §6.1, expecting 201; returns the subscriptionId. */
    subscribed: async (notifyType: string, callbackUrl: string) => {
      const res = await api('POST', SUBS, { notifyType, callbackUrl })
      expect(res.status).toBe(201)
      return res.body.subscriptionId as string
    },
    /** §6.3. */
    get: (subscriptionId: string) => api<Subscription>('GET', `${SUBS}/${subscriptionId}`),
    /** §6.4 with a query string. */
    list: (qs = '') => api<SubscriptionPage>('GET', `${SUBS}${qs === '' ? '' : `?${qs}`}`),
    /** §6.5. */
    remove: (subscriptionId: string) => api('DELETE', `${SUBS}/${subscriptionId}`),
    /** §6.6 with a query string. */
    removeAll: (qs = '') => api('DELETE', `${SUBS}${qs === '' ? '' : `?${qs}`}`),
    /** §4.2; the nodeId is also the device's name. */
    device: async () => {
      nodes += 1
      const nodeId = `sub-${session.appId}-${nodes}-${Date.now()}`
      const d = await registerDevice(gw.httpUrl, session, nodeId)
      return { deviceId: d.deviceId, nodeId, login: { id: d.deviceId, secret: d.secret } }
    },
    online: async (login: { id: string; secret: string }, policy: AnswerPolicy = answerSuccess) => {
      const sim = await simulateDevice(gw.mqttUrl, login, policy)
      sims.push(sim)
      return sim
    },
  }
}

type Rest = ReturnType<typeof rest>

const ids = (page: SubscriptionPage) => page.subscriptions.map((s) => s.subscriptionId)

describe('subscriptions and push notifications (one gateway, two applications)', () => {
  let gw: RunningGateway
  let receiver: Receiver
  let a: Rest
  let b: Rest
  const sims: SimulatedDevice[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
    gw = await startGateway({
      config: (c) => {
        c.apps = [APP_A, APP_B]
        c.callbacks.maxAttempts = 10
        c.callbacks.initialBackoffMs = 20
      },
    })
    a = rest(gw, await login(gw.httpUrl, APP_A), sims)
    b = rest(gw, await login(gw.httpUrl, APP_B), sims)
  })
  afterEach(async () => {
    for (const sim of sims.splice(0)) await sim.close()
    // Each test starts with no subscription (404 when there was none to delete).
    for (const app of [a, b]) expect([204, 404]).toContain((await app.removeAll()).status)
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
      await receiver.close()
    }
  })

  describe('§6 subscription management', () => {
    it('§6.1 201 {subscriptionId, notifyType, callbackUrl}; §6.3 shows it with zero counters', async () => {
      const url = receiver.endpoint().url
      const res = await a.subscribe('deviceAdded', url)
      expect(res).toEqual({
        status: 201,
        body: { subscriptionId: expect.any(String), notifyType: 'deviceAdded', callbackUrl: url },
      })
      const id = res.body.subscriptionId as string
      expect(id.length).toBeGreaterThan(0)
      expect(await a.get(id)).toEqual({
        status: 200,
        body: {
          subscriptionId: id,
          notifyType: 'deviceAdded',
          callbackUrl: url,
          deliveredCount: 0,
          failedCount: 0,
        },
      })
      // An https URL with an explicit port and a domain is accepted as well.
      expect((await a.subscribe('deviceDeleted', 'https://receiver.example:8443/iot/callback')).status).toBe(
        201,
      )
    })

    it('§6.1 a notifyType already subscribed → 409 100227, even with another URL; the first one stays', async () => {
      const first = receiver.endpoint().url
      const id = await a.subscribed('bindDevice', first)
      expect(await a.subscribe('bindDevice', receiver.endpoint().url)).toEqual({
        status: 409,
        body: CONFLICT,
      })
      expect(await a.subscribe('bindDevice', first)).toEqual({ status: 409, body: CONFLICT })
      const page = await a.list()
      expect(page.body.totalCount).toBe(1)
      expect(page.body.subscriptions).toEqual([
        expect.objectContaining({ subscriptionId: id, callbackUrl: first }),
      ])
      // The URL is changed by delete + create.
      expect((await a.remove(id)).status).toBe(204)
      expect((await a.subscribe('bindDevice', receiver.endpoint().url)).status).toBe(201)
    })

    it.each([
      ['no port', 'http://127.0.0.1/callback'],
      ['https without port', 'https://receiver.example/callback'],
      ['ftp scheme', 'ftp://127.0.0.1:21/callback'],
      ['no scheme', '127.0.0.1:8080/callback'],
      ['garbage', 'not a url at all'],
      ['port 0', 'http://127.0.0.1:0/callback'],
      ['port out of range', 'http://127.0.0.1:70000/callback'],
      ['empty port', 'http://127.0.0.1:/callback'],
    ])('§6.1 callbackUrl with %s → 400 100222, nothing stored', async (_name, callbackUrl) => {
      expect(await a.subscribe('deviceAdded', callbackUrl)).toEqual({ status: 400, body: ILLEGAL_URL })
      expect((await a.list()).body.totalCount).toBe(0)
    })

    it('§6.1 an unknown notifyType, a management one, or no callbackUrl → 400 50400, nothing stored', async () => {
      const url = receiver.endpoint().url
      expect(await a.subscribe('deviceExploded', url)).toEqual({ status: 400, body: INVALID })
      expect(await a.subscribe('swUpgradeResultNotify', url)).toEqual({ status: 400, body: INVALID })
      expect(await a.api('POST', SUBS, { notifyType: 'deviceAdded' })).toEqual({ status: 400, body: INVALID })
      expect((await a.list()).body.totalCount).toBe(0)
    })

    it("§6.1 appId of another application → 403 100217; the caller's own appId is accepted", async () => {
      const url = receiver.endpoint().url
      expect(
        await a.api('POST', SUBS, { appId: b.appId, notifyType: 'deviceAdded', callbackUrl: url }),
      ).toEqual({
        status: 403,
        body: { error_code: '100217', error_desc: "The application hasn't been authorized." },
      })
      expect((await b.list()).body.totalCount).toBe(0)
      const own = await a.api('POST', SUBS, { appId: a.appId, notifyType: 'deviceAdded', callbackUrl: url })
      expect(own.status).toBe(201)
    })

    it('§6.2 management subscribe → 200 with no body; it gets an ID and shows in §6.4 and §6.3', async () => {
      const url = receiver.endpoint().url
      expect(
        await a.api('POST', MANAGEMENT, { notifyType: 'swUpgradeStateChangeNotify', callbackUrl: url }),
      ).toEqual({ status: 200, body: undefined })
      const page = await a.list('notifyType=swUpgradeStateChangeNotify')
      expect(page).toEqual({
        status: 200,
        body: {
          totalCount: 1,
          pageNo: 0,
          pageSize: 10,
          subscriptions: [
            {
              subscriptionId: expect.any(String),
              notifyType: 'swUpgradeStateChangeNotify',
              callbackUrl: url,
              deliveredCount: 0,
              failedCount: 0,
            },
          ],
        },
      })
      const id = page.body.subscriptions[0]!.subscriptionId
      expect((await a.get(id)).body).toMatchObject({
        subscriptionId: id,
        notifyType: 'swUpgradeStateChangeNotify',
      })
      // Twice → 409; a URL without a port → 100222; a business type → 100228.
      expect(
        await a.api('POST', MANAGEMENT, { notifyType: 'swUpgradeStateChangeNotify', callbackUrl: url }),
      ).toEqual({
        status: 409,
        body: CONFLICT,
      })
      expect(
        await a.api('POST', MANAGEMENT, {
          notifyType: 'fwUpgradeResultNotify',
          callbackUrl: 'http://127.0.0.1/x',
        }),
      ).toEqual({ status: 400, body: ILLEGAL_URL })
      expect(await a.api('POST', MANAGEMENT, { notifyType: 'deviceAdded', callbackUrl: url })).toEqual({
        status: 400,
        body: { error_code: '100228', error_desc: 'The application input is invalid.' },
      })
      expect((await a.list()).body.totalCount).toBe(1)
    })

    it('§6.3 unknown subscriptionId → 404 100225', async () => {
      expect(await a.get('no-such-subscription')).toEqual({ status: 404, body: NOT_FOUND })
    })

    it('§6.4 lists with paging (pageNo/pageSize, totalCount) and a notifyType filter', async () => {
      const url = receiver.endpoint().url
      const other = receiver.endpoint().url
      const types = ['deviceAdded', 'bindDevice', 'deviceInfoChanged', 'deviceDeleted', 'commandRsp']
      const created: string[] = []
      for (const t of types) created.push(await a.subscribed(t, t === 'commandRsp' ? other : url))

      const all = await a.list()
      expect(all.status).toBe(200)
      expect(all.body).toMatchObject({ totalCount: 5, pageNo: 0, pageSize: 10 })
      expect(ids(all.body).sort()).toEqual([...created].sort())

      const pages: string[][] = []
      for (const pageNo of [0, 1, 2, 3]) {
        const page = await a.list(`pageNo=${pageNo}&pageSize=2`)
        expect(page.status).toBe(200)
        expect(page.body).toMatchObject({ totalCount: 5, pageNo, pageSize: 2 })
        pages.push(ids(page.body))
      }
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1, 0])
      // Every subscription on exactly one page, in the order of the unpaged list.
      expect(pages.flat()).toEqual(ids(all.body))

      const filtered = await a.list('notifyType=commandRsp')
      expect(filtered.body).toEqual({
        totalCount: 1,
        pageNo: 0,
        pageSize: 10,
        subscriptions: [
          {
            subscriptionId: created[4],
            notifyType: 'commandRsp',
            callbackUrl: other,
            deliveredCount: 0,
            failedCount: 0,
          },
        ],
      })
      expect((await a.list('notifyType=messageConfirm')).body).toEqual({
        totalCount: 0,
        pageNo: 0,
        pageSize: 10,
        subscriptions: [],
      })
      for (const qs of ['pageSize=0', 'pageNo=-1', 'pageSize=abc', 'notifyType=deviceExploded']) {
        expect(await a.list(qs), qs).toEqual({ status: 400, body: INVALID })
      }
    })

    it('§6.5 delete → 204, then 404 100225 for §6.3 and §6.5; notifications of that type stop', async () => {
      const ep = receiver.endpoint()
      const added = await a.subscribed('deviceAdded', ep.url)
      await a.subscribed('deviceDeleted', ep.url)
      expect(await a.remove(added)).toEqual({ status: 204, body: undefined })
      expect(await a.get(added)).toEqual({ status: 404, body: NOT_FOUND })
      expect(await a.remove(added)).toEqual({ status: 404, body: NOT_FOUND })
      expect((await a.list()).body.subscriptions.map((s) => s.notifyType)).toEqual(['deviceDeleted'])

      // Registration is no longer announced; the deletion after it is.
      const d = await a.device()
      expect((await a.api('DELETE', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`)).status).toBe(204)
      await ep.about(d.deviceId, 1)
      expect(ep.hits().map((h) => h.body.notifyType)).toEqual(['deviceDeleted'])
    })

    it('§6.6 batch delete by notifyType, by callbackUrl (filters combine), and all', async () => {
      const u1 = receiver.endpoint().url
      const u2 = receiver.endpoint().url
      await a.subscribed('deviceAdded', u1)
      await a.subscribed('bindDevice', u1)
      await a.subscribed('deviceInfoChanged', u2)
      await a.subscribed('deviceDeleted', u2)
      await a.subscribed('commandRsp', u2)
      const types = async () => (await a.list()).body.subscriptions.map((s) => s.notifyType).sort()

      expect(await a.removeAll('notifyType=bindDevice')).toEqual({ status: 204, body: undefined })
      expect(await types()).toEqual(['commandRsp', 'deviceAdded', 'deviceDeleted', 'deviceInfoChanged'])
      // notifyType AND callbackUrl: deviceAdded is not on u2 → nothing matches, nothing deleted.
      expect(await a.removeAll(`notifyType=deviceAdded&callbackUrl=${encodeURIComponent(u2)}`)).toEqual({
        status: 404,
        body: NOT_FOUND,
      })
      expect((await a.list()).body.totalCount).toBe(4)
      expect(await a.removeAll(`callbackUrl=${encodeURIComponent(u2)}`)).toEqual({
        status: 204,
        body: undefined,
      })
      expect(await types()).toEqual(['deviceAdded'])
      expect(await a.removeAll(`callbackUrl=${encodeURIComponent(u2)}`)).toEqual({
        status: 404,
        body: NOT_FOUND,
      })

      await a.subscribed('deviceDeleted', u2)
      expect(await a.removeAll()).toEqual({ status: 204, body: undefined })
      expect((await a.list()).body.totalCount).toBe(0)
      expect(await a.removeAll()).toEqual({ status: 404, body: NOT_FOUND })
    })

    it('§6.6 channel: HTTP or empty deletes the (HTTP) subscriptions; MQTTS or any other value deletes nothing', async () => {
      const url = receiver.endpoint().url
      await a.subscribed('deviceAdded', url)
      await a.subscribed('bindDevice', url)
      await a.subscribed('deviceDeleted', url)
      for (const channel of ['MQTTS', 'COAP', 'http']) {
        expect(await a.removeAll(`channel=${channel}`), channel).toEqual({ status: 404, body: NOT_FOUND })
      }
      expect((await a.list()).body.totalCount).toBe(3)
      expect(await a.removeAll('channel=HTTP&notifyType=deviceAdded')).toEqual({
        status: 204,
        body: undefined,
      })
      expect((await a.list()).body.totalCount).toBe(2)
      expect(await a.removeAll('channel=')).toEqual({ status: 204, body: undefined })
      expect((await a.list()).body.totalCount).toBe(0)
    })

    it('another application cannot see or delete them, and has its own one-per-notifyType', async () => {
      const url = receiver.endpoint().url
      const id = await a.subscribed('deviceAdded', url)
      expect(await b.get(id)).toEqual({ status: 404, body: NOT_FOUND })
      expect(await b.remove(id)).toEqual({ status: 404, body: NOT_FOUND })
      expect((await b.list()).body).toEqual({ totalCount: 0, pageNo: 0, pageSize: 10, subscriptions: [] })
      expect(await b.removeAll()).toEqual({ status: 404, body: NOT_FOUND })
      expect(await b.removeAll('notifyType=deviceAdded')).toEqual({ status: 404, body: NOT_FOUND })
      expect(await b.removeAll(`callbackUrl=${encodeURIComponent(url)}`)).toEqual({
        status: 404,
        body: NOT_FOUND,
      })
      // B subscribing the same type is not a conflict; each sees only its own.
      const mine = await b.subscribed('deviceAdded', url)
      expect(ids((await b.list()).body)).toEqual([mine])
      expect(ids((await a.list()).body)).toEqual([id])
      expect((await a.get(id)).status).toBe(200)
    })
  })

  describe('§7 push notification bodies', () => {
    it('§7.1 deviceAdded on registration: the device, its gateway, nodeType, and the deviceInfo §5.1 shows', async () => {
      const ep = receiver.endpoint()
      await a.subscribed('deviceAdded', ep.url)
      const d = await a.device()
      const [hit] = await ep.about(d.deviceId, 1)
      expect(hit!.contentType).toMatch(/^application\/json/)
      expect(hit!.keys).toEqual(['notifyType', 'deviceId', 'gatewayId', 'nodeType', 'deviceInfo'])
      expect(hit!.body).toEqual({
        notifyType: 'deviceAdded',
        deviceId: d.deviceId,
        gatewayId: d.deviceId,
        nodeType: 'ENDPOINT',
        deviceInfo: expect.objectContaining({
          nodeId: d.nodeId,
          name: d.nodeId,
          status: 'INACTIVE',
          statusDetail: 'NOT_ACTIVE',
        }),
      })
      // DeviceInfo §2.2: no imsi or radiusIp; otherwise what a §5.1 query shows.
      const info = hit!.body.deviceInfo as Record<string, unknown>
      expect(info).not.toHaveProperty('imsi')
      expect(info).not.toHaveProperty('radiusIp')
      expect(info).toEqual((await getDevice(gw.httpUrl, a.session, d.deviceId)).body.deviceInfo)
    })

    it('§7.2 bindDevice on the first connect only; §7.3 deviceInfoChanged ONLINE, OFFLINE, ONLINE', async () => {
      const bind = receiver.endpoint()
      const info = receiver.endpoint()
      await a.subscribed('bindDevice', bind.url)
      await a.subscribed('deviceInfoChanged', info.url)
      const d = await a.device()

      const first = await connectDevice(gw.mqttUrl, d.login)
      const [bound] = await bind.about(d.deviceId, 1)
      expect(bound!.keys).toEqual(['notifyType', 'deviceId', 'resultCode', 'deviceInfo'])
      expect(bound!.body).toEqual({
        notifyType: 'bindDevice',
        deviceId: d.deviceId,
        resultCode: 'succeeded',
        deviceInfo: expect.objectContaining({ nodeId: d.nodeId, name: d.nodeId, status: 'ONLINE' }),
      })
      const [online] = await info.about(d.deviceId, 1)
      expect(online!.keys).toEqual(['notifyType', 'deviceId', 'gatewayId', 'deviceInfo'])
      expect(online!.body).toEqual({
        notifyType: 'deviceInfoChanged',
        deviceId: d.deviceId,
        gatewayId: d.deviceId,
        deviceInfo: expect.objectContaining({ nodeId: d.nodeId, status: 'ONLINE', statusDetail: 'NONE' }),
      })

      first.end(true)
      const [, offline] = await info.about(d.deviceId, 2)
      expect(offline!.body).toEqual({
        notifyType: 'deviceInfoChanged',
        deviceId: d.deviceId,
        gatewayId: d.deviceId,
        deviceInfo: expect.objectContaining({ nodeId: d.nodeId, status: 'OFFLINE' }),
      })
      expect(await deviceStatus(gw.httpUrl, a.session, d.deviceId)).toBe('OFFLINE')

      const again = await connectDevice(gw.mqttUrl, d.login)
      try {
        const changes = await info.about(d.deviceId, 3)
        expect(changes.map((h) => (h.body.deviceInfo as { status: string }).status)).toEqual([
          'ONLINE',
          'OFFLINE',
          'ONLINE',
        ])
        // Another device's first connect, to the same URL after the reconnect: the reconnect bound nothing.
        const other = await a.device()
        const marker = await connectDevice(gw.mqttUrl, other.login)
        await bind.about(other.deviceId, 1)
        marker.end(true)
        expect(bind.hits().map((h) => aboutDevice(h.body))).toEqual([d.deviceId, other.deviceId])
      } finally {
        again.end(true)
      }
    })

    it('§7.4 deviceDataChanged for a one-service deviceReq, §7.5 deviceDatasChanged for a two-service one', async () => {
      const one = receiver.endpoint()
      const many = receiver.endpoint()
      await a.subscribed('deviceDataChanged', one.url)
      await a.subscribed('deviceDatasChanged', many.url)
      const d = await a.device()
      const sim = await a.online(d.login)
      const t1 = platformTime(Date.now() - 120_000)
      const t2 = platformTime(Date.now() - 60_000)
      await publishAcked(
        sim.client,
        dataTopic(d.deviceId),
        deviceReq([{ serviceId: 'Brightness', serviceData: { brightness: 80 }, eventTime: t1 }]),
      )
      await publishAcked(
        sim.client,
        dataTopic(d.deviceId),
        deviceReq([
          { serviceId: 'Brightness', serviceData: { brightness: 81 }, eventTime: t2 },
          { serviceId: 'Color', serviceData: { value: 'red' }, eventTime: t2 },
        ]),
      )
      // A report without eventTime: the receive time, in the same format.
      await publishAcked(
        sim.client,
        dataTopic(d.deviceId),
        deviceReq([{ serviceId: 'Temperature', serviceData: { celsius: 21.5 } }]),
      )

      const singles = await one.about(d.deviceId, 2)
      const [batch] = await many.about(d.deviceId, 1)
      expect(singles[0]!.keys).toEqual(['notifyType', 'requestId', 'deviceId', 'gatewayId', 'service'])
      expect(singles.map((h) => h.body)).toEqual([
        {
          notifyType: 'deviceDataChanged',
          requestId: expect.any(String),
          deviceId: d.deviceId,
          gatewayId: d.deviceId,
          service: {
            serviceId: 'Brightness',
            serviceType: 'Brightness',
            data: { brightness: 80 },
            eventTime: t1,
          },
        },
        {
          notifyType: 'deviceDataChanged',
          requestId: expect.any(String),
          deviceId: d.deviceId,
          gatewayId: d.deviceId,
          service: {
            serviceId: 'Temperature',
            serviceType: 'Temperature',
            data: { celsius: 21.5 },
            eventTime: expect.stringMatching(PLATFORM_TIME),
          },
        },
      ])
      expect(batch!.keys).toEqual(['notifyType', 'requestId', 'deviceId', 'gatewayId', 'services'])
      expect(batch!.body).toEqual({
        notifyType: 'deviceDatasChanged',
        requestId: expect.any(String),
        deviceId: d.deviceId,
        gatewayId: d.deviceId,
        services: [
          { serviceId: 'Brightness', serviceType: 'Brightness', data: { brightness: 81 }, eventTime: t2 },
          { serviceId: 'Color', serviceType: 'Color', data: { value: 'red' }, eventTime: t2 },
        ],
      })
      // One requestId per message.
      const requestIds = [...singles, batch!].map((h) => h.body.requestId as string)
      expect(new Set(requestIds).size).toBe(3)
      expect(requestIds.every((r) => r.length >= 1 && r.length <= 128)).toBe(true)
      // Each message went to exactly one of the two types.
      expect(one.hits().filter((h) => h.body.deviceId === d.deviceId)).toHaveLength(2)
      expect(many.hits().filter((h) => h.body.deviceId === d.deviceId)).toHaveLength(1)
    })

    it('§7.9 deviceDeleted on DELETE §4.5', async () => {
      const ep = receiver.endpoint()
      await a.subscribed('deviceDeleted', ep.url)
      const d = await a.device()
      expect((await a.api('DELETE', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`)).status).toBe(204)
      const [hit] = await ep.about(d.deviceId, 1)
      expect(hit!.keys).toEqual(['notifyType', 'deviceId', 'gatewayId'])
      expect(hit!.body).toEqual({ notifyType: 'deviceDeleted', deviceId: d.deviceId, gatewayId: d.deviceId })
    })

    it('§7.11 commandRsp when the device answers a §8.1 command: header names the command, body is its deviceRsp body', async () => {
      const ep = receiver.endpoint()
      await a.subscribed('commandRsp', ep.url)
      const ok = await a.device()
      const failing = await a.device()
      await a.online(ok.login)
      await a.online(failing.login, () => ({ errcode: 1, body: { reason: 'jammed' } }))
      const create = async (deviceId: string) => {
        const res = await a.api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
          deviceId,
          command: { serviceId: 'Light', method: 'SET_LEVEL', paras: { level: 4 } },
        })
        expect(res.status).toBe(201)
        return res.body.commandId as string
      }
      const okId = await create(ok.deviceId)
      const [hit] = await ep.about(ok.deviceId, 1)
      expect(hit!.keys.slice(0, 3)).toEqual(['notifyType', 'header', 'body'])
      expect(hit!.body).toMatchObject({ notifyType: 'commandRsp' })
      expect(hit!.body.header).toEqual({
        requestId: okId,
        from: `/devices/${ok.deviceId}/services/Light`,
        to: a.appId,
        deviceId: ok.deviceId,
        serviceType: 'Light',
        method: 'SET_LEVEL',
      })
      expect(hit!.body.body).toEqual({ result: 0, echo: 'SET_LEVEL' })

      const failedId = await create(failing.deviceId)
      const [rsp] = await ep.about(failing.deviceId, 1)
      expect(rsp!.body.header).toMatchObject({
        requestId: failedId,
        deviceId: failing.deviceId,
        method: 'SET_LEVEL',
      })
      expect(rsp!.body.body).toEqual({ reason: 'jammed' })
    })

    it('§7.10 messageConfirm sent, delivered, executed for a §8.7 sendCommand in ACK mode, nothing in NOACK', async () => {
      const confirms = receiver.endpoint()
      const rsps = receiver.endpoint()
      await a.subscribed('messageConfirm', confirms.url)
      await a.subscribed('commandRsp', rsps.url)
      const d = await a.device()
      await a.online(d.login)
      const send = (requestId: string, mode: string) =>
        a.api('POST', `/iocm/app/signaltrans/v1.1.0/devices/${d.deviceId}/services/Light/sendCommand`, {
          header: { requestId, mode, method: 'BLINK' },
          body: { times: 3 },
        })
      const noack = `noack-${d.deviceId}`
      const ack = `ack-${d.deviceId}`
      expect((await send(noack, 'NOACK')).status).toBe(202)
      // The device answered the NOACK one (commandRsp) before the ACK one is sent.
      const [first] = await rsps.about(d.deviceId, 1)
      expect(first!.body.header).toMatchObject({ requestId: noack, method: 'BLINK', serviceType: 'Light' })
      expect(first!.body.body).toEqual({ result: 0, echo: 'BLINK' })
      expect((await send(ack, 'ACK')).status).toBe(202)

      const hits = await confirms.about(d.deviceId, 3)
      expect(hits.map((h) => h.body)).toEqual(
        ['sent', 'delivered', 'executed'].map((status) => ({
          notifyType: 'messageConfirm',
          header: {
            requestId: ack,
            from: `/devices/${d.deviceId}/services/Light`,
            to: a.appId,
            status,
            timestamp: expect.stringMatching(PLATFORM_TIME),
          },
          body: {},
        })),
      )
      expect(hits[0]!.keys).toEqual(['notifyType', 'header', 'body'])
      // Notifications to one URL keep their order: anything owed for the NOACK command would have come first.
      await rsps.about(d.deviceId, 2)
      expect(confirms.hits()).toHaveLength(3)
    })

    it('§7.14 deviceDesiredPropertiesModifyStatusChanged DELIVERED after a §4.8 PUT the device answers, FAILED when it refuses', async () => {
      const ep = receiver.endpoint()
      await a.subscribed('deviceDesiredPropertiesModifyStatusChanged', ep.url)
      const ok = await a.device()
      const refusing = await a.device()
      await a.online(ok.login)
      await a.online(refusing.login, () => ({ errcode: 1, body: { reason: 'read-only' } }))
      const put = (deviceId: string) =>
        a.api('PUT', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`, {
          serviceDesireds: [{ serviceId: 'Temperature', desired: { targetTemperature: 35 } }],
        })

      expect((await put(ok.deviceId)).status).toBe(200)
      const [hit] = await ep.about(ok.deviceId, 1)
      expect(hit!.keys).toEqual(['notifyType', 'deviceId', 'serviceId', 'properties', 'status'])
      expect(hit!.body).toEqual({
        notifyType: 'deviceDesiredPropertiesModifyStatusChanged',
        deviceId: ok.deviceId,
        serviceId: 'Temperature',
        properties: { targetTemperature: 35 },
        status: 'DELIVERED',
      })

      expect((await put(refusing.deviceId)).status).toBe(200)
      const [failed] = await ep.about(refusing.deviceId, 1)
      expect(failed!.body).toEqual({
        notifyType: 'deviceDesiredPropertiesModifyStatusChanged',
        deviceId: refusing.deviceId,
        serviceId: 'Temperature',
        properties: { targetTemperature: 35 },
        status: 'FAILED',
      })
    })

    it('an application that did not subscribe gets nothing, and its devices reach no other subscriber', async () => {
      const ofA = receiver.endpoint()
      for (const t of [
        'deviceAdded',
        'bindDevice',
        'deviceInfoChanged',
        'deviceDataChanged',
        'deviceDeleted',
      ]) {
        await a.subscribed(t, ofA.url)
      }
      // B has no subscription: its device's whole life is announced to nobody.
      const bd = await b.device()
      const sim = await b.online(bd.login)
      await publishAcked(
        sim.client,
        dataTopic(bd.deviceId),
        deviceReq([{ serviceId: 'S', serviceData: { v: 1 } }]),
      )
      expect((await b.api('DELETE', `/iocm/app/dm/v1.4.0/devices/${bd.deviceId}`)).status).toBe(204)
      // A's own device, after all that, to the same URL: everything before it has been delivered.
      const ad = await a.device()
      await ofA.about(ad.deviceId, 1)
      expect(ofA.hits().filter((h) => aboutDevice(h.body) === bd.deviceId)).toEqual([])

      // Once B subscribes, it gets its own notifications at its own URL, and A's URL still none of B's.
      const ofB = receiver.endpoint()
      await b.subscribed('deviceAdded', ofB.url)
      const bd2 = await b.device()
      const [hit] = await ofB.about(bd2.deviceId, 1)
      expect(hit!.body).toMatchObject({ notifyType: 'deviceAdded', deviceId: bd2.deviceId })
      const ad2 = await a.device()
      await ofA.about(ad2.deviceId, 1)
      expect(ofB.hits()).toHaveLength(1)
      expect(ofA.hits().filter((h) => aboutDevice(h.body) === bd2.deviceId)).toEqual([])
    })
  })
})

describe('delivery: retries, giving up, counters, restart', () => {
  let receiver: Receiver
  const gateways: RunningGateway[] = []
  const dirs: string[] = []

  beforeAll(async () => {
    receiver = await startReceiver()
  })
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop()
    for (const d of dirs.splice(0)) removeDir(d)
  })
  afterAll(async () => {
    await receiver.close()
  })

  const start = async (dataDir: string, tune: (cfg: GatewayConfig) => void) => {
    const gw = await startGateway({ dataDir, config: tune })
    gateways.push(gw)
    return { gw, app: rest(gw, await login(gw.httpUrl, firstApp(dataDir)), []) }
  }
  const freshDir = () => {
    const dir = tempDir('sitegate-subscriptions-')
    dirs.push(dir)
    return dir
  }
  const counters = async (app: Rest, id: string) => {
    const res = await app.get(id)
    expect(res.status).toBe(200)
    return { deliveredCount: res.body.deliveredCount, failedCount: res.body.failedCount }
  }
  const countersBecome = (app: Rest, id: string, want: { deliveredCount: number; failedCount: number }) =>
    waitFor(
      async () => {
        const now = await counters(app, id)
        return now.deliveredCount === want.deliveredCount && now.failedCount === want.failedCount
          ? now
          : undefined
      },
      `counters ${JSON.stringify(want)}`,
    )

  it('a receiver failing (500) three times then recovering gets every notification, in order; deliveredCount counts them', async () => {
    const { app } = await start(freshDir(), (cfg) => {
      cfg.callbacks.maxAttempts = 10
      cfg.callbacks.initialBackoffMs = 20
    })
    const ep = receiver.endpoint((previous) => (previous < 3 ? 500 : 200))
    const id = await app.subscribed('deviceAdded', ep.url)
    const devices = [await app.device(), await app.device(), await app.device()]
    const hits = await ep.received(6)
    expect(hits.map((h) => [h.status, h.body.deviceId])).toEqual([
      [500, devices[0]!.deviceId],
      [500, devices[0]!.deviceId],
      [500, devices[0]!.deviceId],
      [200, devices[0]!.deviceId],
      [200, devices[1]!.deviceId],
      [200, devices[2]!.deviceId],
    ])
    // The retried notification is the same body each time.
    expect(new Set(hits.slice(0, 4).map((h) => JSON.stringify(h.body))).size).toBe(1)
    expect(await countersBecome(app, id, { deliveredCount: 3, failedCount: 0 })).toBeDefined()
    expect((await app.list()).body.subscriptions[0]).toMatchObject({ deliveredCount: 3, failedCount: 0 })
  })

  it('callbacks.maxAttempts 2 and a receiver that always fails: each notification tried twice, then failedCount; later ones still come', async () => {
    const { app } = await start(freshDir(), (cfg) => {
      cfg.callbacks.maxAttempts = 2
      cfg.callbacks.initialBackoffMs = 20
    })
    let up = false
    const ep = receiver.endpoint(() => (up ? 200 : 500))
    const id = await app.subscribed('deviceAdded', ep.url)
    const d1 = await app.device()
    const d2 = await app.device()
    const hits = await ep.received(4)
    expect(hits.map((h) => [h.status, h.body.deviceId])).toEqual([
      [500, d1.deviceId],
      [500, d1.deviceId],
      [500, d2.deviceId],
      [500, d2.deviceId],
    ])
    await countersBecome(app, id, { deliveredCount: 0, failedCount: 2 })

    up = true
    const d3 = await app.device()
    await ep.about(d3.deviceId, 1)
    await countersBecome(app, id, { deliveredCount: 1, failedCount: 2 })
    // What was given up is not sent again.
    expect(ep.hits().map((h) => h.body.deviceId)).toEqual([
      d1.deviceId,
      d1.deviceId,
      d2.deviceId,
      d2.deviceId,
      d3.deviceId,
    ])
  })

  it('notifications owed when the gateway stops are delivered, in order, by the next start on the same data', async () => {
    const dir = freshDir()
    const tune = (cfg: GatewayConfig) => {
      cfg.callbacks.maxAttempts = 10
      cfg.callbacks.initialBackoffMs = 20
    }
    let up = false
    const ep = receiver.endpoint(() => (up ? 200 : 500))
    const first = await start(dir, tune)
    const added = await first.app.subscribed('deviceAdded', ep.url)
    const changed = await first.app.subscribed('deviceInfoChanged', ep.url)
    const d1 = await first.app.device()
    const d2 = await first.app.device()
    const client = await connectDevice(first.gw.mqttUrl, d1.login)
    client.end(true)
    await waitFor(
      async () => (await deviceStatus(first.gw.httpUrl, first.app.session, d1.deviceId)) === 'OFFLINE',
      'OFFLINE',
    )
    await ep.received(2)
    gateways.splice(gateways.indexOf(first.gw), 1)
    await first.gw.stop()
    expect(ep.accepted()).toEqual([])
    // Only the first notification was ever tried: the others wait behind it.
    expect(new Set(ep.hits().map((h) => JSON.stringify(h.body))).size).toBe(1)

    up = true
    const second = await start(dir, tune)
    await waitFor(() => ep.accepted().length >= 4, 'the owed notifications after the restart')
    expect(
      ep.accepted().map((n) => [n.notifyType, n.deviceId, (n.deviceInfo as { status?: string }).status]),
    ).toEqual([
      ['deviceAdded', d1.deviceId, 'INACTIVE'],
      ['deviceAdded', d2.deviceId, 'INACTIVE'],
      ['deviceInfoChanged', d1.deviceId, 'ONLINE'],
      ['deviceInfoChanged', d1.deviceId, 'OFFLINE'],
    ])
    await countersBecome(second.app, added, { deliveredCount: 2, failedCount: 0 })
    await countersBecome(second.app, changed, { deliveredCount: 2, failedCount: 0 })
  })
})
