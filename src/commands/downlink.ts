// How a command reaches a device, per the protocol its session speaks.
import type { DeviceSession } from '../broker/access.ts'
import { encodeInvoke, invokeTopic } from '../protocols/onejson.ts'
import { commandTopic } from '../protocols/platform-mqtt.ts'
import type { CommandRow } from '../store/repos/commands.ts'

export interface Downlink {
  topic: string
  payload: string
}

/**
 * Platform devices get a cloudReq on their command topic (A.5: serviceId, cmd = the method, paras, mid);
 * OneJSON devices an invoke of the service named by the method (B.2: id = the mid, params = paras).
 */
export function downlinkOf(session: DeviceSession, row: CommandRow): Downlink {
  if (row.mid === null) throw new Error(`command ${row.command_id} has no mid yet`)
  const paras = JSON.parse(row.paras_json) as Record<string, unknown>
  if (session.protocol === 'onejson') {
    const version = (JSON.parse(row.extra_json ?? '{}') as { version?: string }).version ?? '1.0'
    return {
      topic: invokeTopic(session.pid, session.deviceName, row.method),
      payload: encodeInvoke({ id: String(row.mid), version, params: paras }),
    }
  }
  // Cameras are carried by their driver (cameras/service.ts), never by this encoder.
  if (session.protocol === 'camera') throw new Error('a camera command goes through the camera driver')
  return {
    topic: commandTopic(session.topicId),
    payload: JSON.stringify({
      msgType: 'cloudReq',
      serviceId: row.service_id,
      cmd: row.method,
      paras,
      mid: row.mid,
    }),
  }
}

/** The mid of a command a device acknowledged, read back from the payload the gateway sent. */
export function midOfDownlink(session: DeviceSession, payload: Buffer): number | undefined {
  try {
    const doc = JSON.parse(payload.toString('utf8')) as { mid?: unknown; id?: unknown }
    const mid = session.protocol === 'onejson' ? Number(doc.id) : doc.mid
    return Number.isInteger(mid) ? (mid as number) : undefined
  } catch {
    return undefined
  }
}
