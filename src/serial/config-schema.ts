// The `serial:` section of the config file (README "Serial instruments"): RS-485 ports, the Modbus RTU slaves on
// each bus, and every slave's register map. Optional keys are filled in by config.ts (`resolveSerial`), because
// the config loader's deep merge does not reach into array items.
import { Type } from '@sinclair/typebox'

const oneOf = <T extends string | number>(values: readonly T[], description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  )

export const POINT_FUNCTIONS = ['coil', 'discrete', 'holding', 'input'] as const
export const DATA_TYPES = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32'] as const
export const PARITIES = ['none', 'even', 'odd', 'mark', 'space'] as const

/** A name the platform protocol can carry as a serviceId or property name. */
const Name = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: 'a name of 1-64 letters, digits, _ . -',
})

const SerialPoint = Type.Object(
  {
    /** The property name in the service's reported (and desired) section. */
    name: Name,
    /** The service the property belongs to; the slave's serviceId when left out. */
    serviceId: Type.Optional(Name),
    /** Modbus table: coils (FC 1/5/15), discrete inputs (FC 2), holding registers (FC 3/6/16), input registers (FC 4). */
    function: oneOf(POINT_FUNCTIONS, `one of ${POINT_FUNCTIONS.join(', ')}`),
    /** Zero-based protocol address of the first coil or register. */
    address: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** Values read as one point (more than 1 gives an array); default 1. */
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 125 })),
    /** Default: bool for coils and discrete inputs, uint16 for registers. */
    dataType: Type.Optional(oneOf(DATA_TYPES, `one of ${DATA_TYPES.join(', ')}`)),
    /** Register order of a 32-bit value: big = high word first (ABCD), little = low word first (CDAB). */
    wordOrder: Type.Optional(oneOf(['big', 'little'], 'big or little')),
    /** Byte order inside each register: big = as Modbus sends it, little = swapped (BADC / DCBA). */
    byteOrder: Type.Optional(oneOf(['big', 'little'], 'big or little')),
    /** value = raw × scale + offset (and raw = (value − offset) / scale on writes). */
    scale: Type.Optional(Type.Number()),
    offset: Type.Optional(Type.Number()),
    /** Poll interval; default the slave's pollMs. */
    pollMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 86_400_000 })),
    /** Desired values and commands may write it (coils and holding registers only). */
    writable: Type.Optional(Type.Boolean()),
    /** Write with FC 15/16 even a single coil or register (devices that do not implement FC 5/6). */
    writeMultiple: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

const SerialSlave = Type.Object(
  {
    /** Modbus unit id on the bus. */
    unitId: Type.Integer({ minimum: 1, maximum: 247 }),
    /** The device's nodeId in the registry: it is registered with it on first start. */
    nodeId: Type.String({ minLength: 1, maxLength: 256 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    deviceType: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    manufacturerName: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** The service of points that name none. */
    serviceId: Type.Optional(Name),
    /** Default poll interval of its points; default 1000. */
    pollMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 86_400_000 })),
    /** Wait this long for a response; default 500. */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000 })),
    /** Attempts after a timeout or corrupted response before a request counts as failed; default 1. */
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
    /** Failed requests in a row that quarantine the slave; default 3. */
    quarantineAfter: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    /** First re-probe of a quarantined slave after this long, doubling up to reprobeMaxMs; defaults 5000, 60000. */
    reprobeMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 3_600_000 })),
    reprobeMaxMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 86_400_000 })),
    points: Type.Array(SerialPoint, { minItems: 1, maxItems: 1000 }),
  },
  { additionalProperties: false },
)

const SerialPortConfig = Type.Object(
  {
    /** Preferably /dev/serial/by-id/…: stable across reboots and re-plugging. */
    path: Type.String({ minLength: 1, maxLength: 4096 }),
    baudRate: Type.Optional(Type.Integer({ minimum: 50, maximum: 4_000_000 })),
    dataBits: Type.Optional(oneOf([5, 6, 7, 8], '5, 6, 7 or 8')),
    parity: Type.Optional(oneOf(PARITIES, `one of ${PARITIES.join(', ')}`)),
    stopBits: Type.Optional(oneOf([1, 1.5, 2], '1, 1.5 or 2')),
    /** Silence between the end of one exchange and the next frame; default 3.5 character times (§2.5.1.1). */
    turnaroundMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    /** Reopening a lost port: first wait, doubling up to the max; defaults 500, 30000. */
    reopenMinMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000 })),
    reopenMaxMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 3_600_000 })),
    slaves: Type.Array(SerialSlave, { minItems: 1, maxItems: 247 }),
  },
  { additionalProperties: false },
)

export const SerialConfigSchema = Type.Object(
  {
    /** The application that owns the configured devices; default the oldest application. */
    appId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    ports: Type.Array(SerialPortConfig, { maxItems: 64 }),
  },
  { additionalProperties: false },
)
