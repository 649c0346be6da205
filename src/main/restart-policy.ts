/**
 * When to restart the core after it exited: at once the first time, then with a doubling delay while it keeps
 * dying soon after starting; a core that ran for `stableMs` counts as healthy again. Outside kiosk mode the shell
 * gives up after `maxQuickRestarts` quick deaths in a row (a crash loop needs a person, and the window says so);
 * a kiosk has no person at hand, so it keeps trying at the longest delay.
 */
export interface RestartPolicyOptions {
  initialDelayMs: number
  maxDelayMs: number
  stableMs: number
  maxQuickRestarts: number
  kiosk: boolean
}

export const DEFAULT_RESTART: RestartPolicyOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  stableMs: 60_000,
  maxQuickRestarts: 5,
  kiosk: false,
}

export type RestartDecision =
  | { restart: true; delayMs: number; attempt: number }
  | { restart: false; attempt: number }

export class RestartPolicy {
  private quickDeaths = 0

  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART) {}

  /** The core that started at `startedAt` exited at `exitedAt`: restart it, and after how long? */
  onExit(startedAt: number, exitedAt: number): RestartDecision {
    if (exitedAt - startedAt >= this.options.stableMs) this.quickDeaths = 0
    this.quickDeaths++
    const attempt = this.quickDeaths
    if (!this.options.kiosk && attempt > this.options.maxQuickRestarts) return { restart: false, attempt }
    const delayMs =
      attempt === 1 ? 0 : Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** (attempt - 2))
    return { restart: true, delayMs, attempt }
  }

  /** A person asked for a restart: start over. */
  reset(): void {
    this.quickDeaths = 0
  }
}
