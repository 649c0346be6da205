import { Badge, Card } from '../components/common.tsx'
import { useT } from '../context.tsx'
import { showBytes, showDuration, showTime } from '../time.ts'
import type { SyncStatus } from '../types.ts'

/** Upstream sync: link state, backlog per lane (safety first: the drain order) and the ETA at the drain rate. */
export function SyncCard({ sync }: { sync: SyncStatus }) {
  const t = useT()
  if (!sync.enabled)
    return (
      <Card title={t('sync')}>
        <p className="muted">{t('syncOff')}</p>
      </Card>
    )
  const lanes = Object.entries(sync.lanes)
  return (
    <Card title={t('sync')}>
      <p data-testid="sync-state">
        <Badge value={sync.connected ? t('connected') : t('disconnected')} /> {sync.url} ·{' '}
        {showTime(sync.since)}
      </p>
      {sync.lastError && (
        <p className="error small">
          {t('lastError')}: {sync.lastError}
        </p>
      )}
      <p>
        {t('backlog')}: <strong data-testid="sync-backlog">{sync.backlog.records}</strong> {t('records')} (
        {showBytes(sync.backlog.bytes)}) · {t('drainRate')}: {sync.drainRate.recordsPerSecond}/s · {t('eta')}:{' '}
        {showDuration(sync.etaSeconds)}
      </p>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>{t('lane')}</th>
              <th>{t('records')}</th>
              <th>{t('bytes')}</th>
              <th>{t('oldest')}</th>
              <th>{t('dropped')}</th>
            </tr>
          </thead>
          <tbody>
            {lanes.map(([name, lane]) => (
              <tr key={name} data-testid={`lane-${name}`}>
                <td>{name}</td>
                <td className="num">{lane.records}</td>
                <td className="num">{showBytes(lane.bytes)}</td>
                <td>{showDuration(lane.oldestAgeSeconds)}</td>
                <td className="num">{lane.dropped.records}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  )
}
