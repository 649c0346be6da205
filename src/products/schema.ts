// The product model's shape (spec §5.5's ServiceCapabilityDTO) and the check of a definition from outside. Kept
// apart from model.ts: the ingest writer thread validates reports against models and has no use for TypeBox.
import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const DataType = Type.Union(
  ['int', 'long', 'decimal', 'double', 'string', 'boolean', 'bool', 'DateTime', 'jsonObject', 'array'].map(
    (t) => Type.Literal(t),
  ),
)
const Limits = {
  required: Type.Optional(Type.Boolean()),
  min: Type.Optional(Type.String({ pattern: '^-?\\d+(\\.\\d+)?$' })),
  max: Type.Optional(Type.String({ pattern: '^-?\\d+(\\.\\d+)?$' })),
  step: Type.Optional(Type.Number()),
  maxLength: Type.Optional(Type.Integer({ minimum: 0 })),
  unit: Type.Optional(Type.String({ maxLength: 64 })),
  enumList: Type.Optional(Type.Array(Type.String(), { maxItems: 1000 })),
}
const Para = Type.Object({
  paraName: Type.String({ minLength: 1, maxLength: 256 }),
  dataType: DataType,
  ...Limits,
})
const Property = Type.Object({
  propertyName: Type.String({ minLength: 1, maxLength: 256 }),
  dataType: DataType,
  // R readable, W writable (a desired value may set it), E observable (reported); each letter at most once.
  method: Type.String({ pattern: '^(?!.*(.).*\\1)[RWE]{1,3}$' }),
  ...Limits,
})
const Command = Type.Object({
  commandName: Type.String({ minLength: 1, maxLength: 256 }),
  paras: Type.Optional(Type.Array(Para)),
  responses: Type.Optional(
    Type.Array(
      Type.Object({ responseName: Type.String({ minLength: 1 }), paras: Type.Optional(Type.Array(Para)) }),
    ),
  ),
})
const Service = Type.Object({
  serviceId: Type.String({ minLength: 1, maxLength: 256 }),
  serviceType: Type.Optional(Type.String({ maxLength: 256 })),
  option: Type.Optional(Type.String({ maxLength: 256 })),
  description: Type.Optional(Type.String({ maxLength: 10240 })),
  commands: Type.Optional(Type.Array(Command)),
  properties: Type.Optional(Type.Array(Property)),
})

export const ProductSchema = Type.Object(
  {
    productId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
    manufacturerId: Type.Optional(Type.String({ maxLength: 256 })),
    manufacturerName: Type.Optional(Type.String({ maxLength: 256 })),
    deviceType: Type.Optional(Type.String({ maxLength: 256 })),
    model: Type.Optional(Type.String({ maxLength: 256 })),
    protocolType: Type.Optional(Type.String({ maxLength: 256 })),
    serviceCapabilities: Type.Array(Service, { maxItems: 500 }),
  },
  { additionalProperties: false },
)

export type Product = Static<typeof ProductSchema>
export type ProductService = Static<typeof Service>
export type ProductCommand = Static<typeof Command>
export type Limited = Static<typeof Para> | Static<typeof Property>

/** A product definition from outside (file, admin API): the product, or what is wrong with it. */
export function parseProduct(doc: unknown): { ok: true; product: Product } | { ok: false; error: string } {
  if (Value.Check(ProductSchema, doc)) {
    const seen = new Set<string>()
    for (const [i, s] of doc.serviceCapabilities.entries()) {
      if (seen.has(s.serviceId)) {
        return {
          ok: false,
          error: `/serviceCapabilities/${i}/serviceId: service ${s.serviceId} is defined twice`,
        }
      }
      seen.add(s.serviceId)
    }
    return { ok: true, product: doc }
  }
  const first = Value.Errors(ProductSchema, doc).First()
  return { ok: false, error: first ? `${first.path || '/'}: ${first.message}` : 'not a product definition' }
}
