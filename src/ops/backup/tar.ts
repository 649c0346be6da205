// A minimal POSIX ustar writer and reader (regular files and directories only), so that backups are plain
// `.tar.gz` files an operator can also open with `tar xzf`, made and read with Node's standard library alone.
// Each entry's SHA-256 is computed while it streams through, for the backup manifest.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import type { Readable, Writable } from 'node:stream'

const BLOCK = 512
const CHUNK = 1024 * 1024
const ZEROS = Buffer.alloc(BLOCK * 2)
/** The largest size the 11 octal digits of the size field hold; larger ones use base-256 (GNU, also read by tar). */
const MAX_OCTAL_SIZE = 0o77777777777

export class TarError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TarError'
  }
}

export interface EntryDigest {
  path: string
  size: number
  sha256: string
}

/** Writes a tar stream to `out`, respecting its back-pressure. */
export class TarWriter {
  private failure: Error | undefined

  constructor(private readonly out: Writable) {
    out.on('error', (err) => {
      this.failure = err
    })
  }

  /** Adds a file from disk, streamed in chunks; it must not change size while it is read. */
  async addFile(path: string, source: string): Promise<EntryDigest> {
    const fd = openSync(source, 'r')
    try {
      const size = fstatSync(fd).size
      await this.write(header(path, size, '0', 0o600))
      const hash = createHash('sha256')
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)))
      let done = 0
      while (done < size) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - done), null)
        if (n === 0) throw new TarError(`${source} became shorter while it was being archived`)
        const chunk = Buffer.from(buffer.subarray(0, n))
        hash.update(chunk)
        await this.write(chunk)
        done += n
      }
      await this.pad(size)
      return { path, size, sha256: hash.digest('hex') }
    } finally {
      closeSync(fd)
    }
  }

  async addBuffer(path: string, bytes: Buffer): Promise<EntryDigest> {
    await this.write(header(path, bytes.length, '0', 0o600))
    await this.write(bytes)
    await this.pad(bytes.length)
    return { path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }
  }

  /** The end-of-archive marker (two zero blocks), then ends the output stream. */
  async finish(): Promise<void> {
    await this.write(ZEROS)
    this.out.end()
    await once(this.out, 'finish')
    if (this.failure) throw this.failure
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK
    if (rest > 0) await this.write(ZEROS.subarray(0, BLOCK - rest))
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure
    // events.once rejects when the stream emits 'error' while we wait.
    if (!this.out.write(chunk)) await once(this.out, 'drain')
  }
}

function header(path: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(BLOCK)
  const [prefix, name] = splitName(path)
  h.write(name, 0, 100, 'utf8')
  h.write(octal(mode, 8), 100)
  h.write(octal(0, 8), 108)
  h.write(octal(0, 8), 116)
  if (size <= MAX_OCTAL_SIZE) h.write(octal(size, 12), 124)
  else {
    // base-256: first byte 0x80, the size big-endian in the remaining 11 bytes
    h[124] = 0x80
    let v = BigInt(size)
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn)
      v >>= 8n
    }
  }
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136)
  h.write(type, 156)
  h.write('ustar\u000000', 257, 'latin1')
  h.write(prefix, 345, 155, 'utf8')
  h.fill(' ', 148, 156)
  h.write(`${checksum(h).toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1')
  return h
}

/** ustar splits a long path at a slash into prefix (≤ 155 bytes) and name (≤ 100 bytes). */
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path]
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i)
    const name = path.slice(i + 1)
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name]
  }
  throw new TarError(`path too long for the archive: ${path}`)
}

const octal = (value: number, width: number): string => `${value.toString(8).padStart(width - 1, '0')}\u0000`

function checksum(h: Buffer): number {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!
  return sum
}

export interface TarEntry {
  path: string
  type: 'file' | 'directory'
  size: number
}

/** Receives each file's bytes, in order; resolves when it has taken them (so the reader waits for the disk). */
export interface EntrySink {
  write(chunk: Buffer): Promise<void> | void
  end(): Promise<void> | void
}

/**
 * Reads a tar stream. `open` is called for each entry and returns where its bytes go (undefined for a
 * directory); each file's SHA-256 is returned with it. A damaged header, an unsupported entry type or a stream
 * that ends early is a TarError.
 */
export async function readTar(
  input: Readable,
  open: (entry: TarEntry) => Promise<EntrySink | undefined> | EntrySink | undefined,
): Promise<EntryDigest[]> {
  const reader = new ByteReader(input)
  const digests: EntryDigest[] = []
  for (;;) {
    const block = await reader.read(BLOCK)
    if (block === undefined) throw new TarError('the archive ends without its end marker (truncated?)')
    if (block.every((b) => b === 0)) break
    const entry = parseHeader(block)
    const sink = await open(entry)
    if (entry.type === 'directory') continue
    const hash = createHash('sha256')
    let remaining = entry.size
    while (remaining > 0) {
      const chunk = await reader.read(Math.min(remaining, CHUNK), true)
      if (chunk === undefined) throw new TarError(`the archive ends inside ${entry.path} (truncated?)`)
      hash.update(chunk)
      await sink?.write(chunk)
      remaining -= chunk.length
    }
    await sink?.end()
    const rest = entry.size % BLOCK
    if (rest > 0 && (await reader.read(BLOCK - rest)) === undefined)
      throw new TarError(`the archive ends inside ${entry.path} (truncated?)`)
    digests.push({ path: entry.path, size: entry.size, sha256: hash.digest('hex') })
  }
  return digests
}

function parseHeader(h: Buffer): TarEntry {
  const stored = Number.parseInt(field(h, 148, 8).trim() || 'NaN', 8)
  if (stored !== checksum(h)) throw new TarError('damaged archive: a header checksum does not match')
  const name = field(h, 0, 100)
  const prefix = h.toString('latin1', 257, 262) === 'ustar' ? field(h, 345, 155) : ''
  const path = prefix ? `${prefix}/${name}` : name
  const type = String.fromCharCode(h[156]!)
  let size: number
  if (h[124]! & 0x80) {
    let v = 0n
    for (let i = 125; i < 136; i++) v = (v << 8n) | BigInt(h[i]!)
    size = Number(v)
  } else size = Number.parseInt(field(h, 124, 12).trim() || '0', 8)
  if (!Number.isSafeInteger(size) || size < 0) throw new TarError(`damaged archive: bad size for ${path}`)
  if (type === '5') return { path: path.replace(/\/$/, ''), type: 'directory', size: 0 }
  if (type !== '0' && type !== '\u0000') throw new TarError(`unsupported entry type "${type}" for ${path}`)
  return { path, type: 'file', size }
}

function field(h: Buffer, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length)
  const end = raw.indexOf(0)
  return raw.toString('utf8', 0, end === -1 ? length : end)
}

/** Exact-length reads over a stream's chunks. */
class ByteReader {
  private readonly chunks: AsyncIterator<Buffer>
  private pending: Buffer = Buffer.alloc(0)
  private ended = false

  constructor(input: Readable) {
    this.chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  }

  /** `n` bytes (or, with `upTo`, between 1 and n); undefined when the stream ends first. */
  async read(n: number, upTo = false): Promise<Buffer | undefined> {
    while (this.pending.length < (upTo ? 1 : n) && !this.ended) {
      const next = await this.chunks.next()
      if (next.done) this.ended = true
      else this.pending = this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value])
    }
    if (this.pending.length < (upTo ? 1 : n)) return undefined
    const take = Math.min(n, this.pending.length)
    const out = this.pending.subarray(0, take)
    this.pending = this.pending.subarray(take)
    return out
  }
}
