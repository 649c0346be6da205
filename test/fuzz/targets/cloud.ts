// Cloud requests (README "Upstream sync", platform profile): the cloud simulator on a real mosquitto publishes
// fuzzed cloudReq payloads on the command topic of a gateway that syncs to it. Properties: the gateway stays
// connected, and a request its profile refuses creates no command and changes no shadow (it is answered with
// errcode 1 when it carries a usable mid; that reply is the one write it may cause). Requests are checked in
// batches, each closed by a marker request whose reply proves the batch before it was handled.
import { PlatformProfile } from '../../../src/sync/platform-profile.ts'
import { GW_ID, GW_SECRET } from '../../helpers/upstream.ts'
import { cloudRequests } from '../examples.ts'
import type { FuzzGateway } from '../gateway-env.ts'
import { type FuzzTarget, Violation } from '../harness.ts'
import { fuzzText } from '../mutate.ts'

const BATCH = 20

export function cloudTargets(env: FuzzGateway): FuzzTarget[] {
  const cloud = env.cloud
  if (!cloud) return []
  const profile = new PlatformProfile(GW_ID, GW_SECRET)
  const topic = `/huawei/v1/devices/${GW_ID}/command/json`
  const examples = cloudRequests(env.spare.deviceId)
  let marker = 60_000
  let batch: Buffer[] = []
  const state = () =>
    `${env.count('commands')}/${env.count('shadow_desired_history')}/${env.count('sync_inbox')}`
  let baseline: string | undefined

  /** Sends an invalid request with a fresh mid and waits for its errcode 1 reply. */
  async function barrier(): Promise<void> {
    const mid = marker++
    await cloud!.sim.send(topic, JSON.stringify({ msgType: 'notACloudReq', mid }))
    await cloud!.sim.waitForReply((r) => r.body.mid === mid, 20_000)
  }

  async function closeBatch(): Promise<void> {
    if (batch.length === 0) return
    const sent = batch
    batch = []
    try {
      await barrier()
    } catch {
      throw new Violation(`no reply to the marker after ${sent.length} refused requests`, sent.join('\n'))
    }
    const now = state()
    if (baseline !== undefined && now !== baseline)
      throw new Violation(
        `refused requests changed commands/desired history/inbox: ${baseline} → ${now}`,
        sent.join('\n'),
      )
  }

  return [
    {
      name: 'cloud:platform-request',
      weight: 2,
      async one(rng) {
        if (baseline === undefined) {
          await barrier()
          baseline = state()
        }
        const payload = fuzzText(rng, examples)
        const refused = 'error' in profile.decodeRequest(topic, payload)
        if (!refused) {
          // A request the profile accepts may create a command: checked batches restart after it.
          await closeBatch()
          await cloud.sim.send(topic, payload)
          await barrier()
          baseline = state()
          return
        }
        batch.push(payload)
        await cloud.sim.send(topic, payload)
        if (batch.length >= BATCH) await closeBatch()
      },
      async finish() {
        await closeBatch()
        const status = env.gw.gateway.sync.status()
        if (!status.connected) throw new Error(`the upstream link is down after the run: ${status.lastError}`)
      },
    },
  ]
}
