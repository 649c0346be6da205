// The `xmpp:` config section (issue 7): validated with the rest of the config, defaults applied by xmppSettings.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config/load.ts'
import { xmppSettings } from '../../src/safety/config.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

const dir = tempDir('sitegate-xmpp-config-')
afterAll(() => removeDir(dir))

let n = 0
function load(yaml: string) {
  n += 1
  const file = join(dir, `c${n}.yaml`)
  writeFileSync(file, yaml)
  return loadConfig({ configFile: file }, {})
}
function error(yaml: string): string {
  try {
    load(yaml)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('expected a ConfigError')
}

const MINIMAL = 'xmpp:\n  service: xmpp://openfire.site.lan:5222\n  username: sitegate\n  password: pw\n'

describe('xmpp config', () => {
  it('is off unless configured', () => {
    expect(loadConfig({}, {}).xmpp).toBeUndefined()
  })

  it('needs only service, username and password; the rest has defaults', () => {
    const s = xmppSettings(load(MINIMAL).xmpp!)
    expect(s).toMatchObject({
      service: 'xmpp://openfire.site.lan:5222',
      domain: 'openfire.site.lan',
      resource: 'sitegate',
      tls: { ca: undefined, rejectUnauthorized: true },
      propertiesNamespace: undefined,
      defaultNamespace: 'http://openfire.site.lan/xmlns/xmpp/properties',
      requestReceipts: true,
      callTimeoutMs: 60_000,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 30_000 },
      directive: 'qc-intellect-equip-remote-invite',
      callText: '智能设备远端呼叫',
    })
  })

  it('reads allowed JIDs, lower-cased, whole domains apart', () => {
    const s = xmppSettings(
      load(`${MINIMAL}  allowedJids: ["759646@SaasGroupChat.Site.Lan", "*@helmets.site.lan"]\n`).xmpp!,
    )
    expect([...s.allowedJids]).toEqual(['759646@saasgroupchat.site.lan'])
    expect([...s.allowedDomains]).toEqual(['helmets.site.lan'])
  })

  it.each([
    [
      'a service that is not xmpp(s)://host:port',
      MINIMAL.replace('xmpp://openfire.site.lan:5222', 'http://x'),
      /xmpp\.service: expected xmpp:\/\/host:port/,
    ],
    ['an unknown key', `${MINIMAL}  colour: red\n`, /xmpp\.colour: unknown key/],
    ['no password', MINIMAL.replace('  password: pw\n', ''), /xmpp\.password/],
    [
      'a bad properties namespace',
      `${MINIMAL}  propertiesNamespace: http://x/other\n`,
      /xmpp\.propertiesNamespace/,
    ],
  ])('refuses %s', (_what, yaml, message) => {
    expect(error(yaml)).toMatch(message)
  })

  it('refuses an allowed JID that is not one, and a CA file it cannot read, naming the key', () => {
    expect(() => xmppSettings(load(`${MINIMAL}  allowedJids: ["no-at-sign"]\n`).xmpp!)).toThrow(
      /xmpp\.allowedJids: "no-at-sign" is not a bare JID/,
    )
    expect(() => xmppSettings(load(`${MINIMAL}  tls: { ca: ${join(dir, 'missing.pem')} }\n`).xmpp!)).toThrow(
      /xmpp\.tls\.ca: cannot read/,
    )
  })
})
