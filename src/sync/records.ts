// Outbox rows → what goes up. Each row becomes records (JSON text of UpstreamRecord, profile.ts) or, for the
// answer to a cloud request, a reply. A telemetry row stands for the ServiceData entries of its history chunk,
// one record each, keyed `{row key}:{n}` so that a resent row repeats the same keys.

import type { OutboxReadRow } from '../store/repos/outbox.ts'
import { toPlatformTime } from '../time.ts'
import type { CloudRef, CloudReply, RecordKind } from './profile.ts'

export type RowContent =
  | { type: 'records'; records: string[] }
  | { type: 'reply'; reply: CloudReply }
  /** Nothing to send any more (the history chunk was deleted with its device): acknowledged as is. */
  | { type: 'nothing' }

interface ChunkMessage {
  data?: { serviceId: string; serviceData: unknown; eventTime: string }[]
}

/** Image bytes of a snapshot, when the snapshot store still has them. */
export type SnapshotReader = (payload: Record<string, unknown>) => { base64: string } | undefined

const KIND_OF_LANE: Record<number, RecordKind> = {
  0: 'event',
  1: 'commandResult',
  2: 'shadow',
  3: 'telemetry',
  4: 'snapshot',
}

function record(
  serviceId: string,
  serviceData: string,
  eventTime: string,
  deviceId: string | null,
  kind: RecordKind,
  idemKey: string,
): string {
  return (
    `{"serviceId":${JSON.stringify(serviceId)},"serviceData":${serviceData},"eventTime":"${eventTime}",` +
    `"deviceId":${deviceId === null ? 'null' : JSON.stringify(deviceId)},"kind":"${kind}","idemKey":"${idemKey}"}`
  )
}

export function contentOf(row: OutboxReadRow, snapshots?: SnapshotReader): RowContent {
  const at = toPlatformTime(row.created_at)
  switch (row.kind) {
    case 'telemetry': {
      if (row.chunk === null) return { type: 'nothing' }
      const records: string[] = []
      for (const message of JSON.parse(row.chunk) as ChunkMessage[]) {
        for (const d of message.data ?? []) {
          const key = `${row.idem_key}:${records.length}`
          records.push(
            record(d.serviceId, JSON.stringify(d.serviceData), d.eventTime, row.device_id, 'telemetry', key),
          )
        }
      }
      return { type: 'records', records }
    }
    case 'shadow.reported': {
      const doc = JSON.parse(row.payload) as {
        services: { serviceId: string; reported: unknown; version: number; eventTime: string | null }[]
      }
      const records = doc.services.map((s) =>
        record(
          s.serviceId,
          JSON.stringify({ reported: s.reported, version: s.version }),
          s.eventTime ?? at,
          row.device_id,
          'shadow',
          `${row.idem_key}:${s.serviceId}`,
        ),
      )
      return { type: 'records', records }
    }
    case 'command.result': {
      const doc = JSON.parse(row.payload) as {
        commandId: string
        serviceId?: string
        status: string
        result?: unknown
        cloudRef?: CloudRef
      }
      const body = {
        deviceId: row.device_id,
        commandId: doc.commandId,
        status: doc.status,
        result: doc.result ?? null,
        idemKey: row.idem_key,
      }
      // A command the cloud asked for: its result is the deviceRsp to that request (A.6).
      if (doc.cloudRef)
        return { type: 'reply', reply: { ref: doc.cloudRef, success: doc.status === 'SUCCESSFUL', body } }
      const data = JSON.stringify({
        commandId: doc.commandId,
        status: doc.status,
        result: doc.result ?? null,
      })
      return {
        type: 'records',
        records: [record(doc.serviceId ?? 'command', data, at, row.device_id, 'commandResult', row.idem_key)],
      }
    }
    case 'cloud.reply': {
      const doc = JSON.parse(row.payload) as CloudReply
      return { type: 'reply', reply: { ...doc, body: { ...doc.body, idemKey: row.idem_key } } }
    }
    default: {
      const kind = KIND_OF_LANE[row.lane] ?? 'event'
      const doc = JSON.parse(row.payload) as Record<string, unknown>
      const image = kind === 'snapshot' ? snapshots?.(doc) : undefined
      const data = JSON.stringify(image ? { ...doc, image: image.base64 } : doc)
      return { type: 'records', records: [record(row.kind, data, at, row.device_id, kind, row.idem_key)] }
    }
  }
}
