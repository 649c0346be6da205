import { type FormEvent, useState } from 'react'
import { ApiClient } from '../api.ts'
import { useLang, useT } from '../context.tsx'

export function SignIn({ onSignedIn, notice }: { onSignedIn: (api: ApiClient) => void; notice?: string }) {
  const t = useT()
  const { lang, setLang } = useLang()
  const [appId, setAppId] = useState('')
  const [secret, setSecret] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      onSignedIn(await ApiClient.signIn({ appId: appId.trim(), secret }))
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} className="card" aria-label={t('signIn')}>
        <h1>{t('appName')}</h1>
        <p className="muted">{t('signInHint')}</p>
        {notice && <p className="notice">{notice}</p>}
        <label>
          {t('appId')}
          <input
            name="appId"
            value={appId}
            onChange={(e) => setAppId(e.target.value)}
            required
            autoComplete="username"
          />
        </label>
        <label>
          {t('secret')}
          <input
            name="secret"
            type="password"
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            required
            autoComplete="current-password"
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? t('signingIn') : t('signIn')}
          </button>
          <button type="button" onClick={() => setLang(lang === 'en' ? 'zh' : 'en')}>
            {t('language')}
          </button>
        </div>
      </form>
    </main>
  )
}
