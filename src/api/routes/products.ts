import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { DeviceRegistry } from '../../devices/registry.ts'
import { PlatformError } from '../../errors.ts'
import type { ProductCatalog } from '../../products/catalog.ts'
import { parseProduct } from '../../products/schema.ts'
import type { Store } from '../../store/index.ts'
import { devicesOfQuery } from './history.ts'

const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 64 }) })
const CapabilitiesQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  gatewayId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
})

/**
 * Product models: the §5.5 capability query, and sitegate's admin API for the models themselves (the seeds
 * have none; README "Product models"):
 *   PUT    /sitegate/v1/products/{productId}   body: the model (its productId must match) → 200 the model
 *   GET    /sitegate/v1/products               → {"products":[…]}
 *   GET    /sitegate/v1/products/{productId}   → the model, or 404 100225
 *   DELETE /sitegate/v1/products/{productId}   → 204, or 409 100227 while devices use it
 * Same credentials as the platform API (app_key + Bearer token).
 */
export function productRoutes(
  app: FastifyInstance,
  deps: { registry: DeviceRegistry; store: Store; products: ProductCatalog },
): void {
  const { registry, store, products } = deps

  app.get(
    '/iocm/app/data/v1.1.0/deviceCapabilities',
    { schema: { querystring: CapabilitiesQuery }, config: { validationCode: '100022' } },
    async (request) => {
      const q = request.query as Static<typeof CapabilitiesQuery>
      if (q.deviceId === undefined && q.gatewayId === undefined) {
        throw new PlatformError('100022', 'deviceId or gatewayId is required')
      }
      const devices = devicesOfQuery(registry, store, request.appId, q, '100403')
      return {
        deviceCapabilities: devices.map((d) => {
          const product = products.modelOf(d)
          // Without a product model nothing is declared: the device may report any service.
          return { deviceId: d.device_id, serviceCapabilities: product?.serviceCapabilities ?? [] }
        }),
      }
    },
  )

  app.put('/sitegate/v1/products/:productId', { schema: { params: ProductParams } }, async (request) => {
    const { productId } = request.params as Static<typeof ProductParams>
    const parsed = parseProduct(request.body)
    if (!parsed.ok) throw new PlatformError('50400', parsed.error)
    if (parsed.product.productId !== productId)
      throw new PlatformError('50400', 'productId differs from the path')
    products.put(parsed.product, 'admin')
    return parsed.product
  })

  app.get('/sitegate/v1/products', async () => ({ products: products.all() }))

  app.get('/sitegate/v1/products/:productId', { schema: { params: ProductParams } }, async (request) => {
    const { productId } = request.params as Static<typeof ProductParams>
    const product = products.get(productId)
    if (!product) throw new PlatformError('100225')
    return product
  })

  app.delete(
    '/sitegate/v1/products/:productId',
    { schema: { params: ProductParams } },
    async (request, reply) => {
      const { productId } = request.params as Static<typeof ProductParams>
      if (!products.get(productId)) throw new PlatformError('100225')
      const using = store.products.devicesUsing(productId)
      if (using > 0) throw new PlatformError('100227', `${using} devices are registered with it`)
      products.delete(productId)
      return reply.status(204).send()
    },
  )
}
