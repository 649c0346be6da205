import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react'
import type { ApiClient } from './api.ts'
import { type LabelKey, type Lang, translate } from './i18n.ts'
import type { LiveFeed } from './live.ts'

interface Session {
  api: ApiClient
  feed: LiveFeed
}

interface LangState {
  lang: Lang
  setLang: (lang: Lang) => void
  t: (key: LabelKey) => string
}

const LangContext = createContext<LangState>({ lang: 'en', setLang: () => {}, t: (k) => translate('en', k) })
const SessionContext = createContext<Session | undefined>(undefined)

function initialLang(): Lang {
  const saved = localStorage.getItem('sitegate.lang')
  if (saved === 'en' || saved === 'zh') return saved
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en'
}

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang)
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem('sitegate.lang', l)
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en'
    setLangState(l)
  }, [])
  const t = useCallback((key: LabelKey) => translate(lang, key), [lang])
  return <LangContext.Provider value={{ lang, setLang, t }}>{children}</LangContext.Provider>
}

export function SessionProvider({ session, children }: { session: Session; children: ReactNode }) {
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>
}

export const useLang = () => useContext(LangContext)
export const useT = () => useContext(LangContext).t

export function useSession(): Session {
  const s = useContext(SessionContext)
  if (!s) throw new Error('not signed in')
  return s
}

/** Calls `handler` for each live event of that name while the component is mounted. */
export function useLive<T>(event: string, handler: (data: T) => void): void {
  const { feed } = useSession()
  const ref = useRef(handler)
  ref.current = handler
  useEffect(() => feed.on(event, (d) => ref.current(d as T)), [feed, event])
}

export interface Loaded<T> {
  data: T | undefined
  error: string | undefined
  loading: boolean
  reload: () => void
  set: (update: (old: T | undefined) => T | undefined) => void
}

/** Loads once per change of `key`; `reload` loads again (live events call it). */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<string>()
  const [loading, setLoading] = useState(true)
  const [round, setRound] = useState(0)
  const loadRef = useRef(load)
  loadRef.current = load
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` and `round` are what trigger a load.
  useEffect(() => {
    let current = true
    setLoading(true)
    loadRef.current().then(
      (d) => {
        if (!current) return
        setData(d)
        setError(undefined)
        setLoading(false)
      },
      (err: unknown) => {
        if (!current) return
        setError((err as Error).message)
        setLoading(false)
      },
    )
    return () => {
      current = false
    }
  }, [key, round])
  const reload = useCallback(() => setRound((r) => r + 1), [])
  return { data, error, loading, reload, set: setData as Loaded<T>['set'] }
}

/** The page from the URL hash: `#/devices/abc` → ['devices', 'abc']. */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])
  return hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p))
}

export function navigate(...parts: string[]): void {
  location.hash = `#/${parts.map(encodeURIComponent).join('/')}`
}
