// Parser targets run in this process, no gateway needed: each decoder gets random and mutated inputs and must
// answer with its own "invalid" result (or the error type it documents), never throw anything else.
import { EventEmitter } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js'
import type { SerialPort } from 'serialport'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { ConfigError, loadConfig } from '../../../src/config/load.ts'
import { defaultConfig } from '../../../src/config/schema.ts'
import { decodeImage, parseCameraMessage } from '../../../src/protocols/camera.ts'
import { decodeInvokeReply, parseOneJsonTopic } from '../../../src/protocols/onejson.ts'
import { decodeUplink } from '../../../src/protocols/platform-mqtt.ts'
import { readIncoming } from '../../../src/safety/incoming.ts'
import { buildCallStanza, parseCallStanza, StanzaError } from '../../../src/safety/stanza.ts'
import { readOneElement, XmlError } from '../../../src/safety/xml-reader.ts'
import { decodeBits, decodeRegisters, encodeValue } from '../../../src/serial/codec.ts'
import { type PointSpec, resolveSerial } from '../../../src/serial/config.ts'
import { RtuFramer } from '../../../src/serial/rtu-framer.ts'
import { OneJsonProfile } from '../../../src/sync/onejson-profile.ts'
import { PlatformProfile } from '../../../src/sync/platform-profile.ts'
import { crc16 } from '../../helpers/modbus-slave.ts'
import { exampleStanza } from '../../helpers/safety-site.ts'
import {
  CONFIG_FILES,
  cameraFrames,
  cloudRequests,
  DEVICE_REQS,
  INVOKE_REPLIES,
  ONEJSON_INVOKES,
} from '../examples.ts'
import { type FuzzTarget, Violation } from '../harness.ts'
import { fuzzText, mutateBytes, mutateJson, randomJson, randomString } from '../mutate.ts'
import type { Rng } from '../prng.ts'

/** Runs `parse`; any exception is a finding (parsers report bad input in their result). */
function mustNotThrow(input: Buffer | string, parse: () => unknown): void {
  try {
    parse()
  } catch (err) {
    throw new Violation(`threw ${(err as Error)?.stack ?? String(err)}`, input)
  }
}

function randomTopic(rng: Rng, examples: string[]): string {
  return rng.chance(0.5) ? rng.pick(examples) : mutateBytes(Buffer.from(rng.pick(examples)), rng).toString()
}

export function parserTargets(): FuzzTarget[] {
  const configFile = join(tmpdir(), `sitegate-fuzz-config-${process.pid}.yaml`)
  const modbus = modbusTarget()
  return [
    {
      name: 'parser:platform-uplink',
      weight: 1,
      one(rng) {
        const input = fuzzText(rng, DEVICE_REQS)
        mustNotThrow(input, () => decodeUplink(rng.chance(0.5) ? input : input.toString('utf8'), Date.now()))
      },
    },
    {
      name: 'parser:camera-frame',
      weight: 1,
      one(rng) {
        const input = fuzzText(rng, cameraFrames('CAM1'))
        mustNotThrow(input, () => parseCameraMessage(input.toString('utf8'), Date.now(), 300_000))
        const data = rng.chance(0.5) ? input.toString('base64') : randomString(rng)
        mustNotThrow(data, () => decodeImage(data, rng.int(0, 100_000)))
      },
    },
    {
      name: 'parser:onejson-reply',
      weight: 1,
      one(rng) {
        const input = fuzzText(rng, INVOKE_REPLIES)
        mustNotThrow(input, () => decodeInvokeReply(input))
        const topic = randomTopic(rng, ['$sys/pid1/dev1/thing/service/SET_DESIRED/invoke_reply'])
        mustNotThrow(topic, () => parseOneJsonTopic(topic))
      },
    },
    {
      name: 'parser:cloud-request',
      weight: 1,
      one(rng) {
        const platform = new PlatformProfile('gw1', 's')
        const onejson = new OneJsonProfile('pid1', 'gw1', 's')
        const input = fuzzText(rng, [...cloudRequests('d1'), ...ONEJSON_INVOKES])
        mustNotThrow(input, () => platform.decodeRequest('/huawei/v1/devices/gw1/command/json', input))
        const topic = randomTopic(rng, ['$sys/pid1/gw1/thing/service/SET_DESIRED/invoke'])
        mustNotThrow(input, () => onejson.decodeRequest(topic, input))
      },
    },
    {
      name: 'parser:config-file',
      weight: 1,
      one(rng) {
        // A config file is YAML: mutate its structure (then write it out as YAML) or its text.
        const example = rng.pick(CONFIG_FILES)
        const text = rng.chance(0.5)
          ? toYaml(
              mutateJson(
                { ...defaultConfig(), ...(JSON.parse(JSON.stringify(parseYamlSafe(example))) as object) },
                rng,
              ),
            )
          : mutateBytes(Buffer.from(example), rng).toString('utf8')
        writeFileSync(configFile, text)
        // The yaml package warns on stderr about odd tags; thousands of those say nothing here.
        const emitWarning = process.emitWarning
        process.emitWarning = () => {}
        try {
          loadConfig({ configFile }, {})
        } catch (err) {
          if (!(err instanceof ConfigError))
            throw new Violation(
              `loadConfig threw ${(err as Error)?.stack ?? String(err)}, not a ConfigError`,
              text,
            )
        } finally {
          process.emitWarning = emitWarning
        }
      },
    },
    modbus,
    {
      // The call API's message string (rpc-and-calls B.4) and what a helmet sends (incoming.ts): the call parser
      // refuses with StanzaError only; a stanza it accepts is rebuilt into well-formed XML.
      name: 'parser:xmpp-stanza',
      weight: 1,
      one(rng) {
        const input = fuzzText(rng, [exampleStanza(), exampleStanza({ body: 'a < b & "c"', id: 'x-1' })])
        const text = input.toString('utf8')
        let call: ReturnType<typeof parseCallStanza> | undefined
        try {
          call = parseCallStanza(text)
        } catch (err) {
          if (!(err instanceof StanzaError))
            throw new Violation(`parseCallStanza threw ${(err as Error)?.stack ?? String(err)}`, input)
        }
        if (call) {
          // What is forwarded is rebuilt from the parsed fields (never the input): it must be well-formed XML.
          const rebuilt = buildCallStanza(call, true).toString()
          mustNotThrow(rebuilt, () => readOneElement(rebuilt))
        }
        // A stanza as the server hands it over (any well-formed element): the incoming reader classifies it.
        let element: ReturnType<typeof readOneElement> | undefined
        try {
          element = readOneElement(text)
        } catch (err) {
          if (!(err instanceof XmlError))
            throw new Violation(`readOneElement threw ${(err as Error)?.stack ?? String(err)}`, input)
        }
        if (element) mustNotThrow(input, () => readIncoming(element))
      },
    },
  ]
}

function parseYamlSafe(text: string): unknown {
  try {
    return parseYaml(text)
  } catch {
    return {}
  }
}

const requireCjs = createRequire(import.meta.url)

/** The codec refuses what does not fit a point with a plain Error saying so; anything else is a bug. */
function documentedRefusal(run: () => unknown): void {
  try {
    run()
  } catch (err) {
    if ((err as Error)?.constructor !== Error) throw err
  }
}

/**
 * Modbus RTU replies: modbus-serial's ModbusRTU (as the bus uses it) over the gateway's RtuFramer, on a port
 * object that delivers the fuzzed reply bytes; then the gateway's register codec on whatever came through.
 * A reply must end in the request's callback (data or error) without throwing; a frame with a valid CRC is
 * made now and then so that the codec sees fuzzed data too.
 */
function modbusTarget(): FuzzTarget {
  const ModbusClient = requireCjs('modbus-serial') as typeof ModbusRTU
  const port = new (class extends EventEmitter {
    isOpen = true
    write(_frame: Buffer, cb: (err?: Error | null) => void) {
      cb(null)
    }
    drain(cb: (err?: Error | null) => void) {
      cb(null)
    }
  })()
  const framer = new RtuFramer(port as unknown as SerialPort, () => {})
  const client = new ModbusClient(framer)
  client.on('error', () => {})
  client.open(() => {})
  client.setTimeout(15)
  const points: PointSpec[] = resolveSerial({
    ports: [
      {
        path: '/dev/null',
        slaves: [
          {
            unitId: 1,
            nodeId: 'fuzz',
            serviceId: 'Fuzz',
            points: (['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32'] as const).flatMap((dataType) =>
              (['holding', 'coil'] as const).map((fn, i) => ({
                name: `${dataType}${fn}`,
                function: fn,
                address: i,
                count: 1 + (i % 3),
                dataType: fn === 'coil' ? 'bool' : dataType,
                wordOrder: i % 2 ? 'little' : 'big',
                ...(fn === 'coil' || dataType === 'bool' ? {} : { scale: 0.1 }),
              })),
            ),
          },
        ],
      },
    ],
  } as never)[0]!.slaves[0]!.points
  return {
    name: 'parser:modbus-frame',
    weight: 1,
    async one(rng) {
      const unit = rng.int(1, 3)
      const fc = rng.pick([1, 3])
      const count = rng.int(1, 10)
      const valid = [unit, fc, fc === 3 ? count * 2 : Math.ceil(count / 8)]
      const body = [...valid, ...rng.bytes(valid[2]!)]
      let reply: Buffer = Buffer.from(body)
      if (rng.chance(0.7)) reply = mutateBytes(reply, rng)
      const frame = Buffer.alloc(reply.length + 2)
      reply.copy(frame)
      frame.writeUInt16LE(crc16(reply), reply.length)
      const bytes = rng.chance(0.2)
        ? rng.bytes(rng.int(0, 300))
        : rng.chance(0.7)
          ? frame
          : mutateBytes(frame, rng)
      const result = await new Promise<{ data?: unknown; buffer?: Buffer }>((resolve, reject) => {
        const done = (err: unknown, data?: { data?: unknown; buffer?: Buffer }) =>
          resolve(err ? {} : (data ?? {}))
        try {
          if (fc === 3) client.writeFC3(unit, 0, count, done as never)
          else client.writeFC1(unit, 0, count, done as never)
          // The reply arrives in one to three chunks, as a UART delivers it.
          let at = 0
          while (at < bytes.length) {
            const n = rng.int(1, bytes.length - at)
            port.emit('data', bytes.subarray(at, at + n))
            at += n
          }
        } catch (err) {
          reject(new Violation(`modbus reply threw ${(err as Error)?.stack}`, bytes))
        }
      })
      for (const point of points) {
        const input = result.buffer ?? rng.bytes(rng.int(0, 8))
        mustNotThrow(input, () =>
          documentedRefusal(() =>
            point.function === 'coil'
              ? decodeBits((result.data as boolean[]) ?? [], point)
              : decodeRegisters(input, point),
          ),
        )
        const value = rng.chance(0.5) ? randomJson(rng) : rng.int(-70000, 70000)
        mustNotThrow(JSON.stringify(value) ?? '', () => documentedRefusal(() => encodeValue(value, point)))
      }
    },
  }
}
