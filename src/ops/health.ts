// Liveness and readiness for supervisors (issue 10 item 5, README "Operations"): /healthz answers while the
// process's event loop does; /readyz answers 200 only while every part a device or site app relies on is up.
// Upstream sync and serial ports are not part of readiness: the gateway serves the site without them (local
// first, ARCHITECTURE.md rule 4); their state is in /metrics and the status endpoints.

export type Check = () => string | undefined

export interface ReadinessReport {
  ready: boolean
  /** The parts that are not ready. */
  notReady: string[]
  /** Each part: "ok", or why it is not ready. */
  checks: Record<string, string>
}

/** Runs each check (undefined = ready; a string says what is wrong; a throw counts as not ready). */
export function readiness(checks: Record<string, Check>): ReadinessReport {
  const report: ReadinessReport = { ready: true, notReady: [], checks: {} }
  for (const [name, check] of Object.entries(checks)) {
    let problem: string | undefined
    try {
      problem = check()
    } catch (err) {
      problem = (err as Error).message
    }
    report.checks[name] = problem ?? 'ok'
    if (problem !== undefined) {
      report.ready = false
      report.notReady.push(name)
    }
  }
  return report
}
