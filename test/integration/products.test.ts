// Product models over real sockets (issue 4 item 2): models read from DATA_DIR/products/ at start and managed
// through the admin API (README "Product models"); registration naming a product (spec §4.2, 600002), the
// §5.5 capability query, and what a model forbids: reported data (dropped), desired writes (§4.8: 100431,
// 107003, 100443, 50400) and commands (§8.1: 100431, 100022; §8.7: 100444, 102203, 100022).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Product } from '../../src/products/model.ts'
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
import { dataTopic, getShadow, publishAcked, storeSnapshot } from '../helpers/mqtt.ts'
import { registerOneJsonDevice } from '../helpers/onejson-device.ts'
import { type SimulatedDevice, simulateDevice } from '../helpers/simulator.ts'

const CRANE = 'crane-monitor'

/** The model written to DATA_DIR/products/ before the gateway starts. */
const crane: Product = {
  productId: CRANE,
  manufacturerId: 'liebherr',
  manufacturerName: 'Liebherr',
  deviceType: 'CraneMonitor',
  model: 'TC-7000',
  protocolType: 'MQTT',
  serviceCapabilities: [
    {
      serviceId: 'Load',
      serviceType: 'Load',
      properties: [
        { propertyName: 'weight', dataType: 'decimal', method: 'RE', min: '0', max: '12.5', unit: 't' },
        { propertyName: 'alarm', dataType: 'boolean', method: 'RE' },
        { propertyName: 'limit', dataType: 'int', method: 'RWE', min: '1', max: '20' },
        { propertyName: 'mode', dataType: 'string', method: 'RW', enumList: ['auto', 'manual'] },
      ],
      commands: [
        {
          commandName: 'SET_LIMIT',
          paras: [
            { paraName: 'limit', dataType: 'int', required: true, min: '1', max: '20' },
            { paraName: 'reason', dataType: 'string', maxLength: 16 },
          ],
        },
        { commandName: 'RESET' },
      ],
    },
    {
      serviceId: 'Wind',
      properties: [{ propertyName: 'speed', dataType: 'double', method: 'RE', min: '0' }],
    },
  ],
}

/** A second model, created through the admin API. */
const hoist = (deviceType = 'Hoist'): Product => ({
  productId: 'hoist',
  deviceType,
  serviceCapabilities: [
    { serviceId: 'Cabin', properties: [{ propertyName: 'floor', dataType: 'int', method: 'RWE' }] },
  ],
})

interface DeviceInfo {
  deviceType: string | null
  model: string | null
  manufacturerId: string | null
  manufacturerName: string | null
  protocolType: string | null
}

const error = (status: number, code: string) => ({
  status,
  body: { error_code: code, error_desc: expect.any(String) },
})

describe('product models', () => {
  let gw: RunningGateway
  let session: AppSession
  const clients: MqttClient[] = []
  const sims: SimulatedDevice[] = []
  let n = 0

  beforeAll(async () => {
    const dataDir = tempDir()
    const dir = join(dataDir, 'products')
    mkdirSync(dir)
    writeFileSync(join(dir, 'crane.json'), JSON.stringify(crane, null, 2))
    // Bad files are logged and skipped: the gateway starts all the same.
    writeFileSync(join(dir, 'broken.json'), '{"productId": "broken", "serviceCapabilities": [')
    writeFileSync(
      join(dir, 'invalid.json'),
      JSON.stringify({
        productId: 'invalid-file',
        serviceCapabilities: [
          { serviceId: 'S', properties: [{ propertyName: 'p', dataType: 'int', method: 'X' }] },
        ],
      }),
    )
    writeFileSync(join(dir, 'notes.txt'), 'not a model')
    gw = await startGateway({ dataDir })
    session = await login(gw.httpUrl, firstApp(gw.dataDir))
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true)
    for (const sim of sims.splice(0)) await sim.close()
  })
  afterAll(async () => {
    try {
      await gw.stop()
    } finally {
      removeDir(gw.dataDir)
    }
  })

  const api = (method: string, path: string, body?: unknown) =>
    callApi(gw.httpUrl, session, method, path, body)
  const putProduct = (productId: string, body: unknown) =>
    api('PUT', `/sitegate/v1/products/${productId}`, body)
  const getProduct = (productId: string) => api('GET', `/sitegate/v1/products/${productId}`)
  const deleteProduct = (productId: string) => api('DELETE', `/sitegate/v1/products/${productId}`)
  const register = (body: Record<string, unknown>) =>
    api('POST', '/iocm/app/reg/v2.0.0/deviceCredentials', body)
  /** A device of `productId` (registered without deviceType, model, manufacturer or protocolType). */
  const productDevice = async (productId = CRANE, deviceInfo: Record<string, unknown> = {}) => {
    const nodeId = `product-node-${++n}`
    const res = await register({ deviceInfo: { nodeId, ...deviceInfo }, mqttConnect: true, productId })
    expect(res.status).toBe(200)
    const { deviceId, secret } = res.body as { deviceId: string; secret: string }
    return { deviceId, secret, nodeId }
  }
  const plainDevice = () => registerDevice(gw.httpUrl, session, `plain-node-${++n}`)
  const deviceInfo = async (deviceId: string) => {
    const res = await api('GET', `/iocm/app/dm/v1.4.0/devices/${deviceId}`)
    expect(res.status).toBe(200)
    return res.body.deviceInfo as DeviceInfo
  }
  const capabilities = (query: string) => api('GET', `/iocm/app/data/v1.1.0/deviceCapabilities?${query}`)
  const connect = async (d: { deviceId: string; secret: string }) => {
    const client = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
    clients.push(client)
    return client
  }
  const report = (
    client: MqttClient,
    deviceId: string,
    serviceId: string,
    serviceData: Record<string, unknown>,
  ) => publishAcked(client, dataTopic(deviceId), deviceReq([{ serviceId, serviceData }]))
  const history = async (deviceId: string) => {
    const res = await api(
      'GET',
      `/iocm/app/data/v1.2.0/deviceDataHistory?deviceId=${deviceId}&gatewayId=${deviceId}&pageSize=100`,
    )
    expect(res.status).toBe(200)
    return res.body.deviceDataHistoryDTOs as { serviceId: string; data: Record<string, unknown> }[]
  }

  describe('model files in DATA_DIR/products/', () => {
    it('a valid file is loaded at start', async () => {
      expect(await getProduct(CRANE)).toEqual({ status: 200, body: crane })
    })

    it('an invalid file is skipped (the gateway started, the model is unknown)', async () => {
      expect(await getProduct('invalid-file')).toEqual(error(404, '100225'))
      expect(await getProduct('broken')).toEqual(error(404, '100225'))
      const list = await api('GET', '/sitegate/v1/products')
      const ids = (list.body.products as Product[]).map((p) => p.productId)
      expect(ids).toContain(CRANE)
      expect(ids).not.toContain('invalid-file')
      expect(ids).not.toContain('broken')
    })
  })

  describe('admin API /sitegate/v1/products', () => {
    it('PUT creates (200, the model), GET returns it, PUT again replaces it', async () => {
      expect(await getProduct('hoist')).toEqual(error(404, '100225'))
      expect(await putProduct('hoist', hoist())).toEqual({ status: 200, body: hoist() })
      expect(await getProduct('hoist')).toEqual({ status: 200, body: hoist() })
      expect(await putProduct('hoist', hoist('Lift'))).toEqual({ status: 200, body: hoist('Lift') })
      expect(await getProduct('hoist')).toEqual({ status: 200, body: hoist('Lift') })
    })

    it('GET lists every model', async () => {
      expect(await putProduct('hoist', hoist())).toMatchObject({ status: 200 })
      const res = await api('GET', '/sitegate/v1/products')
      expect(res.status).toBe(200)
      const products = res.body.products as Product[]
      expect(products.find((p) => p.productId === CRANE)).toEqual(crane)
      expect(products.find((p) => p.productId === 'hoist')).toEqual(hoist())
    })

    it.each<[string, unknown]>([
      [
        'a method X',
        {
          ...hoist(),
          productId: 'bad-1',
          serviceCapabilities: [
            { serviceId: 'S', properties: [{ propertyName: 'p', dataType: 'int', method: 'X' }] },
          ],
        },
      ],
      [
        'an unknown dataType',
        {
          ...hoist(),
          productId: 'bad-1',
          serviceCapabilities: [
            { serviceId: 'S', properties: [{ propertyName: 'p', dataType: 'float', method: 'R' }] },
          ],
        },
      ],
      [
        'a duplicate serviceId',
        { productId: 'bad-1', serviceCapabilities: [{ serviceId: 'S' }, { serviceId: 'S' }] },
      ],
      [
        'min not numeric',
        {
          productId: 'bad-1',
          serviceCapabilities: [
            { serviceId: 'S', properties: [{ propertyName: 'p', dataType: 'int', method: 'R', min: 'low' }] },
          ],
        },
      ],
      ['no serviceCapabilities', { productId: 'bad-1' }],
      ['an array', [{ productId: 'bad-1', serviceCapabilities: [] }]],
    ])('PUT with %s: 400 50400, nothing stored', async (_label, body) => {
      expect(await putProduct('bad-1', body)).toEqual(error(400, '50400'))
      expect(await getProduct('bad-1')).toEqual(error(404, '100225'))
    })

    it('PUT whose body productId differs from the path: 400 50400, neither is stored', async () => {
      expect(await putProduct('other-id', { ...hoist(), productId: 'body-id' })).toEqual(error(400, '50400'))
      expect(await getProduct('other-id')).toEqual(error(404, '100225'))
      expect(await getProduct('body-id')).toEqual(error(404, '100225'))
    })

    it('DELETE: 204, then unknown (GET and DELETE 404 100225)', async () => {
      const model = { productId: 'short-lived', serviceCapabilities: [] }
      expect((await putProduct('short-lived', model)).status).toBe(200)
      expect(await deleteProduct('short-lived')).toEqual({ status: 204, body: undefined })
      expect(await getProduct('short-lived')).toEqual(error(404, '100225'))
      expect(await deleteProduct('short-lived')).toEqual(error(404, '100225'))
      expect(await deleteProduct('never-was')).toEqual(error(404, '100225'))
    })

    it('DELETE while a device uses the model: 409 100227; once the device is deleted, 204', async () => {
      const model = { productId: 'in-use', serviceCapabilities: [{ serviceId: 'S' }] }
      expect((await putProduct('in-use', model)).status).toBe(200)
      const d = await productDevice('in-use')
      expect(await deleteProduct('in-use')).toEqual(error(409, '100227'))
      expect(await getProduct('in-use')).toEqual({ status: 200, body: model })
      expect((await api('DELETE', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`)).status).toBe(204)
      expect(await deleteProduct('in-use')).toEqual({ status: 204, body: undefined })
    })

    it('needs the application credentials: none 401 100025, no token or a bad one 403 1010005', async () => {
      const calls: [string, string, unknown?][] = [
        ['GET', '/sitegate/v1/products'],
        ['GET', `/sitegate/v1/products/${CRANE}`],
        ['PUT', '/sitegate/v1/products/intruder', { productId: 'intruder', serviceCapabilities: [] }],
        ['DELETE', `/sitegate/v1/products/${CRANE}`],
      ]
      const headerSets: [Record<string, string>, number, string][] = [
        [{ 'content-type': 'application/json' }, 401, '100025'],
        [{ 'content-type': 'application/json', app_key: session.appId }, 403, '1010005'],
        [
          { 'content-type': 'application/json', app_key: session.appId, authorization: 'Bearer not-a-token' },
          403,
          '1010005',
        ],
      ]
      for (const [method, path, body] of calls) {
        for (const [headers, status, code] of headerSets) {
          const res = await fetch(`${gw.httpUrl}${path}`, {
            method,
            headers,
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          })
          expect(res.status, `${method} ${path}`).toBe(status)
          expect(((await res.json()) as { error_code: string }).error_code).toBe(code)
        }
      }
      // Nothing changed.
      expect(await getProduct('intruder')).toEqual(error(404, '100225'))
      expect(await getProduct(CRANE)).toEqual({ status: 200, body: crane })
    })
  })

  describe('registration with a productId (§4.2)', () => {
    it('an unknown product: 403 600002, nothing registered (the nodeId stays free)', async () => {
      const res = await register({
        deviceInfo: { nodeId: 'orphan-node' },
        mqttConnect: true,
        productId: 'nope',
      })
      expect(res).toEqual({
        status: 403,
        body: { error_code: '600002', error_desc: 'The product not existed.' },
      })
      expect((await register({ deviceInfo: { nodeId: 'orphan-node' }, mqttConnect: true })).status).toBe(200)
    })

    it("a known product: 200; §5.1 shows the product's deviceType, model, manufacturer and protocolType", async () => {
      const d = await productDevice()
      expect(d.deviceId).toMatch(/\S/)
      expect(await deviceInfo(d.deviceId)).toMatchObject({
        deviceType: 'CraneMonitor',
        model: 'TC-7000',
        manufacturerId: 'liebherr',
        manufacturerName: 'Liebherr',
        protocolType: 'MQTT',
      })
    })

    it('what the registration gives wins over the product', async () => {
      const d = await productDevice(CRANE, { deviceType: 'TowerCrane', model: 'TC-9000' })
      expect(await deviceInfo(d.deviceId)).toMatchObject({
        deviceType: 'TowerCrane',
        model: 'TC-9000',
        manufacturerName: 'Liebherr',
      })
    })

    it('without a product nothing is filled in', async () => {
      const d = await plainDevice()
      expect(await deviceInfo(d.deviceId)).toMatchObject({
        deviceType: null,
        model: null,
        manufacturerName: null,
      })
    })
  })

  describe('§5.5 device capabilities', () => {
    it("a product device: the model's serviceCapabilities (by deviceId, by gatewayId)", async () => {
      const d = await productDevice()
      const expected = {
        status: 200,
        body: {
          deviceCapabilities: [{ deviceId: d.deviceId, serviceCapabilities: crane.serviceCapabilities }],
        },
      }
      expect(await capabilities(`deviceId=${d.deviceId}`)).toEqual(expected)
      expect(await capabilities(`gatewayId=${d.deviceId}`)).toEqual(expected)
      expect(await capabilities(`deviceId=${d.deviceId}&gatewayId=${d.deviceId}`)).toEqual(expected)
    })

    it('a device without a product: an empty list', async () => {
      const d = await plainDevice()
      expect(await capabilities(`deviceId=${d.deviceId}`)).toEqual({
        status: 200,
        body: { deviceCapabilities: [{ deviceId: d.deviceId, serviceCapabilities: [] }] },
      })
    })

    it('neither deviceId nor gatewayId: 400 100022', async () => {
      expect(await capabilities('')).toEqual(error(400, '100022'))
      expect(await capabilities(`appId=${session.appId}`)).toEqual(error(400, '100022'))
    })
  })

  describe('reported data of a product device', () => {
    it('a valid deviceReq is stored: history and shadow', async () => {
      const d = await productDevice()
      const client = await connect(d)
      await publishAcked(
        client,
        dataTopic(d.deviceId),
        deviceReq([
          { serviceId: 'Load', serviceData: { weight: 3.5, alarm: false, limit: 10, mode: 'auto' } },
          { serviceId: 'Wind', serviceData: { speed: 7.25 } },
        ]),
      )
      const shadow = await getShadow(gw.httpUrl, session, d.deviceId)
      expect(shadow.find((s) => s.serviceId === 'Load')?.reportedProps).toEqual({
        weight: 3.5,
        alarm: false,
        limit: 10,
        mode: 'auto',
      })
      expect(shadow.find((s) => s.serviceId === 'Wind')?.reportedProps).toEqual({ speed: 7.25 })
      const entries = await history(d.deviceId)
      expect(entries.map((e) => e.serviceId).sort()).toEqual(['Load', 'Wind'])
    })

    describe('anything else is acknowledged and stores nothing', () => {
      let d: { deviceId: string; secret: string }
      let client: MqttClient
      let valid = 0
      beforeAll(async () => {
        d = await productDevice()
        client = await connectDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
      })
      afterAll(() => {
        client.end(true)
      })

      const cases: [string, { serviceId: string; serviceData: Record<string, unknown> }[]][] = [
        ['an unknown service', [{ serviceId: 'Hook', serviceData: { angle: 3 } }]],
        ['an unknown property', [{ serviceId: 'Load', serviceData: { weight: 1, height: 2 } }]],
        ['a property of another service', [{ serviceId: 'Wind', serviceData: { weight: 1 } }]],
        ['a value above max', [{ serviceId: 'Load', serviceData: { weight: 12.6 } }]],
        ['a value below min', [{ serviceId: 'Wind', serviceData: { speed: -1 } }]],
        ['a fraction for an int', [{ serviceId: 'Load', serviceData: { limit: 2.5 } }]],
        ['a string for a number', [{ serviceId: 'Load', serviceData: { weight: '3.5' } }]],
        ['a number for a boolean', [{ serviceId: 'Load', serviceData: { alarm: 1 } }]],
        ['a value outside enumList', [{ serviceId: 'Load', serviceData: { mode: 'turbo' } }]],
        [
          'one bad entry beside a good one',
          [
            { serviceId: 'Load', serviceData: { weight: 2 } },
            { serviceId: 'Wind', serviceData: { speed: 'gale' } },
          ],
        ],
      ]

      it.each(cases)('%s', async (_label, services) => {
        const before = storeSnapshot(gw.gateway.store, d.deviceId)
        await publishAcked(client, dataTopic(d.deviceId), deviceReq(services))
        expect(client.connected).toBe(true)
        // A valid report on the same connection after it is the only change.
        valid += 1
        await report(client, d.deviceId, 'Load', { limit: valid })
        const after = storeSnapshot(gw.gateway.store, d.deviceId)
        expect(after.deviceTelemetry).toBe(before.deviceTelemetry + 1)
        expect(after.shadowVersion).toBe((before.shadowVersion ?? 0) + 1)
        const reported = await getShadow(gw.httpUrl, session, d.deviceId)
        expect(reported).toEqual([
          expect.objectContaining({ serviceId: 'Load', reportedProps: { limit: valid } }),
        ])
        expect((await history(d.deviceId)).map((e) => e.data)).toEqual(
          Array.from({ length: valid }, (_, i) => ({ limit: valid - i })),
        )
      })
    })

    it('a device without a product reports any service and property', async () => {
      const d = await plainDevice()
      const client = await connect(d)
      await report(client, d.deviceId, 'Hook', { angle: 'steep', weight: -5, anything: [1, 2] })
      const shadow = await getShadow(gw.httpUrl, session, d.deviceId)
      expect(shadow).toEqual([
        expect.objectContaining({
          serviceId: 'Hook',
          reportedProps: { angle: 'steep', weight: -5, anything: [1, 2] },
        }),
      ])
    })

    it('a device given a product by §4.4 is checked from then on', async () => {
      const d = await plainDevice()
      const client = await connect(d)
      await report(client, d.deviceId, 'Hook', { angle: 1 })
      expect(storeSnapshot(gw.gateway.store, d.deviceId).deviceTelemetry).toBe(1)
      const modified = await api('PUT', `/iocm/app/dm/v1.4.0/devices/${d.deviceId}`, { productId: CRANE })
      expect(modified.status).toBe(204)
      await report(client, d.deviceId, 'Hook', { angle: 2 })
      await report(client, d.deviceId, 'Wind', { speed: 3 })
      expect(storeSnapshot(gw.gateway.store, d.deviceId).deviceTelemetry).toBe(2)
      const shadow = await getShadow(gw.httpUrl, session, d.deviceId)
      expect(shadow.find((s) => s.serviceId === 'Hook')?.reportedProps).toEqual({ angle: 1 })
    })
  })

  describe('desired state (§4.8) of a product device', () => {
    const putDesired = (deviceId: string, serviceDesireds: unknown) =>
      api('PUT', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`, { serviceDesireds })
    const desiredOf = async (deviceId: string) => {
      const res = await api('GET', `/iocm/app/shadow/v1.5.0/devices/${deviceId}`)
      expect(res.status).toBe(200)
      return (res.body.services as { serviceId: string; desiredProps: Record<string, unknown> }[]).map(
        (s) => [s.serviceId, s.desiredProps],
      )
    }

    it('writable properties: 200 and stored', async () => {
      const d = await productDevice()
      expect(
        await putDesired(d.deviceId, [{ serviceId: 'Load', desired: { limit: 12, mode: 'manual' } }]),
      ).toEqual({
        status: 200,
        body: undefined,
      })
      expect(await desiredOf(d.deviceId)).toEqual([['Load', { limit: 12, mode: 'manual' }]])
    })

    it.each<[string, number, string, unknown]>([
      ["a read-only property (method 'RE')", 403, '100443', [{ serviceId: 'Load', desired: { weight: 1 } }]],
      [
        'a read-only property beside a writable one',
        403,
        '100443',
        [{ serviceId: 'Load', desired: { limit: 3, alarm: true } }],
      ],
      ['an unknown property', 400, '107003', [{ serviceId: 'Load', desired: { height: 2 } }]],
      ['an unknown service', 404, '100431', [{ serviceId: 'Hook', desired: { angle: 2 } }]],
      [
        'an unknown service after a valid one',
        404,
        '100431',
        [
          { serviceId: 'Load', desired: { limit: 3 } },
          { serviceId: 'Hook', desired: { angle: 2 } },
        ],
      ],
      ['a value above max', 400, '50400', [{ serviceId: 'Load', desired: { limit: 21 } }]],
      ['a fraction for an int', 400, '50400', [{ serviceId: 'Load', desired: { limit: 1.5 } }]],
      ['a value outside enumList', 400, '50400', [{ serviceId: 'Load', desired: { mode: 'turbo' } }]],
      ['a number for a string', 400, '50400', [{ serviceId: 'Load', desired: { mode: 1 } }]],
    ])('%s: %i %s, nothing stored', async (_label, status, code, serviceDesireds) => {
      const d = await productDevice()
      expect(await putDesired(d.deviceId, serviceDesireds)).toEqual(error(status, code))
      expect(await desiredOf(d.deviceId)).toEqual([])
    })

    it('a device without a product takes any service and property', async () => {
      const d = await plainDevice()
      expect((await putDesired(d.deviceId, [{ serviceId: 'Hook', desired: { anything: 'x' } }])).status).toBe(
        200,
      )
      expect(await desiredOf(d.deviceId)).toEqual([['Hook', { anything: 'x' }]])
    })

    it("a OneJSON device's productId is its pid, not a model, even when a model has the same name", async () => {
      expect((await putProduct('pidLamp', { productId: 'pidLamp', serviceCapabilities: [] })).status).toBe(
        200,
      )
      const d = await registerOneJsonDevice(gw.httpUrl, session, `lamp-${++n}`, 'pidLamp')
      expect((await putDesired(d.deviceId, [{ serviceId: 'Light', desired: { level: 3 } }])).status).toBe(200)
      expect(await capabilities(`deviceId=${d.deviceId}`)).toEqual({
        status: 200,
        body: { deviceCapabilities: [{ deviceId: d.deviceId, serviceCapabilities: [] }] },
      })
    })
  })

  describe('commands of a product device', () => {
    const create = (deviceId: string, command: unknown) =>
      api('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', { deviceId, command })
    const commandsOf = async (deviceId: string) => {
      const res = await api('GET', `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${deviceId}`)
      expect(res.status).toBe(200)
      return (res.body.data as { command: { method: string } }[]).map((c) => c.command.method)
    }
    const send = (deviceId: string, serviceId: string, body: unknown) =>
      api('POST', `/iocm/app/signaltrans/v1.1.0/devices/${deviceId}/services/${serviceId}/sendCommand`, body)

    it('§8.1: a valid command is 201 PENDING', async () => {
      const d = await productDevice()
      const res = await create(d.deviceId, { serviceId: 'Load', method: 'SET_LIMIT', paras: { limit: 5 } })
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({
        deviceId: d.deviceId,
        status: 'PENDING',
        command: { serviceId: 'Load', method: 'SET_LIMIT', paras: { limit: 5 } },
      })
      const reset = await create(d.deviceId, { serviceId: 'Load', method: 'RESET', paras: {} })
      expect(reset.status).toBe(201)
      expect(await commandsOf(d.deviceId)).toEqual(expect.arrayContaining(['SET_LIMIT', 'RESET']))
    })

    it.each<[string, number, string, unknown]>([
      ['an unknown service', 404, '100431', { serviceId: 'Hook', method: 'SET_LIMIT', paras: { limit: 5 } }],
      [
        'a service without that command',
        400,
        '100022',
        { serviceId: 'Wind', method: 'SET_LIMIT', paras: {} },
      ],
      ['an unknown command', 400, '100022', { serviceId: 'Load', method: 'EXPLODE', paras: {} }],
      ['a required parameter missing', 400, '100022', { serviceId: 'Load', method: 'SET_LIMIT', paras: {} }],
      [
        'an unknown parameter',
        400,
        '100022',
        { serviceId: 'Load', method: 'SET_LIMIT', paras: { limit: 5, colour: 'red' } },
      ],
      [
        'a value out of range',
        400,
        '100022',
        { serviceId: 'Load', method: 'SET_LIMIT', paras: { limit: 50 } },
      ],
      [
        'a string too long',
        400,
        '100022',
        { serviceId: 'Load', method: 'SET_LIMIT', paras: { limit: 5, reason: 'x'.repeat(17) } },
      ],
    ])('§8.1: %s is %i %s, nothing created', async (_label, status, code, command) => {
      const d = await productDevice()
      expect(await create(d.deviceId, command)).toEqual(error(status, code))
      expect(await commandsOf(d.deviceId)).toEqual([])
    })

    it('§8.1: a device without a product takes any command', async () => {
      const d = await plainDevice()
      const res = await create(d.deviceId, { serviceId: 'Hook', method: 'SWING', paras: { angle: 'any' } })
      expect(res.status).toBe(201)
    })

    it('§8.7 on an online product device: bad service 404 100444, method 400 102203, paras 400 100022; nothing sent', async () => {
      const d = await productDevice()
      const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
      sims.push(sim)
      expect(
        await send(d.deviceId, 'Hook', { header: { mode: 'ACK', method: 'SET_LIMIT' }, body: { limit: 5 } }),
      ).toEqual(error(404, '100444'))
      expect(await send(d.deviceId, 'Load', { header: { mode: 'ACK', method: 'EXPLODE' } })).toEqual(
        error(400, '102203'),
      )
      expect(await send(d.deviceId, 'Wind', { header: { mode: 'ACK', method: 'RESET' } })).toEqual(
        error(400, '102203'),
      )
      for (const body of [{}, { limit: 0 }, { limit: 5, colour: 'red' }, { limit: '5' }]) {
        expect(
          await send(d.deviceId, 'Load', { header: { mode: 'ACK', method: 'SET_LIMIT' }, body }),
          JSON.stringify(body),
        ).toEqual(error(400, '100022'))
      }
      // SET_LIMIT needs its parameter: no body is no parameters.
      expect(await send(d.deviceId, 'Load', { header: { mode: 'NOACK', method: 'SET_LIMIT' } })).toEqual(
        error(400, '100022'),
      )
      // The valid one is the only command the device ever gets.
      const ok = await send(d.deviceId, 'Load', {
        header: { mode: 'ACK', method: 'SET_LIMIT' },
        body: { limit: 7 },
      })
      expect(ok.status).toBe(202)
      const reset = await send(d.deviceId, 'Load', { header: { mode: 'NOACK', method: 'RESET' } })
      expect(reset.status).toBe(202)
      await sim.waitForCommands(2)
      expect(sim.received.map((r) => [r.serviceId, r.cmd, r.paras])).toEqual([
        ['Load', 'SET_LIMIT', { limit: 7 }],
        ['Load', 'RESET', {}],
      ])
    })

    it('§8.7 on a device without a product: any service and method', async () => {
      const d = await plainDevice()
      const sim = await simulateDevice(gw.mqttUrl, { id: d.deviceId, secret: d.secret })
      sims.push(sim)
      const res = await send(d.deviceId, 'Hook', {
        header: { mode: 'NOACK', method: 'SWING' },
        body: { x: 1 },
      })
      expect(res.status).toBe(202)
      const [req] = await sim.waitForCommands(1)
      expect(req).toMatchObject({ serviceId: 'Hook', cmd: 'SWING', paras: { x: 1 } })
    })
  })
})
