import { type Logger, pino } from 'pino'

export type { Logger }

/** The gateway's structured logger: JSON lines on stdout (pino). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'sitegate' } })
}
