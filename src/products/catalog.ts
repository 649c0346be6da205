import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ONEJSON_PROTOCOL_TYPE } from '../devices/protocols.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/index.ts'
import type { DeviceRow } from '../store/repos/devices.ts'
import { type Product, parseProduct } from './schema.ts'

/**
 * The product models the gateway knows: from `data/products/*.json` (read at start: a file replaces the model
 * of its productId; a bad file is logged and skipped) and from the admin API. Reads are cached; the models are
 * few and small.
 */
export class ProductCatalog {
  private readonly cache = new Map<string, Product | null>()

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** Loads the model files of a directory (absent: nothing to load). */
  loadDirectory(dir: string): void {
    let files: string[]
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.json'))
    } catch {
      return
    }
    for (const file of files.sort()) {
      const path = join(dir, file)
      let doc: unknown
      try {
        doc = JSON.parse(readFileSync(path, 'utf8'))
      } catch (err) {
        this.log.error({ file: path, err: (err as Error).message }, 'product model file is not JSON; skipped')
        continue
      }
      const parsed = parseProduct(doc)
      if (!parsed.ok) {
        this.log.error({ file: path, error: parsed.error }, 'product model file is invalid; skipped')
        continue
      }
      this.put(parsed.product, 'file')
      this.log.info({ file: path, productId: parsed.product.productId }, 'product model loaded')
    }
  }

  put(product: Product, source: 'file' | 'admin'): void {
    this.store.products.upsert(product.productId, JSON.stringify(product), source, Date.now())
    this.cache.set(product.productId, product)
  }

  /** The model a device is validated against: none without a product, none for OneJSON devices (their
   * productId is their OneNET pid, not a product model here). */
  modelOf(device: Pick<DeviceRow, 'product_id' | 'protocol_type'>): Product | undefined {
    if (device.product_id === null || device.protocol_type === ONEJSON_PROTOCOL_TYPE) return undefined
    return this.get(device.product_id)
  }

  get(productId: string): Product | undefined {
    let product = this.cache.get(productId)
    if (product === undefined) {
      const row = this.store.products.get(productId)
      product = row ? (JSON.parse(row.definition) as Product) : null
      this.cache.set(productId, product)
    }
    return product ?? undefined
  }

  all(): Product[] {
    return this.store.products.all().map((r) => JSON.parse(r.definition) as Product)
  }

  delete(productId: string): void {
    this.store.products.delete(productId)
    this.cache.delete(productId)
  }
}
