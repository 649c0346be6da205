import { useEffect, useMemo, useState } from 'react'
import type { ApiClient } from './api.ts'
import { SessionProvider, useLang, useLive, useRoute, useSession, useT } from './context.tsx'
import type { LabelKey } from './i18n.ts'
import { LiveFeed, type LiveState } from './live.ts'
import { Cameras } from './pages/Cameras.tsx'
import { Commands } from './pages/Commands.tsx'
import { DeviceDetail } from './pages/DeviceDetail.tsx'
import { Devices } from './pages/Devices.tsx'
import { Overview } from './pages/Overview.tsx'
import { Safety } from './pages/Safety.tsx'
import { Serial } from './pages/Serial.tsx'
import { Settings } from './pages/Settings.tsx'
import { SignIn } from './pages/SignIn.tsx'
import type { SafetyEvent } from './safety-api.ts'
import { showTime } from './time.ts'

const PAGES: { id: string; label: LabelKey }[] = [
  { id: 'overview', label: 'overview' },
  { id: 'devices', label: 'devices' },
  { id: 'commands', label: 'commands' },
  { id: 'cameras', label: 'cameras' },
  { id: 'safety', label: 'safety' },
  { id: 'serial', label: 'serial' },
  { id: 'settings', label: 'settings' },
]

export function App() {
  const [api, setApi] = useState<ApiClient>()
  const [notice, setNotice] = useState<string>()
  const feed = useMemo(() => (api ? new LiveFeed(api) : undefined), [api])
  useEffect(() => () => feed?.close(), [feed])
  useEffect(() => {
    if (!api) return
    api.onSignedOut = (reason) => {
      setNotice(reason)
      setApi(undefined)
    }
  }, [api])

  if (!api || !feed)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(a) => {
          setNotice(undefined)
          setApi(a)
        }}
      />
    )
  return (
    <SessionProvider session={{ api, feed }}>
      <Shell
        onSignOut={() => {
          api.signOut()
          setApi(undefined)
        }}
      />
    </SessionProvider>
  )
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const t = useT()
  const { lang, setLang } = useLang()
  const { feed, api } = useSession()
  const route = useRoute()
  const [live, setLive] = useState<LiveState>(feed.state)
  useEffect(() => feed.onState(setLive), [feed])
  const page = route[0] ?? 'overview'
  // A helmet's SOS stands out on every page until dismissed.
  const [sos, setSos] = useState<SafetyEvent>()
  useLive<{ event: SafetyEvent }>('safety.event', ({ event }) => {
    if (event.kind === 'sos') setSos(event)
  })

  return (
    <div className="shell">
      <nav className="nav">
        <div className="brand">sitegate</div>
        {PAGES.map((p) => (
          <a key={p.id} href={`#/${p.id}`} className={page === p.id ? 'active' : ''}>
            {t(p.label)}
          </a>
        ))}
        <div className="nav-foot">
          <span className={`live live-${live}`} data-testid="live-state">
            {live === 'live' ? t('live') : live === 'connecting' ? t('connecting') : t('reconnecting')}
          </span>
          <span className="muted small">{api.appId}</span>
          <button type="button" onClick={() => setLang(lang === 'en' ? 'zh' : 'en')}>
            {t('language')}
          </button>
          <button type="button" onClick={onSignOut}>
            {t('signOut')}
          </button>
        </div>
      </nav>
      <main className="content">
        {sos && (
          <div className="alert" role="alert" data-testid="sos-alert">
            <a href="#/safety">
              {t('sosAlert')} · {sos.chatJid} · {showTime(sos.receivedAt)} · {sos.body ?? sos.directive ?? ''}
            </a>
            <button type="button" aria-label={t('dismiss')} onClick={() => setSos(undefined)}>
              ×
            </button>
          </div>
        )}
        <Page route={route} />
      </main>
    </div>
  )
}

function Page({ route }: { route: string[] }) {
  switch (route[0] ?? 'overview') {
    case 'devices':
      return route[1] ? <DeviceDetail deviceId={route[1]} /> : <Devices />
    case 'commands':
      return <Commands />
    case 'cameras':
      return <Cameras />
    case 'safety':
      return <Safety />
    case 'serial':
      return <Serial />
    case 'settings':
      return <Settings />
    default:
      return <Overview />
  }
}
