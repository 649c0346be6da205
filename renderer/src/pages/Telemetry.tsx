import { useMemo, useState } from 'react'
import { Chart, type Point } from '../components/Chart.tsx'
import { Card, LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import type { LabelKey } from '../i18n.ts'
import { parsePlatformTime, toPlatformTime } from '../time.ts'
import type { HistoryRecord, Reported, Shadow } from '../types.ts'

const RANGES: { label: LabelKey; ms: number }[] = [
  { label: 'minutes15', ms: 15 * 60_000 },
  { label: 'hour1', ms: 3600_000 },
  { label: 'hours6', ms: 6 * 3600_000 },
  { label: 'hours24', ms: 24 * 3600_000 },
  { label: 'days7', ms: 7 * 24 * 3600_000 },
]
/** §5.3 allows 2000 records a page; a chart needs no more than a few pages. */
const PAGE = 2000
const MAX_PAGES = 5

/** Numeric properties per service, from the reported shadow. */
function numericSeries(shadow: Shadow): { serviceId: string; property: string }[] {
  return shadow.services.flatMap((s) =>
    Object.entries(s.reportedProps)
      .filter(([, v]) => typeof v === 'number')
      .map(([property]) => ({ serviceId: s.serviceId, property })),
  )
}

/** One property over a chosen time range: §5.3 history, then live reported data appended. */
export function Telemetry({ deviceId, shadow }: { deviceId: string; shadow: Shadow }) {
  const t = useT()
  const { api } = useSession()
  const series = numericSeries(shadow)
  const [chosen, setChosen] = useState<string>()
  const [rangeMs, setRangeMs] = useState(RANGES[1]!.ms)
  const key = chosen ?? (series[0] ? `${series[0].serviceId}/${series[0].property}` : '')
  const [serviceId, property] = key.split('/') as [string, string]
  const [from, setFrom] = useState(() => Date.now() - rangeMs)

  const history = useLoad(async () => {
    if (!key) return [] as Point[]
    const start = Date.now() - rangeMs
    setFrom(start)
    const records: HistoryRecord[] = []
    for (let pageNo = 0; pageNo < MAX_PAGES; pageNo++) {
      const page = await api.call<{ deviceDataHistoryDTOs: HistoryRecord[] }>(
        'GET',
        `/iocm/app/data/v1.2.0/deviceDataHistory?deviceId=${encodeURIComponent(deviceId)}` +
          `&startTime=${toPlatformTime(start - 1000)}&pageNo=${pageNo}&pageSize=${PAGE}`,
      )
      records.push(...page.deviceDataHistoryDTOs)
      if (page.deviceDataHistoryDTOs.length < PAGE) break
    }
    return toPoints(
      records.filter((r) => r.serviceId === serviceId).map((r) => ({ time: r.timestamp, data: r.data })),
      property,
    )
  }, `${deviceId}|${key}|${rangeMs}`)

  useLive<Reported>('device.reported', (e) => {
    if (e.deviceId !== deviceId) return
    const fresh = toPoints(
      e.services.filter((s) => s.serviceId === serviceId).map((s) => ({ time: s.eventTime, data: s.data })),
      property,
    )
    if (fresh.length > 0) history.set((old) => merge(old ?? [], fresh))
  })

  const points = useMemo(() => (history.data ?? []).filter((p) => p.t >= from), [history.data, from])
  const now = Date.now()

  return (
    <Card
      title={t('telemetry')}
      actions={
        <>
          <select aria-label={t('property')} value={key} onChange={(e) => setChosen(e.target.value)}>
            {series.map((s) => (
              <option key={`${s.serviceId}/${s.property}`} value={`${s.serviceId}/${s.property}`}>
                {s.serviceId}.{s.property}
              </option>
            ))}
          </select>
          <select
            aria-label={t('range')}
            value={rangeMs}
            onChange={(e) => setRangeMs(Number(e.target.value))}
          >
            {RANGES.map((r) => (
              <option key={r.ms} value={r.ms}>
                {t(r.label)}
              </option>
            ))}
          </select>
        </>
      }
    >
      <LoadState loading={history.loading && !history.data} error={history.error} />
      {key && history.data && (
        <>
          <Chart
            points={points}
            from={from}
            to={Math.max(now, points.at(-1)?.t ?? now)}
            label={key}
            gapMs={rangeMs / 20}
          />
          {points.length === 0 && <p className="muted">{t('noData')}</p>}
        </>
      )}
      {!key && <p className="muted">{t('noData')}</p>}
    </Card>
  )
}

function toPoints(rows: { time: string; data: Record<string, unknown> }[], property: string): Point[] {
  const out: Point[] = []
  for (const r of rows) {
    const t = parsePlatformTime(r.time)
    const v = r.data[property]
    if (t !== undefined && typeof v === 'number') out.push({ t, v })
  }
  return out.sort((a, b) => a.t - b.t)
}

/** Adds points, one per timestamp (the newest value wins), in time order. */
function merge(old: Point[], fresh: Point[]): Point[] {
  const byTime = new Map(old.map((p) => [p.t, p]))
  for (const p of fresh) byTime.set(p.t, p)
  return [...byTime.values()].sort((a, b) => a.t - b.t)
}
