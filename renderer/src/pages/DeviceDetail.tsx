import { Badge, Card, LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import { showTime } from '../time.ts'
import type { Reported, Shadow } from '../types.ts'
import { DeviceCommands } from './DeviceCommands.tsx'
import { ShadowTable } from './ShadowTable.tsx'
import { Telemetry } from './Telemetry.tsx'

const INFO_FIELDS = [
  'nodeId',
  'name',
  'deviceType',
  'model',
  'manufacturerName',
  'location',
  'protocolType',
  'fwVersion',
]

export function DeviceDetail({ deviceId }: { deviceId: string }) {
  const t = useT()
  const { api } = useSession()
  const shadow = useLoad(
    () => api.call<Shadow>('GET', `/iocm/app/shadow/v1.5.0/devices/${encodeURIComponent(deviceId)}`),
    `shadow-${deviceId}`,
  )
  useLive<{ deviceId: string; status: string }>('device.status', (e) => {
    if (e.deviceId !== deviceId) return
    shadow.set((old) => old && { ...old, deviceInfo: { ...old.deviceInfo, status: e.status } })
  })
  // Reported data merges into the shadow as it arrives (the server coalesces it to a few updates a second).
  useLive<Reported>('device.reported', (e) => {
    if (e.deviceId !== deviceId) return
    shadow.set((old) => {
      if (!old) return old
      const services = [...old.services]
      for (const s of e.services) {
        const i = services.findIndex((x) => x.serviceId === s.serviceId)
        const prev = services[i]
        const merged = {
          serviceId: s.serviceId,
          reportedProps: { ...(prev?.reportedProps ?? {}), ...s.data },
          desiredProps: prev?.desiredProps ?? {},
          eventTime: s.eventTime,
        }
        if (i >= 0) services[i] = merged
        else services.push(merged)
      }
      return { ...old, services }
    })
  })

  const s = shadow.data
  return (
    <div className="page">
      <p>
        <a href="#/devices">← {t('back')}</a>
      </p>
      <h1>
        {String(s?.deviceInfo.name ?? deviceId)} {s && <Badge value={s.deviceInfo.status} />}
      </h1>
      <LoadState loading={shadow.loading && !s} error={shadow.error} />
      {s && (
        <>
          <Card title={t('info')}>
            <dl className="info">
              <dt>{t('deviceId')}</dt>
              <dd>{deviceId}</dd>
              {INFO_FIELDS.map((f) =>
                s.deviceInfo[f] === null || s.deviceInfo[f] === undefined ? null : (
                  <InfoRow key={f} name={f} value={String(s.deviceInfo[f])} />
                ),
              )}
              <dt>{t('lastSeen')}</dt>
              <dd>
                {showTime(
                  s.services
                    .map((x) => x.eventTime ?? '')
                    .sort()
                    .at(-1),
                )}
              </dd>
            </dl>
          </Card>
          <ShadowTable deviceId={deviceId} shadow={s} onSaved={shadow.reload} />
          <Telemetry deviceId={deviceId} shadow={s} />
          <DeviceCommands deviceId={deviceId} services={s.services.map((x) => x.serviceId)} />
        </>
      )}
    </div>
  )
}

function InfoRow({ name, value }: { name: string; value: string }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </>
  )
}
