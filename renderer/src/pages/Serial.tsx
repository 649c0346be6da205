import { Badge, Card, LoadState } from '../components/common.tsx'
import { useLoad, useSession, useT } from '../context.tsx'

interface Counters {
  requests: number
  responses: number
  timeouts: number
  crcErrors: number
  exceptions: number
}

interface Port extends Counters {
  path: string
  baudRate: number
  state: string
  lastError: string | null
  slaves: (Counters & {
    unitId: number
    nodeId: string
    deviceId: string | null
    state: string
    lastError: string | null
  })[]
}

/** RS-485 buses (GET /sitegate/v1/serial): per port and per slave counters. */
export function Serial() {
  const t = useT()
  const { api } = useSession()
  const serial = useLoad(
    () => api.call<{ ports: Port[]; available: { path: string }[] }>('GET', '/sitegate/v1/serial'),
    'serial',
  )
  const counters = (c: Counters) => (
    <>
      <td className="num">{c.requests}</td>
      <td className="num">{c.responses}</td>
      <td className="num">{c.timeouts}</td>
      <td className="num">{c.crcErrors}</td>
      <td className="num">{c.exceptions}</td>
    </>
  )
  const heads = (
    <>
      <th>{t('requests')}</th>
      <th>{t('responses')}</th>
      <th>{t('timeouts')}</th>
      <th>{t('crcErrors')}</th>
      <th>{t('exceptions')}</th>
    </>
  )
  return (
    <div className="page">
      <h1>
        {t('serial')}{' '}
        <button type="button" onClick={serial.reload}>
          {t('refresh')}
        </button>
      </h1>
      <LoadState loading={serial.loading && !serial.data} error={serial.error} />
      {serial.data?.ports.length === 0 && <p className="muted">{t('noPorts')}</p>}
      {serial.data?.ports.map((p) => (
        <Card key={p.path} title={`${p.path} · ${p.baudRate}`}>
          <p>
            <Badge value={p.state} /> {p.lastError && <span className="error small">{p.lastError}</span>}
          </p>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>{t('slaves')}</th>
                  <th>{t('state')}</th>
                  {heads}
                </tr>
              </thead>
              <tbody>
                {p.slaves.map((s) => (
                  <tr key={s.unitId}>
                    <td>
                      {s.deviceId ? (
                        <a href={`#/devices/${encodeURIComponent(s.deviceId)}`}>{s.nodeId}</a>
                      ) : (
                        s.nodeId
                      )}{' '}
                      ({s.unitId})
                    </td>
                    <td>
                      <Badge value={s.state} />
                    </td>
                    {counters(s)}
                  </tr>
                ))}
                <tr>
                  <td>{t('total')}</td>
                  <td />
                  {counters(p)}
                </tr>
              </tbody>
            </table>
          </div>
        </Card>
      ))}
      {serial.data && serial.data.available.length > 0 && (
        <p className="muted small">{serial.data.available.map((a) => a.path).join(', ')}</p>
      )}
    </div>
  )
}
