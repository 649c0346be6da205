// Which camera request carries a ledger command (device-mqtt.md C.6–C.9). The command's method names the
// operation and its paras are the operation's extra request fields; desired state (SET_DESIRED on the
// CameraConfig service) becomes set_dev_config. Fields the command leaves out of set_dev_config are taken from
// the camera's reported configuration, because the camera expects all three (C.7).
import {
  checkCmdData,
  checkDevConfig,
  type FieldsCheck,
  type ServerRequestName,
} from '../protocols/camera.ts'
import { DESIRED_METHOD } from '../shadows/desired-ops.ts'
import type { CommandRow } from '../store/repos/commands.ts'
import { CAMERA_CONFIG_SERVICE } from './camera-ops.ts'

export type CameraRequestPlan =
  | { ok: true; operate: ServerRequestName; fields: Record<string, unknown> }
  | { ok: false; msg: string }

export interface PlanContext {
  /** The camera's reported CameraConfig section ({} when it never reported one). */
  reportedConfig: Record<string, unknown>
  /** The LAN URL of an uploaded firmware package; undefined when no package has that id. */
  packageUrl: (packageId: string) => string | undefined
}

const plan = (operate: ServerRequestName, check: FieldsCheck): CameraRequestPlan =>
  check.ok ? { ok: true, operate, fields: check.fields } : { ok: false, msg: check.msg }

function devConfig(paras: Record<string, unknown>, ctx: PlanContext): FieldsCheck {
  const { upload_type, upload_addr, hb_interval } = { ...ctx.reportedConfig, ...paras }
  return checkDevConfig({ upload_type, upload_addr, hb_interval })
}

export function planRequest(row: CommandRow, ctx: PlanContext): CameraRequestPlan {
  const paras = JSON.parse(row.paras_json) as Record<string, unknown>
  switch (row.method) {
    case DESIRED_METHOD:
      if (row.service_id !== CAMERA_CONFIG_SERVICE) {
        return { ok: false, msg: `a camera takes desired values only on service ${CAMERA_CONFIG_SERVICE}` }
      }
      return plan('set_dev_config', devConfig(paras, ctx))
    case 'set_dev_config':
      return plan('set_dev_config', devConfig(paras, ctx))
    case 'get_dev_config':
      return { ok: true, operate: 'get_dev_config', fields: {} }
    case 'upgrade_dev': {
      if (typeof paras.packageId === 'string') {
        const url = ctx.packageUrl(paras.packageId)
        if (!url) return { ok: false, msg: `no firmware package ${paras.packageId} was uploaded` }
        return { ok: true, operate: 'upgrade_dev', fields: { package_url: url } }
      }
      if (typeof paras.package_url === 'string' && /^https?:\/\/\S+$/.test(paras.package_url)) {
        return { ok: true, operate: 'upgrade_dev', fields: { package_url: paras.package_url } }
      }
      return {
        ok: false,
        msg: 'upgrade_dev needs paras.packageId (an uploaded package) or paras.package_url',
      }
    }
    case 'control_cmd':
      return plan('control_cmd', checkCmdData(paras.cmd_data))
    default:
      return {
        ok: false,
        msg: `unknown camera operation ${row.method}: use get_dev_config, set_dev_config, upgrade_dev or control_cmd`,
      }
  }
}

/** The operation a command was sent as (its reply is `<operation>_rsp`). */
export function operationOf(row: CommandRow): string {
  return row.method === DESIRED_METHOD ? 'set_dev_config' : row.method
}
