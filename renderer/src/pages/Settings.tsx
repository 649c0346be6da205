import { useState } from 'react'
import { Card, LoadState } from '../components/common.tsx'
import { useLoad, useSession, useT } from '../context.tsx'

interface ConfigAnswer {
  config: Record<string, unknown>
  sections: string[]
  applications: { appId: string; name: string | null; source: string }[]
}

/** The running configuration per section; an edited section is checked by the gateway's own schema. */
export function Settings() {
  const t = useT()
  const { api } = useSession()
  const loaded = useLoad(() => api.call<ConfigAnswer>('GET', '/sitegate/v1/config'), 'config')
  const c = loaded.data
  return (
    <div className="page">
      <h1>{t('settings')}</h1>
      <p className="muted">{t('settingsHint')}</p>
      <LoadState loading={loaded.loading && !c} error={loaded.error} />
      {c && (
        <>
          <Card title={t('applications')}>
            <ul className="log">
              {c.applications.map((a) => (
                <li key={a.appId}>
                  <strong>{a.appId}</strong> {a.name ?? ''} <span className="muted small">{a.source}</span>
                </li>
              ))}
            </ul>
          </Card>
          {c.sections.map((s) => (
            <Section key={s} name={s} value={c.config[s]} />
          ))}
        </>
      )}
    </div>
  )
}

function Section({ name, value }: { name: string; value: unknown }) {
  const t = useT()
  const { api } = useSession()
  const [text, setText] = useState(() => JSON.stringify(value ?? null, null, 2))
  const [result, setResult] = useState<{ ok: boolean; text: string }>()
  const [busy, setBusy] = useState(false)

  const validate = async () => {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      setResult({ ok: false, text: `JSON: ${(err as Error).message}` })
      return
    }
    setBusy(true)
    try {
      const answer = await api.call<{ valid: boolean; error?: string }>(
        'POST',
        '/sitegate/v1/config/validate',
        {
          section: name,
          value: parsed,
        },
      )
      setResult(
        answer.valid
          ? { ok: true, text: t('valid') }
          : { ok: false, text: `${t('invalid')}: ${answer.error}` },
      )
    } catch (err) {
      setResult({ ok: false, text: (err as Error).message })
    } finally {
      setBusy(false)
    }
  }

  return (
    <Card
      title={name}
      actions={
        <button type="button" disabled={busy} onClick={() => void validate()}>
          {busy ? t('working') : t('validate')}
        </button>
      }
    >
      <textarea
        aria-label={name}
        className="config"
        spellCheck={false}
        value={text}
        rows={Math.min(16, text.split('\n').length + 1)}
        onChange={(e) => setText(e.target.value)}
      />
      {result && (
        <p className={result.ok ? 'ok' : 'error'} role="status" data-testid={`validate-${name}`}>
          {result.text}
        </p>
      )}
    </Card>
  )
}
