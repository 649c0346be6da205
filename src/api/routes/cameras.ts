import { createReadStream } from 'node:fs'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { FirmwareStore } from '../../cameras/firmware-store.ts'
import type { CameraService } from '../../cameras/service.ts'
import type { SnapshotStore } from '../../cameras/snapshot-store.ts'
import type { DeviceRegistry } from '../../devices/registry.ts'
import { PlatformError } from '../../errors.ts'
import type { Store } from '../../store/index.ts'
import type { FirmwareRow, SnapshotRow } from '../../store/repos/cameras.ts'
import { toPlatformTime } from '../../time.ts'
import { numbersInQuery } from './commands.ts'
import { timeBound } from './history.ts'

export interface CameraApiDeps {
  cameras: CameraService
  snapshots: SnapshotStore
  firmware: FirmwareStore
  registry: DeviceRegistry
  store: Store
  /** Largest camera POST body: a base64 image of cameras.maxImageBytes and then some (see below). */
  uploadBodyLimit: number
  maxFirmwareBytes: number
}

/** The camera upload endpoint: a camera's `upload_addr` for upload_type 0 (README "Cameras"). */
export const CAMERA_UPLOAD_PATH = '/cameras/v1/upload'

const SnapshotParams = Type.Object({ deviceId: Type.String({ minLength: 1, maxLength: 64 }) })
const OneSnapshotParams = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 64 }),
  snapshotId: Type.String({ minLength: 1, maxLength: 64 }),
})
const SnapshotQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  startTime: Type.Optional(Type.String()),
  endTime: Type.Optional(Type.String()),
  pageNo: Type.Optional(Type.Integer({ minimum: 0 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 250 })),
})
const PackageParams = Type.Object({ packageId: Type.String({ minLength: 1, maxLength: 64 }) })
const UploadQuery = Type.Object({
  appId: Type.Optional(Type.String()),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
})

const snapshotView = (r: SnapshotRow) => ({
  snapshotId: r.snapshot_id,
  deviceId: r.device_id,
  time: toPlatformTime(r.taken_at),
  receivedTime: toPlatformTime(r.received_at),
  size: r.size,
  sha256: r.sha256,
  contentType: r.content_type,
  source: r.source,
})

const firmwareView = (r: FirmwareRow) => ({
  packageId: r.package_id,
  name: r.name,
  size: r.size,
  sha256: r.sha256,
  createdTime: toPlatformTime(r.created_at),
})

/** HTTP Basic credentials of a request, if it has well-formed ones. */
function basicCredentials(request: FastifyRequest): { user: string; password: string } | undefined {
  const header = request.headers.authorization
  if (!header?.startsWith('Basic ')) return undefined
  const text = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = text.indexOf(':')
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

/**
 * Cameras over HTTP: the upload endpoint cameras POST their messages to (upload_type 0, C.5: the same JSON as
 * over MQTT, the `_rsp` in the response), the firmware packages they download (C.8 package_url), and the
 * admin API for snapshots and packages (application credentials, like the platform API).
 */
export async function cameraRoutes(app: FastifyInstance, deps: CameraApiDeps): Promise<void> {
  const { cameras, snapshots, firmware, registry, store } = deps

  await app.register(async (scope) => {
    // Cameras send whatever content type their firmware sets (often none or text/plain): the body is read as
    // text and checked as camera JSON, so a bad one gets a camera reply with a non-zero ret.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: deps.uploadBodyLimit },
      (_req, body, done) => done(null, body),
    )
    scope.post(
      CAMERA_UPLOAD_PATH,
      { config: { auth: false }, bodyLimit: deps.uploadBodyLimit, schema: { tags: ['cameras'] } },
      async (request, reply) => {
        const text = typeof request.body === 'string' ? request.body : ''
        const outcome = await cameras.receive(text, {
          transport: 'http',
          basic: basicCredentials(request),
          baseUrl: `${request.protocol}://${request.host}`,
        })
        const body: Record<string, unknown> = outcome.reply
          ? { ...outcome.reply }
          : { ret: outcome.ret, msg: outcome.msg }
        // Requests waiting for this camera ride in the response (HTTP cameras cannot be called).
        const items = outcome.deviceId ? await cameras.requestsFor(outcome.deviceId) : []
        if (items.length > 0) body.requests = items.map((i) => i.request)
        await reply.type('application/json; charset=utf-8').send(body)
        if (outcome.deviceId && items.length > 0) cameras.handedOver(outcome.deviceId, items)
        return reply
      },
    )
  })

  app.get(
    '/cameras/v1/firmware/:packageId',
    { config: { auth: false }, schema: { params: PackageParams, tags: ['cameras'] } },
    async (request, reply) => {
      const { packageId } = request.params as Static<typeof PackageParams>
      const row = firmware.get(packageId)
      if (!row) throw new PlatformError('100225', `no firmware package ${packageId}`)
      return reply
        .type('application/octet-stream')
        .header('content-length', row.size)
        .header('content-disposition', `attachment; filename="${row.name.replace(/["\\\r\n]/g, '_')}"`)
        .send(createReadStream(firmware.pathOf(row)))
    },
  )

  await app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/octet-stream',
      { parseAs: 'buffer', bodyLimit: deps.maxFirmwareBytes },
      (_req, body, done) => done(null, body),
    )
    scope.post(
      '/sitegate/v1/cameras/firmware',
      { bodyLimit: deps.maxFirmwareBytes, schema: { querystring: UploadQuery, tags: ['cameras'] } },
      async (request, reply) => {
        const { name } = request.query as Static<typeof UploadQuery>
        if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
          throw new PlatformError('50400', 'the body must be the package bytes (application/octet-stream)')
        }
        const row = await firmware.add(name ?? 'firmware.bin', request.body)
        return reply.status(201).send(firmwareView(row))
      },
    )
  })

  app.get('/sitegate/v1/cameras/firmware', { schema: { tags: ['cameras'] } }, async () => ({
    packages: firmware.list().map(firmwareView),
  }))

  app.delete(
    '/sitegate/v1/cameras/firmware/:packageId',
    { schema: { params: PackageParams, tags: ['cameras'] } },
    async (request, reply) => {
      const { packageId } = request.params as Static<typeof PackageParams>
      if (!(await firmware.remove(packageId)))
        throw new PlatformError('100225', `no firmware package ${packageId}`)
      return reply.status(204).send()
    },
  )

  app.get(
    '/sitegate/v1/cameras/:deviceId/snapshots',
    {
      schema: { params: SnapshotParams, querystring: SnapshotQuery, tags: ['cameras'] },
      preValidation: async (request) =>
        numbersInQuery(request.query as Record<string, unknown>, { pageNo: true, pageSize: true }),
    },
    async (request) => {
      const { deviceId } = request.params as Static<typeof SnapshotParams>
      const q = request.query as Static<typeof SnapshotQuery>
      registry.getForApp(request.appId, deviceId)
      const from = timeBound('startTime', q.startTime) ?? 0
      const to = timeBound('endTime', q.endTime) ?? Number.MAX_SAFE_INTEGER
      const pageNo = q.pageNo ?? 0
      const pageSize = q.pageSize ?? 25
      const range = { deviceId, from, to }
      return {
        totalCount: store.cameras.countInRange(range),
        pageNo,
        pageSize,
        snapshots: store.cameras
          .page({ ...range, limit: pageSize, offset: pageNo * pageSize })
          .map(snapshotView),
      }
    },
  )

  app.get(
    '/sitegate/v1/cameras/:deviceId/snapshots/:snapshotId',
    { schema: { params: OneSnapshotParams, tags: ['cameras'] } },
    async (request, reply) => {
      const { deviceId, snapshotId } = request.params as Static<typeof OneSnapshotParams>
      registry.getForApp(request.appId, deviceId)
      const row = snapshots.get(snapshotId)
      const image = row?.device_id === deviceId ? await snapshots.read(snapshotId) : undefined
      if (!image)
        throw new PlatformError('100225', `no snapshot ${snapshotId} of this camera (unknown or evicted)`)
      return reply
        .type(image.contentType)
        .header('x-snapshot-sha256', row?.sha256 ?? '')
        .send(image.bytes)
    },
  )
}
