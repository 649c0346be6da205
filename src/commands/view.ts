import type { CommandRow } from '../store/repos/commands.ts'
import { toPlatformTime } from '../time.ts'

const time = (ms: number | null): string | null => (ms === null ? null : toPlatformTime(ms))

/**
 * The command record of spec §2.8 (DeviceCommandResp), fields in the spec's order; the §8.1 create response
 * is the same without `result`.
 */
export function commandView(row: CommandRow, withResult = true): Record<string, unknown> {
  return {
    commandId: row.command_id,
    appId: row.app_id,
    deviceId: row.device_id,
    command: {
      serviceId: row.service_id,
      method: row.method,
      paras: JSON.parse(row.paras_json) as Record<string, unknown>,
    },
    callbackUrl: row.callback_url,
    expireTime: row.expire_time,
    status: row.status,
    ...(withResult
      ? { result: row.result_json === null ? null : (JSON.parse(row.result_json) as unknown) }
      : {}),
    creationTime: toPlatformTime(row.creation_time),
    executeTime: time(row.execute_time),
    platformIssuedTime: time(row.platform_issued_time),
    deliveredTime: time(row.delivered_time),
    // The spec's example shows null before the first send.
    issuedTimes: row.issued_times === 0 ? null : row.issued_times,
    maxRetransmit: row.max_retransmit,
  }
}
