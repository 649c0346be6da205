import { useMemo, useState } from 'react'
import { Badge, LoadState } from '../components/common.tsx'
import { navigate, useLive, useLoad, useSession, useT } from '../context.tsx'
import { showTime } from '../time.ts'
import type { Device } from '../types.ts'

const PAGE = 250

/** Every device of the application (§5.2, paged through); the site's device count is in the hundreds. */
async function allDevices(call: <T>(m: string, p: string) => Promise<T>): Promise<Device[]> {
  const out: Device[] = []
  for (let pageNo = 0; ; pageNo++) {
    const page = await call<{ totalCount: number; devices: Device[] }>(
      'GET',
      `/iocm/app/dm/v1.4.0/devices?pageNo=${pageNo}&pageSize=${PAGE}`,
    )
    out.push(...page.devices)
    if (page.devices.length < PAGE || out.length >= page.totalCount) return out
  }
}

export function Devices() {
  const t = useT()
  const { api } = useSession()
  const list = useLoad(() => allDevices((m, p) => api.call(m, p)), 'devices')
  const [query, setQuery] = useState('')
  const [status, setStatus] = useState('')
  const [type, setType] = useState('')
  useLive<{ deviceId: string; status: string }>('device.status', (e) =>
    list.set((old) =>
      old?.map((d) =>
        d.deviceId === e.deviceId ? { ...d, deviceInfo: { ...d.deviceInfo, status: e.status } } : d,
      ),
    ),
  )
  useLive('device.added', list.reload)
  useLive('device.deleted', list.reload)

  const types = useMemo(
    () =>
      [
        ...new Set((list.data ?? []).map((d) => String(d.deviceInfo.deviceType ?? '')).filter(Boolean)),
      ].sort(),
    [list.data],
  )
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase()
    return (list.data ?? []).filter(
      (d) =>
        (!status || d.deviceInfo.status === status) &&
        (!type || d.deviceInfo.deviceType === type) &&
        (!q ||
          [d.deviceId, d.deviceInfo.nodeId, d.deviceInfo.name, d.deviceInfo.location].some((v) =>
            String(v ?? '')
              .toLowerCase()
              .includes(q),
          )),
    )
  }, [list.data, query, status, type])

  return (
    <div className="page">
      <h1>{t('devices')}</h1>
      <div className="filters">
        <input
          type="search"
          placeholder={t('search')}
          aria-label={t('search')}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <select aria-label={t('status')} value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">
            {t('status')}: {t('all')}
          </option>
          <option value="ONLINE">ONLINE</option>
          <option value="OFFLINE">OFFLINE</option>
          <option value="INACTIVE">INACTIVE</option>
          <option value="ABNORMAL">ABNORMAL</option>
        </select>
        <select aria-label={t('type')} value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">
            {t('type')}: {t('all')}
          </option>
          {types.map((ty) => (
            <option key={ty} value={ty}>
              {ty}
            </option>
          ))}
        </select>
      </div>
      <LoadState loading={list.loading && !list.data} error={list.error} />
      {list.data && shown.length === 0 && <p className="muted">{t('noDevices')}</p>}
      {shown.length > 0 && (
        <div className="table-wrap">
          <table className="clickable">
            <thead>
              <tr>
                <th>{t('name')}</th>
                <th>{t('nodeId')}</th>
                <th>{t('type')}</th>
                <th>{t('status')}</th>
                <th>{t('lastSeen')}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => (
                <tr
                  key={d.deviceId}
                  data-testid={`device-${d.deviceInfo.nodeId}`}
                  onClick={() => navigate('devices', d.deviceId)}
                >
                  <td>
                    <a href={`#/devices/${encodeURIComponent(d.deviceId)}`}>
                      {d.deviceInfo.name ?? d.deviceId}
                    </a>
                  </td>
                  <td>{d.deviceInfo.nodeId}</td>
                  <td>{String(d.deviceInfo.deviceType ?? '—')}</td>
                  <td>
                    <Badge value={d.deviceInfo.status} />
                  </td>
                  <td>{showTime(latest(d))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}

function latest(d: Device): string | null {
  const times = d.services.map((s) => s.eventTime).filter((x): x is string => x !== null)
  return times.sort().at(-1) ?? null
}
