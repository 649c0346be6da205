import { type Encoded, encodeValue } from './codec.ts'
import type { PointSpec, SlaveSpec } from './config.ts'

/**
 * The writes a command asks of a slave. Desired state arrives as `SET_DESIRED` with the service's whole desired
 * section as paras (shadows/desired-ops.ts), and any other command of the service the same way: each paras
 * key names a writable point of that service, its value is what to write. Everything is checked before the
 * first frame goes out, so a command with one bad value writes nothing. Throws an Error saying what is wrong.
 */
export function planWrites(
  slave: SlaveSpec,
  serviceId: string,
  paras: unknown,
): { point: PointSpec; encoded: Encoded }[] {
  if (typeof paras !== 'object' || paras === null || Array.isArray(paras))
    throw new Error('paras must be an object of property → value')
  const entries = Object.entries(paras as Record<string, unknown>)
  if (entries.length === 0) throw new Error('paras name no property to write')
  return entries.map(([name, value]) => {
    const point = slave.points.find((p) => p.serviceId === serviceId && p.name === name)
    if (!point) throw new Error(`${serviceId}.${name} is not a point of ${slave.nodeId}`)
    if (!point.writable) throw new Error(`${serviceId}.${name} is not writable`)
    return { point, encoded: encodeValue(value, point) }
  })
}
