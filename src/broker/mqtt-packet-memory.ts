// How mqtt-packet's writer (shared by aedes and the upstream client, mqtt.js) spends memory, set once per process.
import { writeToStream } from 'mqtt-packet'

/** mqtt-packet keeps the encoding of every remaining length below this (writeToStream.js, varByteIntCache). */
const CACHED_LENGTHS = 16_384
/** A QoS 0 PUBLISH on a one-character topic: remaining length = 2 (topic length) + 1 (topic) + payload bytes. */
const PUBLISH_OVERHEAD = 3

let applied = false

/**
 * Applies both settings below; later calls do nothing.
 *
 * - Packet ids and lengths: by default mqtt-packet builds, on its first write, a table of 65,536 two-byte Buffers
 *   (some 7 MiB of heap). Turned off, each number goes into a fresh two-byte slice of Node's Buffer pool that dies
 *   with the write.
 * - Remaining lengths: mqtt-packet caches the encoded remaining length of every packet under 16,384 bytes it
 *   writes, one length at a time as they first occur, each a 4-byte slice of Node's 8 KiB Buffer pool. A slice
 *   keeps its whole pool block alive, and lengths first seen minutes apart each pin a block of their own: with
 *   upstream messages of every size, the soak measured some 2 MB more held every minute, towards
 *   16,384 × 8 KiB = 128 MiB (mqttjs/mqtt-packet issue 163, open). Writing one packet of every length at once,
 *   here, packs the whole table into a few blocks: about 2 MB of heap, fixed, in some 30 ms at start-up.
 */
export function settleMqttPacketMemory(): void {
  if (applied) return
  applied = true
  writeToStream.cacheNumbers = false
  fillRemainingLengthCache()
}

function fillRemainingLengthCache(): void {
  // A sink that takes the bytes and drops them; without `cork`, mqtt-packet schedules nothing.
  const sink = { write: () => true, destroy: () => {} } as unknown as Parameters<typeof writeToStream>[1]
  // Lengths 0 and 2: PINGREQ and PUBACK (no standard packet has a remaining length of 1).
  writeToStream({ cmd: 'pingreq' }, sink)
  writeToStream({ cmd: 'puback', messageId: 1 }, sink)
  const payload = Buffer.alloc(CACHED_LENGTHS)
  for (let length = PUBLISH_OVERHEAD; length < CACHED_LENGTHS; length++) {
    const packet = {
      cmd: 'publish' as const,
      topic: 't',
      payload: payload.subarray(0, length - PUBLISH_OVERHEAD),
      qos: 0 as const,
      dup: false,
      retain: false,
    }
    writeToStream(packet, sink)
  }
}
