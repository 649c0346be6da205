// Product models (issue 4 item 2): the definition a file or the admin API supplies (spec §5.5's
// ServiceCapabilityDTO shape), and the value checks reported data, desired writes and commands go through.
import { describe, expect, it } from 'vitest'
import {
  commandOf,
  type Product,
  type ProductCommand,
  type ProductService,
  parasProblem,
  propertyOf,
  reportProblem,
  serviceOf,
  valueProblem,
} from '../../src/products/model.ts'
import { parseProduct } from '../../src/products/schema.ts'

/** Every field the model knows, every data type. */
function fullModel(): Product {
  return {
    productId: 'crane-monitor.v2',
    manufacturerId: 'liebherr',
    manufacturerName: 'Liebherr',
    deviceType: 'CraneMonitor',
    model: 'TC-7000',
    protocolType: 'MQTT',
    serviceCapabilities: [
      {
        serviceId: 'Load',
        serviceType: 'Load',
        option: 'Mandatory',
        description: 'hook load and wind',
        properties: [
          { propertyName: 'weight', dataType: 'decimal', method: 'RE', min: '0', max: '12.5', unit: 't' },
          { propertyName: 'count', dataType: 'int', method: 'R', min: '-10', max: '100', step: 1 },
          { propertyName: 'total', dataType: 'long', method: 'RE' },
          { propertyName: 'ratio', dataType: 'double', method: 'E' },
          { propertyName: 'limit', dataType: 'int', method: 'RWE', min: '1', max: '20' },
          { propertyName: 'mode', dataType: 'string', method: 'RW', enumList: ['auto', 'manual'] },
          { propertyName: 'label', dataType: 'string', method: 'W', maxLength: 5 },
          { propertyName: 'alarm', dataType: 'boolean', method: 'RE' },
          { propertyName: 'locked', dataType: 'bool', method: 'RW', required: true },
          { propertyName: 'since', dataType: 'DateTime', method: 'R' },
          { propertyName: 'config', dataType: 'jsonObject', method: 'RW' },
          { propertyName: 'samples', dataType: 'array', method: 'E' },
        ],
        commands: [
          {
            commandName: 'SET_LIMIT',
            paras: [
              { paraName: 'limit', dataType: 'int', required: true, min: '1', max: '20' },
              { paraName: 'reason', dataType: 'string', maxLength: 8 },
              { paraName: 'unit', dataType: 'string', enumList: ['t', 'kg'] },
            ],
            responses: [{ responseName: 'SET_LIMIT_RSP', paras: [{ paraName: 'result', dataType: 'int' }] }],
          },
          { commandName: 'RESET' },
        ],
      },
      { serviceId: 'Wind', properties: [{ propertyName: 'speed', dataType: 'double', method: 'RE' }] },
    ],
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the cases edit the document freely, wherever they break it
type Doc = Record<string, any>

/** A full model with one change applied. */
function modelWith(change: (doc: Doc) => void): unknown {
  const doc = structuredClone(fullModel()) as Doc
  change(doc)
  return doc
}

const load = (): ProductService => serviceOf(fullModel(), 'Load')!
const property = (name: string) => propertyOf(load(), name)!
const command = (name: string): ProductCommand => commandOf(load(), name)!

describe('parseProduct', () => {
  it('accepts a full model and returns it unchanged', () => {
    const parsed = parseProduct(fullModel())
    expect(parsed).toEqual({ ok: true, product: fullModel() })
  })

  it('accepts the smallest model: a productId and no services', () => {
    expect(parseProduct({ productId: 'p', serviceCapabilities: [] })).toEqual({
      ok: true,
      product: { productId: 'p', serviceCapabilities: [] },
    })
  })

  it('accepts every access mode combination of R, W and E', () => {
    for (const method of ['R', 'W', 'E', 'RW', 'RE', 'WE', 'RWE']) {
      const doc = modelWith((d) => {
        d.serviceCapabilities[0].properties[0].method = method
      })
      expect(parseProduct(doc).ok, method).toBe(true)
    }
  })

  it.each<[string, unknown, string]>([
    [
      'a missing productId',
      modelWith((d) => {
        delete d.productId
      }),
      '/productId',
    ],
    ['an empty productId', modelWith((d) => (d.productId = '')), '/productId'],
    ['a productId with a slash', modelWith((d) => (d.productId = 'a/b')), '/productId'],
    [
      'missing serviceCapabilities',
      modelWith((d) => {
        delete d.serviceCapabilities
      }),
      '/serviceCapabilities',
    ],
    [
      'a property with an unknown dataType',
      modelWith((d) => (d.serviceCapabilities[0].properties[1].dataType = 'float')),
      '/serviceCapabilities/0/properties/1/dataType',
    ],
    [
      'a command parameter with an unknown dataType',
      modelWith((d) => (d.serviceCapabilities[0].commands[0].paras[1].dataType = 'text')),
      '/serviceCapabilities/0/commands/0/paras/1/dataType',
    ],
    [
      "method 'X'",
      modelWith((d) => (d.serviceCapabilities[1].properties[0].method = 'X')),
      '/serviceCapabilities/1/properties/0/method',
    ],
    [
      "method 'RWX'",
      modelWith((d) => (d.serviceCapabilities[0].properties[2].method = 'RWX')),
      '/serviceCapabilities/0/properties/2/method',
    ],
    [
      'an empty method',
      modelWith((d) => (d.serviceCapabilities[0].properties[2].method = '')),
      '/serviceCapabilities/0/properties/2/method',
    ],
    [
      'a property without method',
      modelWith((d) => {
        delete d.serviceCapabilities[0].properties[3].method
      }),
      '/serviceCapabilities/0/properties/3/method',
    ],
    [
      'a duplicate serviceId',
      modelWith((d) => d.serviceCapabilities.push({ serviceId: 'Load' })),
      '/serviceCapabilities/2/serviceId',
    ],
    [
      'min not numeric',
      modelWith((d) => (d.serviceCapabilities[0].properties[0].min = 'ten')),
      '/serviceCapabilities/0/properties/0/min',
    ],
    [
      'min a number instead of a numeric string',
      modelWith((d) => (d.serviceCapabilities[0].properties[0].min = 0)),
      '/serviceCapabilities/0/properties/0/min',
    ],
    [
      'max not numeric on a parameter',
      modelWith((d) => (d.serviceCapabilities[0].commands[0].paras[0].max = '1e3')),
      '/serviceCapabilities/0/commands/0/paras/0/max',
    ],
    [
      'a negative maxLength',
      modelWith((d) => (d.serviceCapabilities[0].properties[6].maxLength = -1)),
      '/serviceCapabilities/0/properties/6/maxLength',
    ],
    [
      'a service without serviceId',
      modelWith((d) => {
        delete d.serviceCapabilities[1].serviceId
      }),
      '/serviceCapabilities/1/serviceId',
    ],
    [
      'a command without commandName',
      modelWith((d) => {
        delete d.serviceCapabilities[0].commands[1].commandName
      }),
      '/serviceCapabilities/0/commands/1/commandName',
    ],
    ['an unknown top-level field', modelWith((d) => (d.vendor = 'x')), '/vendor'],
  ])('rejects %s, naming %s', (_label, doc, path) => {
    const parsed = parseProduct(doc)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.error.startsWith(`${path}:`), parsed.error).toBe(true)
  })

  it('the duplicate serviceId error names the service', () => {
    const parsed = parseProduct(modelWith((d) => d.serviceCapabilities.push({ serviceId: 'Wind' })))
    expect(parsed).toEqual({ ok: false, error: expect.stringContaining('Wind') })
  })

  it.each([null, undefined, 'crane', 42, [], [fullModel()]])('rejects %j as a whole', (doc) => {
    expect(parseProduct(doc)).toEqual({ ok: false, error: expect.stringMatching(/^\/: /) })
  })
})

describe('lookups', () => {
  it('serviceOf, propertyOf and commandOf find by exact name, case included', () => {
    const product = fullModel()
    expect(serviceOf(product, 'Wind')?.serviceId).toBe('Wind')
    expect(serviceOf(product, 'wind')).toBeUndefined()
    expect(propertyOf(load(), 'weight')?.dataType).toBe('decimal')
    expect(propertyOf(load(), 'Weight')).toBeUndefined()
    expect(commandOf(load(), 'RESET')?.commandName).toBe('RESET')
    expect(commandOf(load(), 'reset')).toBeUndefined()
    // A service without properties or commands has none of either.
    expect(commandOf(serviceOf(product, 'Wind')!, 'SET_LIMIT')).toBeUndefined()
    expect(propertyOf({ serviceId: 'Empty' }, 'x')).toBeUndefined()
  })
})

describe('valueProblem', () => {
  it.each<[string, unknown]>([
    ['count', 0],
    ['count', -10],
    ['count', 100],
    ['total', 2 ** 40],
    ['weight', 0],
    ['weight', 12.5],
    ['weight', 3.25],
    ['ratio', -1e9],
    ['mode', 'auto'],
    ['mode', 'manual'],
    ['label', ''],
    ['label', 'abcde'],
    ['alarm', false],
    ['locked', true],
    ['since', '20240101T120000Z'],
    ['config', { a: 1 }],
    ['config', {}],
    ['samples', []],
    ['samples', [1, 'two']],
  ])('%s accepts %j', (name, value) => {
    expect(valueProblem(property(name), value)).toBeUndefined()
  })

  it.each<[string, unknown, RegExp]>([
    // int and long take integers only; decimal and double take fractions.
    ['count', 1.5, /count must be an integer/],
    ['total', 0.1, /total must be an integer/],
    ['count', '5', /count must be a number/],
    ['weight', '1.5', /weight must be a number/],
    ['ratio', Number.NaN, /ratio must be a number/],
    ['ratio', Number.POSITIVE_INFINITY, /ratio must be a number/],
    ['count', null, /count must be a number/],
    ['weight', true, /weight must be a number/],
    // min and max are inclusive bounds, read as numbers from their strings.
    ['count', -11, /count must be ≥ -10/],
    ['count', 101, /count must be ≤ 100/],
    ['weight', -0.01, /weight must be ≥ 0/],
    ['weight', 12.51, /weight must be ≤ 12.5/],
    // Strings: enumList, maxLength, type.
    ['mode', 'off', /mode must be one of auto, manual/],
    ['mode', 'AUTO', /mode must be one of/],
    ['label', 'abcdef', /label is longer than 5/],
    ['label', 5, /label must be a string/],
    ['since', 1700000000, /since must be a string/],
    // Booleans: true or false, not their look-alikes.
    ['alarm', 1, /alarm must be true or false/],
    ['alarm', 'true', /alarm must be true or false/],
    ['locked', 0, /locked must be true or false/],
    ['config', [1], /config must be a JSON object/],
    ['config', null, /config must be a JSON object/],
    ['config', 'x', /config must be a JSON object/],
    ['samples', { 0: 1 }, /samples must be an array/],
  ])('%s rejects %j', (name, value, message) => {
    expect(valueProblem(property(name), value)).toMatch(message)
  })

  it('an empty enumList allows any string', () => {
    expect(
      valueProblem({ propertyName: 'p', dataType: 'string', method: 'R', enumList: [] }, 'any'),
    ).toBeUndefined()
  })

  it('names a command parameter by its paraName', () => {
    expect(valueProblem({ paraName: 'speed', dataType: 'int', max: '3' }, 4)).toBe('speed must be ≤ 3')
  })
})

describe('reportProblem', () => {
  it('accepts known properties with valid values, a part of them, or none', () => {
    expect(reportProblem(load(), { weight: 3.5, count: 7, alarm: false, mode: 'auto' })).toBeUndefined()
    expect(reportProblem(load(), { limit: 5 })).toBeUndefined()
    expect(reportProblem(load(), {})).toBeUndefined()
  })

  it('takes properties of every access mode: reported data is not limited to E', () => {
    // 'count' is R only, 'label' W only.
    expect(reportProblem(load(), { count: 1, label: 'x' })).toBeUndefined()
  })

  it('an unknown property is named with its service', () => {
    expect(reportProblem(load(), { weight: 1, height: 2 })).toBe(
      'Load.height is not a property of the product',
    )
  })

  it('a bad value is named with its service', () => {
    expect(reportProblem(load(), { weight: 20 })).toBe('Load.weight must be ≤ 12.5')
    expect(reportProblem(load(), { count: 2.5 })).toBe('Load.count must be an integer')
    expect(reportProblem(load(), { alarm: 'yes' })).toBe('Load.alarm must be true or false')
  })

  it('a property of another service is unknown here', () => {
    expect(reportProblem(load(), { speed: 3 })).toMatch(/Load\.speed is not a property/)
  })
})

describe('parasProblem', () => {
  it('accepts the required parameters, with or without the optional ones', () => {
    expect(parasProblem(command('SET_LIMIT'), { limit: 5 })).toBeUndefined()
    expect(parasProblem(command('SET_LIMIT'), { limit: 1, reason: 'wind', unit: 'kg' })).toBeUndefined()
  })

  it('a command without parameters takes none', () => {
    expect(parasProblem(command('RESET'), {})).toBeUndefined()
    expect(parasProblem(command('RESET'), { force: true })).toBe('force is not a parameter of RESET')
  })

  it('a required parameter missing', () => {
    expect(parasProblem(command('SET_LIMIT'), {})).toBe('limit is required')
    expect(parasProblem(command('SET_LIMIT'), { reason: 'x' })).toBe('limit is required')
  })

  it('an unknown parameter', () => {
    expect(parasProblem(command('SET_LIMIT'), { limit: 5, colour: 'red' })).toBe(
      'colour is not a parameter of SET_LIMIT',
    )
  })

  it.each<[Record<string, unknown>, string]>([
    [{ limit: 0 }, 'limit must be ≥ 1'],
    [{ limit: 21 }, 'limit must be ≤ 20'],
    [{ limit: 2.5 }, 'limit must be an integer'],
    [{ limit: '5' }, 'limit must be a number'],
    [{ limit: 5, reason: 'too long now' }, 'reason is longer than 8'],
    [{ limit: 5, unit: 'lb' }, 'unit must be one of t, kg'],
  ])('bad values: %j', (paras, problem) => {
    expect(parasProblem(command('SET_LIMIT'), paras)).toBe(problem)
  })
})
