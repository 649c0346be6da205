// Push notifications (spec §7): queued in the transaction of the fact they announce, for the application's
// subscription to that notifyType (§6), and delivered by the callback dispatcher.
import type { Store } from '../store/index.ts'

/** §6.1: the 13 business notifyTypes. */
export const BUSINESS_NOTIFY_TYPES = [
  'deviceAdded',
  'bindDevice',
  'deviceInfoChanged',
  'deviceDataChanged',
  'deviceDatasChanged',
  'deviceCapabilitiesChanged',
  'deviceCapabilitiesAdded',
  'deviceCapabilitiesDeleted',
  'deviceDeleted',
  'messageConfirm',
  'commandRsp',
  'ruleEvent',
  'deviceDesiredPropertiesModifyStatusChanged',
] as const

/** §6.2: the 4 management notifyTypes. */
export const MANAGEMENT_NOTIFY_TYPES = [
  'swUpgradeStateChangeNotify',
  'swUpgradeResultNotify',
  'fwUpgradeStateChangeNotify',
  'fwUpgradeResultNotify',
] as const

export type NotifyType = (typeof BUSINESS_NOTIFY_TYPES)[number] | (typeof MANAGEMENT_NOTIFY_TYPES)[number]

/**
 * Queues a notification for the application's subscription to `body.notifyType`, in the caller's transaction;
 * false when the application has none. `body` carries notifyType first (§7).
 */
export function notify(
  store: Store,
  appId: string,
  body: { notifyType: NotifyType } & Record<string, unknown>,
  now: number,
): boolean {
  const sub = store.subscriptions.forType(appId, body.notifyType)
  if (!sub) return false
  store.callbacks.enqueue(sub.callback_url, JSON.stringify(body), null, now, sub.subscription_id)
  return true
}

/** Whether the application subscribed to a notifyType (to skip building bodies nobody receives). */
export function subscribed(store: Store, appId: string, notifyType: NotifyType): boolean {
  return store.subscriptions.forType(appId, notifyType) !== undefined
}
