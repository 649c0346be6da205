// The rotating log file (src/ops/log-file.ts): size cap, number of files kept, whole lines only.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RotatingFile } from '../../src/ops/log-file.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

describe('RotatingFile', () => {
  let dir: string
  beforeEach(() => {
    dir = tempDir('sitegate-log-')
  })
  afterEach(() => removeDir(dir))

  const line = (i: number) => `${JSON.stringify({ level: 30, i, msg: 'x'.repeat(80) })}\n`

  it('rotates by size, keeps maxFiles rotated files, never splits a line, and loses only the oldest lines', () => {
    const path = join(dir, 'sitegate.log')
    const file = new RotatingFile(path, { maxBytes: 1000, maxFiles: 2 })
    for (let i = 0; i < 100; i++) file.write(line(i))
    file.close()
    expect(readdirSync(dir).sort()).toEqual(['sitegate.log', 'sitegate.log.1', 'sitegate.log.2'])
    const numbers: number[] = []
    for (const name of ['sitegate.log.2', 'sitegate.log.1', 'sitegate.log']) {
      expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(1000)
      const lines = readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean)
      for (const l of lines) numbers.push((JSON.parse(l) as { i: number }).i)
    }
    // The newest lines, in order, without a gap.
    expect(numbers.at(-1)).toBe(99)
    expect(numbers).toEqual(numbers.map((_, k) => numbers[0]! + k))
  })

  it('appends to the file a previous run left and counts its size', () => {
    const path = join(dir, 'sitegate.log')
    const first = new RotatingFile(path, { maxBytes: 1000, maxFiles: 1 })
    for (let i = 0; i < 5; i++) first.write(line(i))
    first.close()
    const second = new RotatingFile(path, { maxBytes: 1000, maxFiles: 1 })
    for (let i = 5; i < 12; i++) second.write(line(i))
    second.close()
    // 12 lines of 102 bytes: 9 fit in the first 1000 bytes, the rest starts the new file.
    expect(readFileSync(`${path}.1`, 'utf8').split('\n').filter(Boolean)).toHaveLength(9)
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3)
  })

  it('with maxFiles 0 starts the file over', () => {
    const path = join(dir, 'sitegate.log')
    const file = new RotatingFile(path, { maxBytes: 500, maxFiles: 0 })
    for (let i = 0; i < 20; i++) file.write(line(i))
    file.close()
    expect(existsSync(`${path}.1`)).toBe(false)
    expect(statSync(path).size).toBeLessThanOrEqual(500)
  })

  it('does not throw when the file cannot be written; writes again once it can', () => {
    const sub = join(dir, 'logs')
    const path = join(sub, 'sitegate.log')
    const file = new RotatingFile(path, { maxBytes: 300, maxFiles: 1 })
    for (let i = 0; i < 2; i++) file.write(line(i))
    // The directory is replaced by a file: the rotation the next line needs cannot reopen the log.
    rmSync(sub, { recursive: true })
    writeFileSync(sub, 'not a directory')
    for (let i = 2; i < 4; i++) expect(() => file.write(line(i))).not.toThrow()
    expect(file.failedWrites).toBe(2)
    // Once the place is usable again (the directory is made again if needed), lines go to the file.
    rmSync(sub)
    file.write(line(4))
    file.close()
    expect(readFileSync(path, 'utf8')).toBe(line(4))
  })

  it('creates nothing until the first line', () => {
    const path = join(dir, 'data', 'logs', 'sitegate.log')
    const file = new RotatingFile(path, { maxBytes: 300, maxFiles: 1 })
    expect(existsSync(join(dir, 'data'))).toBe(false)
    file.write(line(0))
    file.close()
    expect(readFileSync(path, 'utf8')).toBe(line(0))
  })
})
