// Route schemas compiled on a route's first request instead of at start-up. fastify compiles an ajv validator for
// every request part and a fast-json-stringify serializer for every response status of every route when the
// server starts; each is generated JavaScript whose source and code stay in the heap for the life of the process.
// A site uses a handful of the API's routes, so most of that memory served nothing (issue 10, core RSS): here a
// route part gets a small stand-in that compiles the real function the first time it is called. The compilers and
// their options are fastify's own defaults, so validation and serialization are unchanged.
import ajvCompiler from '@fastify/ajv-compiler'
import serializerCompiler from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type BuildValidator = NonNullable<CompilersFactory['buildValidator']>
type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>

/** What a compiled validator is to fastify: called with the data, its `errors` read after a `false`. */
interface Validate {
  (data: unknown): unknown
  errors?: unknown
}

type Compile<F> = (routeSchema: unknown) => F

/**
 * fastify's compiler factories with every compilation deferred. `compileAll()` compiles what has not been yet, so
 * a test can check that every schema the routes declare compiles, as eager compilation did at start-up.
 */
export function lazySchemaCompilers(): { compilersFactory: CompilersFactory; compileAll(): number } {
  const pending = new Set<() => void>()

  function deferred<F extends (...args: never[]) => unknown>(
    compileNow: () => F,
    stand: (get: () => F) => F,
  ): F {
    let compiled: F | undefined
    const get = () => {
      if (compiled === undefined) {
        compiled = compileNow()
        pending.delete(get)
      }
      return compiled
    }
    pending.add(get)
    return stand(get)
  }

  const eagerValidator = ajvCompiler() as unknown as (...args: unknown[]) => Compile<Validate>
  const buildValidator = ((...factoryArgs: unknown[]) => {
    const compile = eagerValidator(...factoryArgs)
    return (routeSchema: unknown) =>
      deferred(
        () => compile(routeSchema),
        (get) => {
          // fastify reads `errors` from the function it was given after a failed validation.
          const validate: Validate = (data) => {
            const real = get()
            const result = real(data)
            validate.errors = real.errors
            return result
          }
          return validate
        },
      )
  }) as unknown as BuildValidator

  const eagerSerializer = serializerCompiler() as unknown as (
    ...args: unknown[]
  ) => Compile<(data: unknown) => string>
  const buildSerializer = ((...factoryArgs: unknown[]) => {
    const compile = eagerSerializer(...factoryArgs)
    return (routeSchema: unknown) =>
      deferred(
        () => compile(routeSchema),
        (get) => (data: unknown) => get()(data),
      )
  }) as unknown as BuildSerializer

  return {
    compilersFactory: { buildValidator, buildSerializer },
    /** Compiles what has not been compiled yet; returns how many it compiled. */
    compileAll() {
      const waiting = [...pending]
      for (const get of waiting) get()
      return waiting.length
    },
  }
}
