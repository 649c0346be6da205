// Valid examples of each wire format (from the spec digest) that the generators mutate.
import { stringify as toYaml } from 'yaml'

const NOW_S = () => Math.floor(Date.now() / 1000)

export const DEVICE_REQS: unknown[] = [
  {
    msgType: 'deviceReq',
    data: [
      { serviceId: 'Environment', serviceData: { pm25: 31, noise: 61.2 }, eventTime: '20261124T101500Z' },
    ],
  },
  {
    msgType: 'deviceReq',
    data: [
      { serviceId: 'Power', serviceData: { kw: 12.5, phase: 'L1', on: true } },
      {
        serviceId: 'Meter',
        serviceData: { seq: 1, nested: { a: [1, 2, 3] } },
        eventTime: '20260102T030405Z',
      },
    ],
  },
  { msgType: 'deviceRsp', mid: 4711, errcode: 0, body: { result: 0 } },
]

export const INVOKE_REPLIES: unknown[] = [
  { id: '1700000000001', code: 200, msg: 'success', data: { level: 3 } },
  { id: 42, code: 500, msg: 'busy' },
]

export function cameraFrames(sn: string): unknown[] {
  const base = { request_id: 'a1b2c3', timestamp: NOW_S(), sn }
  return [
    { operate: 'heartbeat', ...base },
    // A 4-byte JPEG header, base64.
    { operate: 'upload_snapshot', ...base, data: '/9j/4AAQ' },
    { operate: 'get_dev_config_rsp', request_id: 'r1', sn, ret: 0, msg: '', hb_interval: 60, upload_type: 1 },
    { operate: 'control_cmd_rsp', request_id: 'r2', sn, ret: 1, msg: 'no' },
  ]
}

export function cloudRequests(deviceId: string): unknown[] {
  return [
    { msgType: 'cloudReq', deviceId, serviceId: 'Switch', cmd: 'ON', paras: { level: 3 }, mid: 4711 },
    {
      msgType: 'cloudReq',
      deviceId,
      serviceId: 'Environment',
      cmd: 'SET_DESIRED',
      paras: { pm25Max: 50 },
      mid: 2,
    },
  ]
}

export const ONEJSON_INVOKES: unknown[] = [
  {
    id: '1700000000002',
    version: '1.0',
    params: { deviceId: 'd1', serviceId: 'Switch', paras: { on: true } },
  },
]

export const CONFIG_FILES: string[] = [
  toYaml({
    dataDir: '/var/lib/sitegate',
    mqtt: { port: 1883, wsPort: false },
    http: { port: 8080, httpsPort: 8743, throttle: { maxCalls: 100, windowSeconds: 60 } },
    apps: [{ appId: 'site-office', secret: 'change-me-to-something-long' }],
  }),
  toYaml({
    upstream: {
      url: 'mqtts://cloud.example.com:8883',
      profile: 'platform',
      deviceId: 'gw1',
      secret: 's',
      quota: { maxBytes: 1000, lanes: { telemetry: { maxAgeSeconds: 60 } } },
    },
    store: { synchronous: 'NORMAL' },
    ingest: { maxBatch: 100 },
  }),
  toYaml({
    serial: {
      ports: [
        {
          path: '/dev/ttyUSB0',
          baudRate: 9600,
          slaves: [
            {
              unitId: 1,
              nodeId: 'dust-1',
              points: [
                { name: 'pm25', serviceId: 'Dust', function: 'holding', address: 0, dataType: 'float32' },
              ],
            },
          ],
        },
      ],
    },
  }),
]
