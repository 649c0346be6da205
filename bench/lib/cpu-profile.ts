// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per package, and inclusive time
// of the project's own functions, over a time window of the monotonic clock (nowMs in proc.ts).
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  parent?: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface Row {
  name: string
  ms: number
  pct: number
}

export interface ProfileSummary {
  windowMs: number
  /** False when the window did not overlap the profile and every sample was used. */
  windowed: boolean
  selfByFunction: Row[]
  selfByPackage: Row[]
  inclusiveOwn: Row[]
}

const ROOT = new URL('../../', import.meta.url).href

const location = (url: string, line: number): string =>
  url === '' ? '(native)' : `${url.replace(ROOT, '').replace('file://', '')}:${line + 1}`

/** The package (or project file, or Node core area) a frame belongs to. */
function packageOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame
  if (url === '')
    return functionName.startsWith('(') ? functionName : `(native) ${functionName || 'anonymous'}`
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (nm) return nm[1]!
  if (url.startsWith('node:')) return url.replace('node:internal/', 'node:').split('/').slice(0, 2).join('/')
  if (url.startsWith(ROOT)) return url.replace(ROOT, '')
  return url
}

const top = (totals: Map<string, number>, totalMs: number, n: number): Row[] =>
  [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / 1000 / totalMs }))

export function summarise(file: string, fromMs: number, toMs: number, n = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map<number, ProfileNode>()
  for (const node of profile.nodes) byId.set(node.id, node)
  for (const node of profile.nodes) for (const c of node.children ?? []) byId.get(c)!.parent = node.id

  // Sample i lasts until sample i + 1.
  const times: number[] = []
  let t = profile.startTime
  for (const d of profile.timeDeltas) {
    t += d
    times.push(t)
  }
  const lastUs = times[times.length - 1] ?? profile.startTime
  const windowed = fromMs * 1000 < lastUs && toMs * 1000 > profile.startTime
  const [from, to] = windowed
    ? [fromMs * 1000, toMs * 1000]
    : [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]

  const selfFn = new Map<string, number>()
  const selfPkg = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let totalUs = 0
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us)
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const at = times[i]!
    if (at < from || at > to) continue
    const us = times[i + 1]! - at
    totalUs += us
    const leaf = byId.get(profile.samples[i]!)!
    const f = leaf.callFrame
    add(selfFn, `${f.functionName || '(anonymous)'}  ${location(f.url, f.lineNumber)}`, us)
    add(selfPkg, packageOf(f), us)
    const seen = new Set<string>()
    for (let node: ProfileNode | undefined = leaf; node; node = byId.get(node.parent ?? -1)) {
      const cf = node.callFrame
      if (!cf.url.startsWith(`${ROOT}src/`) && !cf.url.startsWith(`${ROOT}node_modules/better-sqlite3`))
        continue
      const key = `${cf.functionName || '(anonymous)'}  ${location(cf.url, cf.lineNumber)}`
      if (!seen.has(key)) add(inclusive, key, us)
      seen.add(key)
    }
  }
  const totalMs = totalUs / 1000 || 1
  return {
    windowMs: totalUs / 1000,
    windowed,
    selfByFunction: top(selfFn, totalMs, n),
    selfByPackage: top(selfPkg, totalMs, n),
    inclusiveOwn: top(inclusive, totalMs, n),
  }
}

/**
 * Prints each thread's profile summary over [fromMs, toMs] (--cpu-prof writes one file per thread:
 * CPU.<date>.<time>.<pid>.<tid>.<n>); `scope` names the window, e.g. "the measured phase".
 */
export function printProfiles(dir: string, fromMs: number, toMs: number, scope: string): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`)
  for (const file of files) {
    const thread = file.split('.')[4] === '0' ? 'main thread' : `worker thread ${file.split('.')[4]}`
    const s = summarise(join(dir, file), fromMs, toMs, 25)
    const idle = s.selfByPackage.find((r) => r.name === '(idle)')?.pct ?? 0
    if (idle > 95) {
      console.log(`\ngateway ${thread}: ${idle.toFixed(0)}% idle during ${scope}`)
      continue
    }
    const over = s.windowed ? scope : 'the whole run (window not found)'
    console.log(`\ngateway ${thread} CPU profile over ${over}: ${s.windowMs.toFixed(0)} ms sampled`)
    const table = (title: string, rows: Row[]) => {
      console.log(`\n${title}`)
      for (const r of rows)
        console.log(`${r.pct.toFixed(1).padStart(6)}% ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`)
    }
    table('self time by package / area', s.selfByPackage.slice(0, 15))
    table('self time by function', s.selfByFunction)
    table('inclusive time, sitegate src/', s.inclusiveOwn.slice(0, 15))
  }
}
