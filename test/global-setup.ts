// Once per test run, before any suite: build the dashboard if renderer/dist is missing or stale (a fresh clone
// has none; the e2e and dashboard endpoint suites serve it). Once, so parallel suites never build over each other.
import { ensureRendererBuilt } from '../renderer/build.ts'

export default function setup(): void {
  ensureRendererBuilt()
}
