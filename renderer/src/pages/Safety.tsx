import { useEffect, useState } from 'react'
import { Badge, Card, LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import {
  placeCall,
  type SafetyCall,
  type SafetyDevice,
  type SafetyEvent,
  type SafetyStatus,
  safetyCalls,
  safetyDevices,
  safetyEvents,
  safetyStatus,
  upsertNewestFirst,
} from '../safety-api.ts'
import { showTime, toPlatformTime } from '../time.ts'

/** The XMPP session has no live event of its own: its state is read again this often while the page is open. */
const STATUS_POLL_MS = 3000

/** Safety-device calls over XMPP: the session, the helmets with a call button each, the call log, their messages. */
export function Safety() {
  const t = useT()
  const { api } = useSession()
  const status = useLoad(() => safetyStatus(api), 'safety-status')
  const { reload } = status
  useEffect(() => {
    const timer = setInterval(reload, STATUS_POLL_MS)
    return () => clearInterval(timer)
  }, [reload])
  if (!status.data) return <LoadState loading={status.loading} error={status.error} />
  if (!status.data.enabled)
    return (
      <div className="page">
        <h1>{t('safety')}</h1>
        <div className="notice" data-testid="safety-not-configured">
          <p>
            <strong>{t('xmppNotConfigured')}</strong>
          </p>
          <p className="muted">{t('xmppNotConfiguredHint')}</p>
        </div>
      </div>
    )
  return <SafetyPage status={status.data} />
}

function SafetyPage({ status }: { status: SafetyStatus }) {
  const t = useT()
  const { api } = useSession()
  const devices = useLoad(() => safetyDevices(api), 'safety-devices')
  const calls = useLoad(() => safetyCalls(api), 'safety-calls')
  const events = useLoad(() => safetyEvents(api), 'safety-events')
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<string>()
  // A call's state changes (delivered, answered, failed…) arrive as `safety.call`, with the whole call.
  useLive<{ call: SafetyCall }>('safety.call', ({ call }) =>
    calls.set((old) => upsertNewestFirst(old, call, (c) => c.callId)),
  )
  useLive<{ event: SafetyEvent }>('safety.event', ({ event }) =>
    events.set((old) => upsertNewestFirst(old, event, (e) => e.eventId)),
  )
  // A device registered or deleted elsewhere shows up without a reload.
  useLive('device.added', devices.reload)
  useLive('device.deleted', devices.reload)

  const online = status.state === 'online'
  const nameOf = (deviceId: string | null, chatJid: string): string => {
    const d = devices.data?.find((x) => x.deviceId === deviceId)
    return d ? (d.name ?? d.nodeId) : (deviceId ?? chatJid)
  }

  const call = async (device: SafetyDevice) => {
    setBusy(device.deviceId)
    setError(undefined)
    try {
      const placed = await placeCall(api, device.deviceId)
      calls.set((old) => upsertNewestFirst(old, placed, (c) => c.callId))
    } catch (err) {
      // A refused call (XMPP down) is logged as failed too: its `safety.call` event puts it in the log.
      setError(`${device.name ?? device.nodeId}: ${(err as Error).message}`)
    } finally {
      setBusy(undefined)
    }
  }

  return (
    <div className="page">
      <h1>{t('safety')}</h1>
      <Card title={t('xmpp')}>
        <dl className="info">
          <dt>{t('state')}</dt>
          <dd data-testid="xmpp-state">
            <Badge value={status.state} />
          </dd>
          <dt>{t('xmppServer')}</dt>
          <dd>{status.service ?? t('none')}</dd>
          <dt>{t('xmppAccount')}</dt>
          <dd>{status.jid ?? t('none')}</dd>
          <dt>{t('since')}</dt>
          <dd>{showTime(toPlatformTime(status.since))}</dd>
          {status.lastError && (
            <>
              <dt>{t('lastError')}</dt>
              <dd className="error small">
                {showTime(toPlatformTime(status.lastError.at))} · {status.lastError.message}
              </dd>
            </>
          )}
          {status.reconnectAttempts > 0 && (
            <>
              <dt>{t('reconnectAttempts')}</dt>
              <dd>{status.reconnectAttempts}</dd>
            </>
          )}
        </dl>
      </Card>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <Card title={t('safetyDevices')}>
        <LoadState loading={devices.loading && !devices.data} error={devices.error} />
        {devices.data?.length === 0 && <p className="muted">{t('noSafetyDevices')}</p>}
        {!online && devices.data && devices.data.length > 0 && (
          <p className="muted small">{t('callNeedsOnline')}</p>
        )}
        <ul className="buttons">
          {devices.data?.map((d) => (
            <li key={d.deviceId} data-testid={`safety-device-${d.nodeId}`}>
              <span>
                {d.name ?? d.nodeId} <span className="muted small">{d.chatJid ?? ''}</span>
              </span>
              <button
                type="button"
                className="primary"
                aria-label={`${t('call')} ${d.name ?? d.nodeId}`}
                disabled={busy === d.deviceId || !online}
                onClick={() => void call(d)}
              >
                {busy === d.deviceId ? t('working') : t('call')}
              </button>
            </li>
          ))}
        </ul>
      </Card>
      <div className="grid2">
        <Card title={t('callLog')}>
          <LoadState loading={calls.loading && !calls.data} error={calls.error} />
          {calls.data?.length === 0 && <p className="muted">{t('noCalls')}</p>}
          <ul className="log" data-testid="call-log">
            {calls.data?.map((c) => (
              <li key={c.callId} data-testid={`call-${c.callId}`} data-state={c.state}>
                {showTime(c.createdAt)} · {nameOf(c.deviceId, c.chatJid)} · <Badge value={c.state} />{' '}
                <span className="muted small">
                  {c.origin === 'openapi' ? 'API' : ''} {c.detail ?? ''}
                </span>
              </li>
            ))}
          </ul>
        </Card>
        <Card title={t('incoming')}>
          <LoadState loading={events.loading && !events.data} error={events.error} />
          {events.data?.length === 0 && <p className="muted">{t('noSafetyEvents')}</p>}
          <ul className="log" data-testid="safety-events">
            {events.data?.map((e) => (
              <li
                key={e.eventId}
                className={e.kind === 'sos' ? 'sos' : ''}
                data-testid={`safety-event-${e.eventId}`}
                data-kind={e.kind}
              >
                {showTime(e.receivedAt)} · {nameOf(e.deviceId, e.chatJid)} · <Badge value={e.kind} />{' '}
                {e.body ?? e.directive ?? ''}
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </div>
  )
}
