// Worker entry: under tsx (npm start, tests) the TypeScript source is loaded through tsx's loader; in a build
// (dist/) the compiled module sits beside this file.
import { existsSync } from 'node:fs'

const source = new URL('./drain-worker.ts', import.meta.url)
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(source.href)
} else {
  await import('./drain-worker.js')
}
