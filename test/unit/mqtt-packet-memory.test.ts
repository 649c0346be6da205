// mqtt-packet's cache of remaining-length encodings (broker/mqtt-packet-memory.ts): packets of lengths first seen
// apart in time must not each keep a block of Node's Buffer pool alive. Each case runs in a fresh Node process:
// the cache lives in the module for the life of the process.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const MODULE = new URL('../../src/broker/mqtt-packet-memory.ts', import.meta.url).href
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const LENGTHS = 1500

/**
 * Writes QoS 0 PUBLISH packets of LENGTHS distinct remaining lengths, using up Node's 8 KiB Buffer pool between
 * two (as the rest of a gateway does between two messages of a new size); returns how many bytes of Buffer memory
 * are still held after a full GC, compared with before.
 */
function bufferBytesHeld(settled: boolean): number {
  const script = `
    import mqttPacket from 'mqtt-packet'
    const { settleMqttPacketMemory } = await import(${JSON.stringify(MODULE)})
    if (${settled}) settleMqttPacketMemory()
    else mqttPacket.writeToStream.cacheNumbers = false
    const sink = { write: () => true, destroy: () => {} }
    const payload = Buffer.alloc(16384)
    const garbage = []
    globalThis.gc()
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < ${LENGTHS}; i++) {
      mqttPacket.writeToStream({ cmd: 'publish', topic: 'data', payload: payload.subarray(0, 4000 + i), qos: 0, dup: false, retain: false }, sink)
      for (let k = 0; k < 130; k++) garbage.push(Buffer.allocUnsafe(64))
      garbage.length = 0
    }
    globalThis.gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
    globalThis.gc()
    console.log(process.memoryUsage().arrayBuffers - before)
  `
  const run = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: ROOT, encoding: 'utf8' },
  )
  expect(run.stderr).toBe('')
  return Number(run.stdout.trim())
}

describe("mqtt-packet's remaining-length cache", () => {
  it('without the fill, each new length keeps a pool block alive', () => {
    // The control: what the gateway did before (16,384 such lengths would hold 128 MiB).
    expect(bufferBytesHeld(false)).toBeGreaterThan(LENGTHS * 4096)
  })

  it('filled at start-up, new lengths hold nothing more', () => {
    expect(bufferBytesHeld(true)).toBeLessThan(256 * 1024)
  })
})
