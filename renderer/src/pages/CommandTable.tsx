import { useState } from 'react'
import { Badge, Json } from '../components/common.tsx'
import { useSession, useT } from '../context.tsx'
import { showTime } from '../time.ts'
import type { Command } from '../types.ts'

/** Commands with their status; a PENDING one can be canceled (§8.3). */
export function CommandTable({
  commands,
  showDevice,
  onChanged,
}: {
  commands: Command[]
  showDevice?: boolean
  onChanged: (c: Command) => void
}) {
  const t = useT()
  const { api } = useSession()
  const [busy, setBusy] = useState<string>()
  const [error, setError] = useState<string>()

  const cancel = async (c: Command) => {
    setBusy(c.commandId)
    setError(undefined)
    try {
      onChanged(
        await api.call<Command>(
          'PUT',
          `/iocm/app/cmd/v1.4.0/deviceCommands/${encodeURIComponent(c.commandId)}`,
          {
            status: 'CANCELED',
          },
        ),
      )
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(undefined)
    }
  }

  return (
    <>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{t('created')}</th>
              {showDevice && <th>{t('deviceId')}</th>}
              <th>{t('service')}</th>
              <th>{t('method')}</th>
              <th>{t('paras')}</th>
              <th>{t('status')}</th>
              <th>{t('result')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {commands.map((c) => (
              <tr key={c.commandId} data-testid={`command-${c.commandId}`} data-status={c.status}>
                <td>{showTime(c.creationTime)}</td>
                {showDevice && (
                  <td>
                    <a href={`#/devices/${encodeURIComponent(c.deviceId)}`}>{c.deviceId}</a>
                  </td>
                )}
                <td>{c.command.serviceId}</td>
                <td>{c.command.method}</td>
                <td>
                  <Json value={c.command.paras} />
                </td>
                <td>
                  <Badge value={c.status} />
                </td>
                <td>{c.result === null || c.result === undefined ? '—' : <Json value={c.result} />}</td>
                <td>
                  {c.status === 'PENDING' && (
                    <button type="button" disabled={busy === c.commandId} onClick={() => void cancel(c)}>
                      {busy === c.commandId ? t('working') : t('cancelCommand')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  )
}

/** Puts a changed command in place (or first, when new), keeping newest first. */
export function upsertCommand(
  list: Command[] | undefined,
  c: Command,
  deviceId?: string,
): Command[] | undefined {
  if (!list) return list
  if (deviceId !== undefined && c.deviceId !== deviceId) return list
  const i = list.findIndex((x) => x.commandId === c.commandId)
  if (i < 0) return [c, ...list]
  const copy = [...list]
  copy[i] = { ...copy[i]!, ...c }
  return copy
}
