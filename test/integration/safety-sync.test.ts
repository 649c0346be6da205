// Safety calls with the cloud down (issue 7: "with the cloud down nothing changes"), and safety events first to
// the cloud once it is back (issue 5: the safety lane has the highest priority). Real Prosody, real mosquitto.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncStatus } from '../../src/sync/service.ts'
import { type CloudSimulator, simulateCloud } from '../helpers/cloud-simulator.ts'
import { callApi, registerDevice } from '../helpers/gateway.ts'
import { type Helmet, startHelmet } from '../helpers/helmet.ts'
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.ts'
import { dataTopic, deviceOptions, openDevice, publishAcked, waitFor } from '../helpers/mqtt.ts'
import { requireProgram } from '../helpers/programs.ts'
import {
  DEVICES_HOST,
  exampleStanza,
  GATEWAY_JID,
  HELMET_JID,
  HELMET_USER,
  postCall,
  type SafetySite,
  startSafetySite,
  waitForXmppState,
} from '../helpers/safety-site.ts'
import { upstreamConfig } from '../helpers/upstream.ts'

describe.runIf(requireProgram('prosody') && requireProgram('mosquitto'))(
  'safety calls and the uplink',
  () => {
    let broker: Mosquitto
    let cloud: CloudSimulator
    let site: SafetySite
    let helmet: Helmet

    beforeAll(async () => {
      broker = await startMosquitto()
      cloud = await simulateCloud(broker.url, 'cloud-safety')
      // The cloud is down from the gateway's start.
      await broker.stop()
      site = await startSafetySite({ config: (c) => upstreamConfig(broker.url)(c) })
      helmet = await startHelmet({
        service: site.prosody.service,
        domain: DEVICES_HOST,
        user: HELMET_USER.user,
        password: HELMET_USER.password,
      })
      await waitForXmppState(site, 'online')
    }, 60_000)
    afterAll(async () => {
      await helmet?.stop()
      await site?.close()
      await cloud?.close()
      await broker?.dispose()
    })

    const status = async () =>
      (await callApi<SyncStatus>(site.gw.httpUrl, site.session, 'GET', '/sitegate/v1/sync')).body

    it('calls a helmet and records its SOS while the cloud is unreachable', async () => {
      expect((await status()).connected).toBe(false)
      const res = await postCall(site, { message: exampleStanza({ id: 'offline-call-1', to: HELMET_JID }) })
      expect(res.body).toEqual({ stateCode: '0', errorMessage: null, result: null })
      const got = await helmet.waitFor((m) => m.attrs.id === 'offline-call-1')
      expect(got.getChildText('subject')).toBe('qc-intellect-equip-remote-invite')
      await helmet.sendDirective(
        GATEWAY_JID,
        'qc-intellect-equip-sos',
        { deviceId: 'aqm0523' },
        { id: 'sos-offline', body: 'SOS: gas alarm', requestReceipt: true },
      )
      await helmet.waitFor((m) => m.getChild('received', 'urn:xmpp:receipts')?.attrs.id === 'sos-offline')
      const s = await status()
      expect(s.lanes.safety?.records).toBeGreaterThanOrEqual(2) // the call and the SOS
    })

    it('sends the safety events ahead of the telemetry backlog when the cloud is back', async () => {
      const d = await registerDevice(site.gw.httpUrl, site.session, 'safety-sync-meter')
      const { client } = await openDevice(
        site.gw.mqttUrl,
        deviceOptions({ id: d.deviceId, secret: d.secret }),
      )
      try {
        for (let i = 0; i < 50; i++) {
          await publishAcked(
            client,
            dataTopic(d.deviceId),
            JSON.stringify({ msgType: 'deviceReq', data: [{ serviceId: 'Gas', serviceData: { ppm: i } }] }),
          )
        }
      } finally {
        client.end(true)
      }
      await broker.start()
      await cloud.waitForUnique(50, 'telemetry', 20_000)
      const kinds = cloud.records.map((r) => r.kind)
      const lastEvent = kinds.lastIndexOf('event')
      expect(lastEvent).toBeGreaterThanOrEqual(0)
      expect(lastEvent).toBeLessThan(kinds.indexOf('telemetry'))
      const sos = cloud.records.find(
        (r) => r.kind === 'event' && JSON.stringify(r.serviceData).includes('SOS: gas alarm'),
      )
      expect(sos?.serviceId).toBe('safetyEvent')
      await waitFor(
        async () => ((await status()).backlog.records === 0 ? true : undefined),
        'an empty outbox',
      )
    })
  },
)
