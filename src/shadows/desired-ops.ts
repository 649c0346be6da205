// Desired state (spec §4.8), run in the writer thread like the ledger ops: the desired section, its history
// (§5.4) and the command that carries it to the device, in one transaction.
import { transition } from '../commands/ledger-ops.ts'
import { newCommandRow } from '../commands/new-command.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import type { OpContext } from '../store/write-ops.ts'

/**
 * The cloudReq `cmd` that carries desired properties to a platform-protocol device (A.7 leaves the transport
 * of desired values to the gateway): `paras` holds the service's whole desired section.
 */
export const DESIRED_METHOD = 'SET_DESIRED'

export interface DesiredInput {
  appId: string
  deviceId: string
  services: { serviceId: string; desired: Record<string, unknown> }[]
  maxRetransmit: number
}

/**
 * Merges each service's desired properties into its shadow (version + 1, status PENDING, history row) and
 * queues one desired command per service carrying the whole desired section; a desired command of the same
 * service still PENDING is superseded (CANCELED), so the device gets only the latest state.
 */
export function setDesired(ctx: OpContext, a: DesiredInput): CommandRow[] {
  const { store, now } = ctx
  const created: CommandRow[] = []
  for (const { serviceId, desired } of a.services) {
    const current = store.shadows.get(a.deviceId, serviceId)
    const merged = {
      ...(current ? (JSON.parse(current.desired_json) as Record<string, unknown>) : {}),
      ...desired,
    }
    const version = (current?.desired_version ?? 0) + 1
    store.shadows.setDesired({
      device_id: a.deviceId,
      service_id: serviceId,
      // Without a product model the service type is the service id (spec §2.5 serviceType).
      service_type: current?.service_type ?? serviceId,
      desired_json: JSON.stringify(merged),
      desired_version: version,
      modified_at: now,
    })
    ctx.reported.setDesired(a.deviceId, serviceId, merged, version)
    for (const old of store.commands.pendingDesired(a.deviceId, serviceId)) {
      transition(ctx, old, 'CANCELED', {}, { reason: 'superseded by a newer desired state' })
    }
    const spec = {
      appId: a.appId,
      deviceId: a.deviceId,
      origin: 'desired',
      serviceId,
      method: DESIRED_METHOD,
      paras: merged,
      maxRetransmit: a.maxRetransmit,
      neverExpires: true,
      extra: { desiredVersion: version },
    } as const
    created.push(store.commands.insert(newCommandRow(spec, now)))
  }
  return created
}
