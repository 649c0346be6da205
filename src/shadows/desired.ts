import type { CommandService, LedgerWriter } from '../commands/service.ts'

export interface DesiredOptions {
  /** Retransmissions of a desired command that gets no answer (as §8.1 maxRetransmit). */
  maxRetransmit: number
}

/**
 * Desired state (spec §4.8): stored with the shadow, then carried to the device by a queued command per
 * service — now if it is online, else when it connects (shadows/desired-ops.ts).
 */
export class DesiredStateService {
  constructor(
    private readonly writer: LedgerWriter,
    private readonly commands: CommandService,
    private readonly options: DesiredOptions,
  ) {}

  async set(
    appId: string,
    deviceId: string,
    services: { serviceId: string; desired: Record<string, unknown> }[],
  ): Promise<void> {
    const rows = await this.writer.execute('shadow.setDesired', {
      appId,
      deviceId,
      services,
      maxRetransmit: this.options.maxRetransmit,
    })
    this.commands.queued(rows)
  }
}
