import { useState } from 'react'
import { Card } from '../components/common.tsx'
import { useSession, useT } from '../context.tsx'
import type { Shadow, ShadowService } from '../types.ts'

/** A typed value from a text field: numbers and booleans as such (product models check types, §4.8). */
export function parseValue(text: string): unknown {
  const s = text.trim()
  if (s === 'true' || s === 'false') return s === 'true'
  if (s !== '' && !Number.isNaN(Number(s))) return Number(s)
  if (s.startsWith('{') || s.startsWith('[')) {
    try {
      return JSON.parse(s)
    } catch {
      return text
    }
  }
  return text
}

const show = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v))

/** Reported and desired state per service; desired values edited per service and saved with §4.8 PUT. */
export function ShadowTable({
  deviceId,
  shadow,
  onSaved,
}: {
  deviceId: string
  shadow: Shadow
  onSaved: () => void
}) {
  const t = useT()
  return (
    <Card title={t('shadow')}>
      {shadow.services.length === 0 && <p className="muted">{t('noData')}</p>}
      {shadow.services.map((svc) => (
        <ServiceShadow key={svc.serviceId} deviceId={deviceId} svc={svc} onSaved={onSaved} />
      ))}
    </Card>
  )
}

function ServiceShadow({
  deviceId,
  svc,
  onSaved,
}: {
  deviceId: string
  svc: ShadowService
  onSaved: () => void
}) {
  const t = useT()
  const { api } = useSession()
  const [editing, setEditing] = useState<Record<string, string>>()
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<{ ok: boolean; text: string }>()
  const keys = [...new Set([...Object.keys(svc.reportedProps), ...Object.keys(svc.desiredProps)])].sort()

  const save = async () => {
    if (!editing) return
    const desired: Record<string, unknown> = {}
    for (const [k, text] of Object.entries(editing)) {
      if (text !== show(svc.desiredProps[k])) desired[k] = parseValue(text)
    }
    if (Object.keys(desired).length === 0) {
      setEditing(undefined)
      return
    }
    setBusy(true)
    try {
      await api.call('PUT', `/iocm/app/shadow/v1.5.0/devices/${encodeURIComponent(deviceId)}`, {
        serviceDesireds: [{ serviceId: svc.serviceId, desired }],
      })
      setMessage({ ok: true, text: t('saved') })
      setEditing(undefined)
      onSaved()
    } catch (err) {
      setMessage({ ok: false, text: (err as Error).message })
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="service" data-testid={`service-${svc.serviceId}`}>
      <h3>
        {svc.serviceId}{' '}
        {!editing && (
          <button
            type="button"
            onClick={() => {
              setMessage(undefined)
              setEditing(
                Object.fromEntries(keys.map((k) => [k, show(svc.desiredProps[k] ?? svc.reportedProps[k])])),
              )
            }}
          >
            {t('editDesired')}
          </button>
        )}
      </h3>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{t('property')}</th>
              <th>{t('reported')}</th>
              <th>{t('desired')}</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k}>
                <td>{k}</td>
                <td data-testid={`reported-${svc.serviceId}-${k}`}>{show(svc.reportedProps[k])}</td>
                <td>
                  {editing ? (
                    <input
                      aria-label={`${t('desired')} ${k}`}
                      name={`desired-${k}`}
                      value={editing[k] ?? ''}
                      onChange={(e) => setEditing({ ...editing, [k]: e.target.value })}
                    />
                  ) : (
                    <span data-testid={`desired-${svc.serviceId}-${k}`}>{show(svc.desiredProps[k])}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editing && (
        <div className="row">
          <button type="button" className="primary" disabled={busy} onClick={() => void save()}>
            {busy ? t('working') : t('save')}
          </button>
          <button type="button" onClick={() => setEditing(undefined)}>
            {t('cancel')}
          </button>
        </div>
      )}
      {message && (
        <p className={message.ok ? 'ok' : 'error'} role="status">
          {message.text}
        </p>
      )}
    </div>
  )
}
