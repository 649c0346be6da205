import { useEffect, useState } from 'react'
import { Badge, Card, Json, LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import { showTime } from '../time.ts'
import type { Command, Device } from '../types.ts'

interface Snapshot {
  snapshotId: string
  time: string
  size: number
  contentType: string
}

const FINAL = new Set(['SUCCESSFUL', 'FAILED', 'TIMEOUT', 'CANCELED', 'EXPIRED'])

/** Cameras (device-mqtt.md Part C): latest snapshot, take one now, reported configuration. */
export function Cameras() {
  const t = useT()
  const { api } = useSession()
  const list = useLoad(
    async () =>
      (
        await api.call<{ devices: Device[] }>(
          'GET',
          '/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=250&deviceType=Camera',
        )
      ).devices,
    'cameras',
  )
  useLive('device.added', list.reload)
  return (
    <div className="page">
      <h1>{t('cameras')}</h1>
      <LoadState loading={list.loading && !list.data} error={list.error} />
      {list.data?.length === 0 && <p className="muted">{t('noDevices')}</p>}
      <div className="grid2">
        {list.data?.map((d) => (
          <CameraCard key={d.deviceId} device={d} />
        ))}
      </div>
    </div>
  )
}

function CameraCard({ device }: { device: Device }) {
  const t = useT()
  const { api } = useSession()
  const id = encodeURIComponent(device.deviceId)
  const latest = useLoad(
    async () =>
      (await api.call<{ snapshots: Snapshot[] }>('GET', `/sitegate/v1/cameras/${id}/snapshots?pageSize=1`))
        .snapshots[0],
    `snap-${device.deviceId}`,
  )
  const [url, setUrl] = useState<string>()
  const [pending, setPending] = useState<Command>()
  const [error, setError] = useState<string>()
  const snapshotId = latest.data?.snapshotId

  // Snapshot bytes need the token, so they are fetched and shown from a blob: URL (allowed by the page's CSP).
  useEffect(() => {
    if (!snapshotId) return
    let objectUrl: string | undefined
    let current = true
    api.blob(`/sitegate/v1/cameras/${id}/snapshots/${encodeURIComponent(snapshotId)}`).then(
      (b) => {
        if (!current) return
        objectUrl = URL.createObjectURL(b)
        setUrl(objectUrl)
      },
      (err: unknown) => setError((err as Error).message),
    )
    return () => {
      current = false
      if (objectUrl) URL.revokeObjectURL(objectUrl)
    }
  }, [api, id, snapshotId])

  useLive<{ command: Command }>('command.status', ({ command }) => {
    if (command.commandId !== pending?.commandId) return
    setPending(FINAL.has(command.status) ? undefined : command)
    if (command.status === 'SUCCESSFUL') latest.reload()
    else if (FINAL.has(command.status)) setError(`${command.status} ${JSON.stringify(command.result ?? '')}`)
  })

  const take = async () => {
    setError(undefined)
    try {
      setPending(
        await api.call<Command>('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
          deviceId: device.deviceId,
          command: {
            serviceId: 'Camera',
            method: 'control_cmd',
            paras: { cmd_data: { type: 'take_snapshot' } },
          },
          expireTime: 120,
        }),
      )
    } catch (err) {
      setError((err as Error).message)
    }
  }

  const config = device.services.find((s) => s.serviceId === 'CameraConfig')?.data
  return (
    <Card
      title={String(device.deviceInfo.name ?? device.deviceId)}
      actions={
        <button
          type="button"
          className="primary"
          disabled={pending !== undefined}
          onClick={() => void take()}
        >
          {pending ? `${t('working')} ${pending.status}` : t('takeSnapshot')}
        </button>
      }
    >
      <p>
        <Badge value={device.deviceInfo.status} />{' '}
        {latest.data ? showTime(latest.data.time) : t('noSnapshots')}
      </p>
      {url && <img className="snapshot" src={url} alt={`${device.deviceId} ${latest.data?.time ?? ''}`} />}
      {error && <p className="error">{error}</p>}
      <h3>{t('cameraConfig')}</h3>
      {config ? <Json value={config} /> : <p className="muted">{t('none')}</p>}
    </Card>
  )
}
