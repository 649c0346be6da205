// Product models: what a device of a product reports, accepts as desired values, and accepts as commands. The
// shape is the platform's own ServiceCapabilityDTO (spec §5.5), so §5.5 returns a model as it was written.
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
type Limited = Static<typeof Para> | Static<typeof Property>

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

export function serviceOf(product: Product, serviceId: string): ProductService | undefined {
  return product.serviceCapabilities.find((s) => s.serviceId === serviceId)
}

export function propertyOf(service: ProductService, name: string) {
  return service.properties?.find((p) => p.propertyName === name)
}

export function commandOf(service: ProductService, name: string): ProductCommand | undefined {
  return service.commands?.find((c) => c.commandName === name)
}

/** Why `value` does not fit the property or parameter definition; undefined when it does. */
export function valueProblem(def: Limited, value: unknown): string | undefined {
  const name = 'propertyName' in def ? def.propertyName : def.paraName
  const numeric = ['int', 'long', 'decimal', 'double'].includes(def.dataType)
  if (numeric) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return `${name} must be a number`
    if ((def.dataType === 'int' || def.dataType === 'long') && !Number.isInteger(value)) {
      return `${name} must be an integer`
    }
    if (def.min !== undefined && value < Number(def.min)) return `${name} must be ≥ ${def.min}`
    if (def.max !== undefined && value > Number(def.max)) return `${name} must be ≤ ${def.max}`
  } else if (def.dataType === 'string' || def.dataType === 'DateTime') {
    if (typeof value !== 'string') return `${name} must be a string`
    if (def.maxLength !== undefined && value.length > def.maxLength)
      return `${name} is longer than ${def.maxLength}`
    if (def.enumList && def.enumList.length > 0 && !def.enumList.includes(value)) {
      return `${name} must be one of ${def.enumList.join(', ')}`
    }
  } else if (def.dataType === 'boolean' || def.dataType === 'bool') {
    if (typeof value !== 'boolean') return `${name} must be true or false`
  } else if (def.dataType === 'jsonObject') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return `${name} must be a JSON object`
  } else if (def.dataType === 'array' && !Array.isArray(value)) return `${name} must be an array`
  return undefined
}

/** Reported data of a service: every property known and valid. */
export function reportProblem(service: ProductService, data: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(data)) {
    const def = propertyOf(service, key)
    if (!def) return `${service.serviceId}.${key} is not a property of the product`
    const problem = valueProblem(def, value)
    if (problem) return `${service.serviceId}.${problem}`
  }
  return undefined
}

/** Command parameters: every parameter known, valid, and the required ones present. */
export function parasProblem(command: ProductCommand, paras: Record<string, unknown>): string | undefined {
  const defs = command.paras ?? []
  for (const [key, value] of Object.entries(paras)) {
    const def = defs.find((p) => p.paraName === key)
    if (!def) return `${key} is not a parameter of ${command.commandName}`
    const problem = valueProblem(def, value)
    if (problem) return problem
  }
  const missing = defs.find((d) => d.required === true && !(d.paraName in paras))
  return missing ? `${missing.paraName} is required` : undefined
}
