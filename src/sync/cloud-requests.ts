// Requests from the cloud (cloudReq / OneJSON invoke) → the local command ledger or the local shadow. The
// request is acknowledged to the cloud broker only after the transaction recording it committed (link.ts).
import type { CommandService, LedgerWriter } from '../commands/service.ts'
import { PlatformError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ProductCatalog } from '../products/catalog.ts'
import { checkCommand, checkDesired } from '../products/validate.ts'
import type { Store } from '../store/index.ts'
import type { CloudRequest, UpstreamProfile } from './profile.ts'

export interface CloudRequestOptions {
  pendingLimit: number
  desiredMaxRetransmit: number
  redeliveryWindowMs: number
}

export class CloudRequests {
  constructor(
    private readonly store: Store,
    private readonly products: ProductCatalog,
    private readonly writer: LedgerWriter,
    private readonly commands: CommandService,
    private readonly profile: UpstreamProfile,
    private readonly options: CloudRequestOptions,
    private readonly log: Logger,
  ) {}

  async handle(topic: string, payload: Buffer): Promise<void> {
    const request = this.profile.decodeRequest(topic, payload)
    if ('error' in request) {
      this.log.warn(
        { topic, error: request.error, bytes: payload.length },
        'bad request from the cloud refused',
      )
      // Answered when it can be addressed; a request without a usable id cannot be answered at all.
      if (request.ref)
        await this.writer.execute('sync.reply', {
          deviceId: null,
          reply: {
            ref: request.ref,
            success: false,
            body: { error_code: '100022', error_desc: request.error },
          },
        })
      return
    }
    const device = this.store.devices.get(request.deviceId)
    const outcome = await this.writer.execute('sync.acceptCloudRequest', {
      request,
      refKey: `${this.profile.name}:${request.ref.identifier ?? ''}:${request.ref.id}`,
      appId: device?.app_id,
      problem: device ? this.problemOf(request, device) : undefined,
      pendingLimit: this.options.pendingLimit,
      desiredMaxRetransmit: this.options.desiredMaxRetransmit,
      redeliveryWindowMs: this.options.redeliveryWindowMs,
    })
    if (outcome.duplicate) {
      this.log.info({ ref: request.ref }, 'cloud request received again; already recorded')
      return
    }
    this.log.info(
      { ref: request.ref, deviceId: request.deviceId, kind: request.kind, queued: outcome.queued.length },
      'cloud request recorded',
    )
    if (outcome.queued.length > 0) this.commands.queued(outcome.queued)
  }

  /** What the product model says against the request, in the REST API's errors (§8.1 / §4.8). */
  private problemOf(
    request: CloudRequest,
    device: Parameters<ProductCatalog['modelOf']>[0],
  ): { error_code: string; error_desc: string } | undefined {
    try {
      const model = this.products.modelOf(device)
      if (request.kind === 'desired')
        checkDesired(model, [{ serviceId: request.serviceId, desired: request.desired }])
      else
        checkCommand(
          model,
          { serviceId: request.serviceId, method: request.method, paras: request.paras },
          { service: '100431', method: '100022', paras: '100022' },
        )
      return undefined
    } catch (err) {
      if (err instanceof PlatformError) return err.toBody()
      throw err
    }
  }
}
