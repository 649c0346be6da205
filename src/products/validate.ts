// What a product model forbids, in the REST API's errors (issue 4: with a product, desired writes and commands
// are validated against it; without one, any service is accepted).
import { type ErrorCode, PlatformError } from '../errors.ts'
import { commandOf, type Product, parasProblem, propertyOf, serviceOf, valueProblem } from './model.ts'

/** §4.8: the service exists (100431), each property exists (107003), is writable (100443) and valid (50400). */
export function checkDesired(
  product: Product | undefined,
  services: { serviceId: string; desired: Record<string, unknown> }[],
): void {
  if (!product) return
  for (const { serviceId, desired } of services) {
    const service = serviceOf(product, serviceId)
    if (!service)
      throw new PlatformError('100431', `${serviceId} is not a service of product ${product.productId}`)
    for (const [name, value] of Object.entries(desired)) {
      const property = propertyOf(service, name)
      if (!property)
        throw new PlatformError('107003', `${serviceId}.${name} is not a property of the product`)
      if (!property.method.includes('W'))
        throw new PlatformError('100443', `${serviceId}.${name} is not writable`)
      const problem = valueProblem(property, value)
      if (problem) throw new PlatformError('50400', `${serviceId}.${problem}`)
    }
  }
}

/** A command's service, name and parameters, each with the error code its API uses. */
export function checkCommand(
  product: Product | undefined,
  command: { serviceId: string; method: string; paras: Record<string, unknown> },
  codes: { service: ErrorCode; method: ErrorCode; paras: ErrorCode },
): void {
  if (!product) return
  const service = serviceOf(product, command.serviceId)
  if (!service) throw new PlatformError(codes.service, `${command.serviceId} is not a service of the product`)
  const def = commandOf(service, command.method)
  if (!def)
    throw new PlatformError(codes.method, `${command.method} is not a command of ${command.serviceId}`)
  const problem = parasProblem(def, command.paras)
  if (problem) throw new PlatformError(codes.paras, problem)
}
