// Product models: what a device of a product reports, accepts as desired values, and accepts as commands. The
// shape is the platform's own ServiceCapabilityDTO (spec §5.5), so §5.5 returns a model as it was written.
import type { Limited, Product, ProductCommand, ProductService } from './schema.ts'

export type { Product, ProductCommand, ProductService } from './schema.ts'

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
