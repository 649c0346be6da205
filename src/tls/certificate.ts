// The one certificate of the TLS listeners (MQTTS, HTTPS): the configured tls.cert/tls.key, or a self-signed
// one made on first start and kept in the data directory, so that devices can pin it.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { networkInterfaces, hostname as osHostname } from 'node:os'
import { resolve } from 'node:path'
import { ConfigError } from '../config/load.ts'
import { dataPaths } from '../config/paths.ts'
import type { GatewayConfig } from '../config/schema.ts'
import type { Logger } from '../logger.ts'

/** A made certificate is valid this long: a pinned certificate should not need replacing for years. */
export const SELF_SIGNED_DAYS = 3650

export interface TlsMaterial {
  cert: Buffer
  key: Buffer
  certFile: string
  keyFile: string
  /** SHA-256 of the (leaf) certificate's DER, colon-separated hex as `openssl x509 -fingerprint -sha256`. */
  fingerprint256: string
  /** Names and addresses the certificate is valid for, as X509Certificate.subjectAltName reports them. */
  subjectAltName: string | undefined
  validTo: string
  /** configured: tls.cert/tls.key; created: made on this start; kept: made on an earlier start. */
  source: 'configured' | 'created' | 'kept'
}

/** Whether any listener needs the certificate. */
export function tlsNeeded(config: Readonly<GatewayConfig>): boolean {
  return config.mqtt.tlsPort !== false || config.http.httpsPort !== false
}

/**
 * The certificate for the TLS listeners, or undefined when none is enabled. Configured files win and are checked
 * here (a ConfigError naming tls.cert or tls.key when one cannot be read, does not parse or does not match);
 * otherwise the self-signed certificate in DATA_DIR/tls is used, made first when there is none.
 */
export async function resolveTls(
  config: Readonly<GatewayConfig>,
  log: Logger,
  now: Date = new Date(),
): Promise<TlsMaterial | undefined> {
  if (!tlsNeeded(config)) return undefined
  const material =
    config.tls.cert !== undefined && config.tls.key !== undefined
      ? loadConfigured(resolve(config.tls.cert), resolve(config.tls.key))
      : await ensureSelfSigned(resolve(config.dataDir), log, now, config.host)
  if (material.source === 'configured' && Date.parse(material.validTo) < now.getTime()) {
    log.warn(
      { certFile: material.certFile, validTo: material.validTo },
      `TLS certificate ${material.certFile} expired on ${material.validTo}: clients that check dates will refuse it`,
    )
  }
  const what = {
    configured: 'configured TLS certificate',
    created: 'created a self-signed TLS certificate:',
    kept: 'self-signed TLS certificate',
  }[material.source]
  log.info(
    {
      certFile: material.certFile,
      fingerprint256: material.fingerprint256,
      subjectAltName: material.subjectAltName,
      validTo: material.validTo,
      source: material.source,
    },
    `${what} ${material.certFile}, SHA-256 fingerprint ${material.fingerprint256}`,
  )
  return material
}

function loadConfigured(certFile: string, keyFile: string): TlsMaterial {
  const cert = readOrFail('tls.cert', certFile)
  const key = readOrFail('tls.key', keyFile)
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw new ConfigError(`tls.cert: ${certFile} is not a PEM certificate (${(err as Error).message})`)
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw new ConfigError(
      `tls.key: ${keyFile} is not an unencrypted PEM private key (${(err as Error).message})`,
    )
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new ConfigError(`tls.key: ${keyFile} is not the private key of the certificate in ${certFile}`)
  return describe(x509, { cert, key, certFile, keyFile, source: 'configured' })
}

function readOrFail(configKey: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw new ConfigError(`${configKey}: ${file} cannot be read (${(err as Error).message})`)
  }
}

function describe(
  x509: X509Certificate,
  rest: Pick<TlsMaterial, 'cert' | 'key' | 'certFile' | 'keyFile' | 'source'>,
): TlsMaterial {
  return {
    ...rest,
    fingerprint256: x509.fingerprint256,
    subjectAltName: x509.subjectAltName,
    validTo: new Date(x509.validTo).toISOString(),
  }
}

/** The kept certificate when it is whole, matching and not expired; a new one otherwise. */
async function ensureSelfSigned(dataDir: string, log: Logger, now: Date, host: string): Promise<TlsMaterial> {
  const paths = dataPaths(dataDir)
  const kept = readKept(paths.tlsCert, paths.tlsKey, now)
  if (kept.material) return kept.material
  if (kept.problem) {
    log.warn(
      { certFile: paths.tlsCert, problem: kept.problem },
      `the self-signed TLS certificate in ${paths.tls} ${kept.problem}: making a new one (its fingerprint changes; re-pin it on the devices)`,
    )
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  mkdirSync(paths.tls, { recursive: true, mode: 0o700 })
  chmodSync(paths.tls, 0o700)
  const names = certificateNames(host)
  // Loaded only here: the generator and its ASN.1 libraries cost ~5 MiB of heap, and the certificate is made once.
  const { default: selfsigned } = await import('selfsigned')
  const generated = await selfsigned.generate(
    [
      { name: 'commonName', value: names.dns[0] ?? 'localhost' },
      { name: 'organizationName', value: 'sitegate' },
    ],
    {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 60 * 60 * 1000), // an hour of clock skew on the devices
      notAfterDate: new Date(now.getTime() + SELF_SIGNED_DAYS * 24 * 60 * 60 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            ...names.dns.map((value) => ({ type: 2 as const, value })),
            ...names.ips.map((ip) => ({ type: 7 as const, ip })),
          ],
        },
      ],
    },
  )
  // The key first, then the certificate: a start that finds a certificate finds its key beside it.
  writeAtomically(paths.tlsKey, generated.private, 0o600)
  writeAtomically(paths.tlsCert, generated.cert, 0o644)
  return describe(new X509Certificate(generated.cert), {
    cert: Buffer.from(generated.cert),
    key: Buffer.from(generated.private),
    certFile: paths.tlsCert,
    keyFile: paths.tlsKey,
    source: 'created',
  })
}

function readKept(
  certFile: string,
  keyFile: string,
  now: Date,
): { material?: TlsMaterial; problem?: string } {
  const hasCert = existsSync(certFile)
  const hasKey = existsSync(keyFile)
  if (!hasCert && !hasKey) return {}
  if (!hasCert || !hasKey) return { problem: `has no ${hasCert ? 'key.pem' : 'cert.pem'}` }
  try {
    const cert = readFileSync(certFile)
    const key = readFileSync(keyFile)
    const x509 = new X509Certificate(cert)
    if (!x509.checkPrivateKey(createPrivateKey(key))) return { problem: 'does not match its key' }
    if (Date.parse(x509.validTo) <= now.getTime()) return { problem: `expired on ${x509.validTo}` }
    // Only the owner may read the key, whatever happened to the file since.
    chmodSync(keyFile, 0o600)
    return { material: describe(x509, { cert, key, certFile, keyFile, source: 'kept' }) }
  } catch (err) {
    return { problem: `cannot be used (${(err as Error).message})` }
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, text, { mode })
  chmodSync(temp, mode)
  renameSync(temp, file)
}

/**
 * What the certificate is valid for: localhost and this host's name (and NAME.local, mDNS), loopback and the
 * addresses the host has now (and the bind address when it is a specific one), so that a device pinning the
 * certificate as its CA also passes the host name check when it connects by any of these.
 */
export function certificateNames(host: string): { dns: string[]; ips: string[] } {
  const dns = new Set<string>()
  const name = osHostname().trim().toLowerCase()
  if (name && /^[a-z0-9.-]+$/.test(name) && name !== 'localhost') {
    dns.add(name)
    if (!name.includes('.')) dns.add(`${name}.local`)
  }
  dns.add('localhost')
  const ips = new Set<string>(['127.0.0.1', '::1'])
  if (host !== '0.0.0.0' && host !== '::' && /^[0-9a-f:.]+$/i.test(host)) ips.add(host)
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      // Link-local IPv6 addresses carry a zone and change with the interface: not worth naming.
      if (addr.internal || (addr.family === 'IPv6' && addr.address.toLowerCase().startsWith('fe80'))) continue
      ips.add(addr.address)
    }
  }
  return { dns: [...dns], ips: [...ips] }
}
