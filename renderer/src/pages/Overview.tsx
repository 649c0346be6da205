import { useState } from 'react'
import { Badge, Card, LoadState, Stat } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import { safetyStatus } from '../safety-api.ts'
import { showDuration } from '../time.ts'
import type { Overview as OverviewData } from '../types.ts'
import { SyncCard } from './SyncCard.tsx'

export function Overview() {
  const t = useT()
  const { api } = useSession()
  const loaded = useLoad(() => api.call<OverviewData>('GET', '/sitegate/v1/status'), 'overview')
  const [live, setLive] = useState<OverviewData>()
  // XMPP status comes from the safety-call API (issue 7); read again with each pushed overview.
  const xmpp = useLoad(() => safetyStatus(api), 'xmpp')
  useLive<OverviewData>('status', (o) => {
    setLive(o)
    xmpp.reload()
  })
  const o = live ?? loaded.data
  if (!o) return <LoadState loading={loaded.loading} error={loaded.error} />
  return (
    <div className="page">
      <h1>{t('overview')}</h1>
      <div className="stats">
        <Stat label={t('online')} value={o.devices.online} testId="devices-online" />
        <Stat label={t('offline')} value={o.devices.offline} testId="devices-offline" />
        <Stat label={t('brokerClients')} value={o.broker.connectedClients} />
        <Stat label={t('messageRate')} value={o.ingest.itemsPerSecond} />
        <Stat label={t('uptime')} value={showDuration(o.uptimeSeconds)} />
      </div>
      <SyncCard sync={o.sync} />
      <div className="grid2">
        <Card title={t('xmpp')}>
          {xmpp.data?.enabled ? (
            <p>
              <Badge value={xmpp.data.state} /> {xmpp.data.jid ?? xmpp.data.service ?? ''}
            </p>
          ) : xmpp.data ? (
            <p className="muted">{t('xmppNotConfigured')}</p>
          ) : (
            <LoadState loading={xmpp.loading} error={xmpp.error} />
          )}
        </Card>
        <Card title={t('serial')}>
          {o.serial.ports === 0 ? (
            <p className="muted">{t('noPorts')}</p>
          ) : (
            <p>
              {t('ports')}: {o.serial.open}/{o.serial.ports} · {t('slaves')}: {o.serial.slavesOnline}/
              {o.serial.slaves}
            </p>
          )}
        </Card>
      </div>
      <p className="muted small">{new Date(o.now).toLocaleString()}</p>
    </div>
  )
}
