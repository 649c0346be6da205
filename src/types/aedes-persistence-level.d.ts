declare module 'aedes-persistence-level' {
  import type { AbstractLevel } from 'abstract-level'
  // biome-ignore lint/suspicious/noExplicitAny: the persistence object is opaque to sitegate; aedes consumes it.
  export default function aedesPersistenceLevel(db: AbstractLevel<any, any, any>): any
}
