import { useState } from 'react'
import { Badge, Card, LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import {
  placeCall,
  type SafetyCall,
  type SafetyEvent,
  safetyCalls,
  safetyDevices,
  safetyEvents,
  safetyStatus,
} from '../safety-api.ts'
import { showTime } from '../time.ts'

/** Safety-device calls over XMPP: the helmets, a call button each, the call log and the helmets' messages. */
export function Safety() {
  const t = useT()
  const { api } = useSession()
  const status = useLoad(() => safetyStatus(api), 'safety-status')
  if (status.loading && !status.data) return <LoadState loading error={undefined} />
  if (status.error) return <LoadState loading={false} error={status.error} />
  if (!status.data)
    return (
      <div className="page">
        <h1>{t('safety')}</h1>
        <p className="notice" data-testid="safety-unavailable">
          {t('notAvailable')}
        </p>
      </div>
    )
  return <SafetyPage state={status.data.state} lastError={status.data.lastError?.message} />
}

function SafetyPage({ state, lastError }: { state: string; lastError: string | undefined }) {
  const t = useT()
  const { api } = useSession()
  const devices = useLoad(() => safetyDevices(api), 'safety-devices')
  const calls = useLoad(() => safetyCalls(api), 'safety-calls')
  const events = useLoad(() => safetyEvents(api), 'safety-events')
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<string>()
  useLive<{ call: SafetyCall }>('safety.call', ({ call }) =>
    calls.set((old) => [call, ...(old ?? []).filter((c) => c.callId !== call.callId)]),
  )
  useLive<{ event: SafetyEvent }>('safety.event', ({ event }) => events.set((old) => [event, ...(old ?? [])]))

  const call = async (deviceId: string) => {
    setBusy(deviceId)
    setError(undefined)
    try {
      const placed = await placeCall(api, deviceId)
      calls.set((old) => [placed, ...(old ?? []).filter((c) => c.callId !== placed.callId)])
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(undefined)
    }
  }

  const alerts = (events.data ?? []).filter((e) => e.kind === 'sos')
  return (
    <div className="page">
      <h1>
        {t('safety')} <Badge value={state} />
      </h1>
      {lastError && <p className="error small">{lastError}</p>}
      {alerts.length > 0 && (
        <div className="alert" role="alert">
          SOS: {alerts[0]!.deviceId ?? alerts[0]!.chatJid} · {showTime(alerts[0]!.receivedAt)} ·{' '}
          {alerts[0]!.body}
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <Card title={t('safetyDevices')}>
        <LoadState loading={devices.loading && !devices.data} error={devices.error} />
        <ul className="buttons">
          {devices.data?.map((d) => (
            <li key={d.deviceId}>
              <span>
                {d.name ?? d.nodeId} <span className="muted small">{d.chatJid}</span>
              </span>
              <button
                type="button"
                className="primary"
                disabled={busy === d.deviceId || state !== 'online'}
                onClick={() => void call(d.deviceId)}
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
          <ul className="log">
            {calls.data?.map((c) => (
              <li key={c.callId}>
                {showTime(c.createdAt)} · {c.deviceId ?? c.chatJid} · <Badge value={c.state} />{' '}
                {c.detail ?? ''}
              </li>
            ))}
          </ul>
        </Card>
        <Card title={t('incoming')}>
          <LoadState loading={events.loading && !events.data} error={events.error} />
          <ul className="log">
            {events.data?.map((e) => (
              <li key={e.eventId} className={e.kind === 'sos' ? 'sos' : ''}>
                {showTime(e.receivedAt)} · {e.deviceId ?? e.chatJid} · <Badge value={e.kind} /> {e.body ?? ''}
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </div>
  )
}
