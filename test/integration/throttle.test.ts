// §1.5 over real HTTP: the application's calls beyond the limit get 403 1010009 until the window moves on.
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  type AppSession,
  callApi,
  firstApp,
  login,
  type RunningGateway,
  removeDir,
  startGateway,
} from '../helpers/gateway.ts'
import { waitFor } from '../helpers/mqtt.ts'

let gw: RunningGateway
let session: AppSession
beforeAll(async () => {
  gw = await startGateway({
    config: (c) => {
      c.http.throttle = { maxCalls: 3, windowSeconds: 2 }
    },
  })
  session = await login(gw.httpUrl, firstApp(gw.dataDir))
})
afterAll(async () => {
  await gw.stop()
  removeDir(gw.dataDir)
})

it('the 4th call within the window is refused with 403 1010009, and allowed again later', async () => {
  const call = () => callApi(gw.httpUrl, session, 'GET', '/iocm/app/sub/v1.2.0/subscriptions')
  for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200)
  expect(await call()).toEqual({
    status: 403,
    body: { error_code: '1010009', error_desc: 'app throttle exceed.' },
  })
  await waitFor(async () => (await call()).status === 200, 'the window to move on')
})
