import type { ReactNode } from 'react'
import { useT } from '../context.tsx'

export function Badge({ value }: { value: string | null | undefined }) {
  const v = value ?? '—'
  return <span className={`badge badge-${v.toLowerCase().replace(/[^a-z]/g, '')}`}>{v}</span>
}

export function Card({
  title,
  children,
  actions,
}: {
  title: string
  children: ReactNode
  actions?: ReactNode
}) {
  return (
    <section className="card">
      <header>
        <h2>{title}</h2>
        {actions && <div className="actions">{actions}</div>}
      </header>
      {children}
    </section>
  )
}

/** Loading and error lines for a loaded value. */
export function LoadState({ loading, error }: { loading: boolean; error: string | undefined }) {
  const t = useT()
  if (error)
    return (
      <p className="error" role="alert">
        {t('error')}: {error}
      </p>
    )
  if (loading) return <p className="muted">{t('loading')}</p>
  return null
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  )
}

export function Json({ value }: { value: unknown }) {
  return <code className="json">{JSON.stringify(value)}</code>
}
