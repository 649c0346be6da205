import { type FormEvent, useState } from 'react'
import { Card, LoadState } from '../components/common.tsx'
import { useLive, useLoad, useSession, useT } from '../context.tsx'
import type { Command } from '../types.ts'
import { CommandTable, upsertCommand } from './CommandTable.tsx'

export function DeviceCommands({ deviceId, services }: { deviceId: string; services: string[] }) {
  const t = useT()
  const { api } = useSession()
  const list = useLoad(
    async () =>
      (
        await api.call<{ data: Command[] }>(
          'GET',
          `/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=${encodeURIComponent(deviceId)}&pageSize=50`,
        )
      ).data,
    `commands-${deviceId}`,
  )
  // The §8.2 list holds ledger commands only (not desired-state, direct or remote-call ones).
  useLive<{ command: Command; origin: string }>('command.status', ({ command, origin }) => {
    if (origin === 'ledger') list.set((old) => upsertCommand(old, command, deviceId))
  })
  return (
    <Card title={t('commandHistory')}>
      <SendCommand
        deviceId={deviceId}
        services={services}
        onSent={(c) => list.set((old) => upsertCommand(old, c))}
      />
      <LoadState loading={list.loading && !list.data} error={list.error} />
      {list.data && (
        <CommandTable
          commands={list.data}
          onChanged={(c) => list.set((old) => upsertCommand(old, c, deviceId))}
        />
      )}
    </Card>
  )
}

/** §8.1: a cached command (PENDING until the device takes it, or expireTime passes). */
function SendCommand({
  deviceId,
  services,
  onSent,
}: {
  deviceId: string
  services: string[]
  onSent: (c: Command) => void
}) {
  const t = useT()
  const { api } = useSession()
  const [serviceId, setServiceId] = useState(services[0] ?? '')
  const [method, setMethod] = useState('')
  const [paras, setParas] = useState('{}')
  const [expire, setExpire] = useState('')
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<{ ok: boolean; text: string }>()

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    let parsed: unknown
    try {
      parsed = JSON.parse(paras)
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object')
    } catch (err) {
      setMessage({ ok: false, text: `${t('paras')}: ${(err as Error).message}` })
      return
    }
    setBusy(true)
    setMessage(undefined)
    try {
      const created = await api.call<Command>('POST', '/iocm/app/cmd/v1.4.0/deviceCommands', {
        deviceId,
        command: { serviceId, method, paras: parsed },
        ...(expire.trim() === '' ? {} : { expireTime: Number(expire) }),
      })
      onSent(created)
      setMessage({ ok: true, text: `${t('sent')}: ${created.commandId}` })
    } catch (err) {
      setMessage({ ok: false, text: (err as Error).message })
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="send-command" onSubmit={submit} aria-label={t('sendCommand')}>
      <label>
        {t('service')}
        <input
          name="serviceId"
          list="services"
          value={serviceId}
          onChange={(e) => setServiceId(e.target.value)}
          required
        />
        <datalist id="services">
          {services.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
      </label>
      <label>
        {t('method')}
        <input name="method" value={method} onChange={(e) => setMethod(e.target.value)} required />
      </label>
      <label className="wide">
        {t('paras')}
        <input name="paras" value={paras} onChange={(e) => setParas(e.target.value)} />
      </label>
      <label>
        {t('expireTime')}
        <input
          name="expireTime"
          inputMode="numeric"
          pattern="[0-9]*"
          value={expire}
          onChange={(e) => setExpire(e.target.value)}
        />
      </label>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? t('working') : t('send')}
      </button>
      {message && (
        <p className={message.ok ? 'ok' : 'error'} role="status">
          {message.text}
        </p>
      )}
    </form>
  )
}
