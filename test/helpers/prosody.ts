// A real Prosody (Debian package) for the safety-call suites: config, data and log in a temp dir, client
// connections on a free loopback port, no server-to-server, no HTTP. Users are registered with prosodyctl.
//
// Authentication is SASL PLAIN over plain TCP (internal_plain, `allow_unencrypted_plain_auth`): the server only
// listens on 127.0.0.1 and the passwords are throwaway, and it keeps the suites independent of certificate
// tooling. `tls: true` gives the server a self-signed certificate (openssl) and requires STARTTLS instead, to
// test the gateway's TLS options.
//
// Root: Prosody refuses to start as root (mod_posix) and prosodyctl switches to the `prosody` user, which could
// not write a root-owned temp dir; `run_as_root = true` is set only when the tests run as root (containers).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { removeDir, tempDir } from './gateway.ts'

export interface ProsodyUser {
  user: string
  host: string
  password: string
}

export interface ProsodyServer {
  port: number
  /** `xmpp://127.0.0.1:{port}` */
  service: string
  dir: string
  /** The self-signed certificate (PEM file) when started with `tls: true`. */
  certFile: string | undefined
  register(user: ProsodyUser): void
  start(): Promise<void>
  /** SIGTERM, and waits for the process to end. */
  stop(): Promise<void>
  /** Stops and starts again: the same port, config and registered users. */
  restart(): Promise<void>
  /** Stops and removes the temp dir. */
  close(): Promise<void>
  log(): string
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

const lua = (s: string) => JSON.stringify(s)

/** Starts Prosody serving `hosts` with `users` registered. */
export async function startProsody(opts: {
  hosts: string[]
  users: ProsodyUser[]
  tls?: boolean
}): Promise<ProsodyServer> {
  const dir = tempDir('sitegate-prosody-')
  const port = await freePort()
  const data = join(dir, 'data')
  const certs = join(dir, 'certs')
  mkdirSync(data, { mode: 0o700 })
  mkdirSync(certs)
  let certFile: string | undefined
  let keyFile: string | undefined
  if (opts.tls) {
    certFile = join(certs, 'server.crt')
    keyFile = join(certs, 'server.key')
    // One certificate naming every virtual host (RFC 6120 §13.7.2.1: the client checks the XMPP domain).
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${opts.hosts[0]}`,
        '-addext',
        `subjectAltName=${opts.hosts.map((h) => `DNS:${h}`).join(',')}`,
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    )
  }
  const configFile = join(dir, 'prosody.cfg.lua')
  const logFile = join(dir, 'prosody.log')
  const lines = [
    ...(process.getuid?.() === 0 ? ['run_as_root = true'] : []),
    `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
    `data_path = ${lua(data)}`,
    `certificates = ${lua(certs)}`,
    'daemonize = false',
    'interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${port} }`,
    'c2s_direct_tls_ports = {}',
    's2s_ports = {}',
    's2s_direct_tls_ports = {}',
    'http_ports = {}',
    'https_ports = {}',
    // mod_tls only with a certificate: @xmpp/client takes STARTTLS whenever it is offered.
    `modules_enabled = { "roster", "saslauth", "disco", "ping", "posix"${opts.tls ? ', "tls"' : ''} }`,
    // No offline storage: a call to a helmet that is not connected must bounce (and fail), not ring the next
    // time the helmet connects (issue 7 item 5). Prosody's mod_offline ignores the XEP-0334 no-store hint.
    'modules_disabled = { "s2s", "offline" }',
    'authentication = "internal_plain"',
    ...(opts.tls
      ? ['c2s_require_encryption = true', `ssl = { certificate = ${lua(certFile!)}, key = ${lua(keyFile!)} }`]
      : ['c2s_require_encryption = false', 'allow_unencrypted_plain_auth = true']),
    `log = { { levels = { min = "info" }, to = "file", filename = ${lua(logFile)} } }`,
    ...opts.hosts.map((h) => `VirtualHost ${lua(h)}`),
    '',
  ]
  writeFileSync(configFile, lines.join('\n'))

  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let output = ''

  const server: ProsodyServer = {
    port,
    service: `xmpp://127.0.0.1:${port}`,
    dir,
    certFile,
    register(u) {
      execFileSync('prosodyctl', ['--config', configFile, 'register', u.user, u.host, u.password], {
        stdio: 'pipe',
      })
    },
    async start() {
      output = ''
      const proc = spawn('prosody', ['--config', configFile, '-F'], { stdio: ['ignore', 'pipe', 'pipe'] })
      child = proc
      proc.stdout?.on('data', (c: Buffer) => {
        output += c.toString()
      })
      proc.stderr?.on('data', (c: Buffer) => {
        output += c.toString()
      })
      exited = new Promise((resolve) => proc.once('exit', () => resolve()))
      const deadline = Date.now() + 15_000
      while (!(await canConnect(port))) {
        if (proc.exitCode !== null || Date.now() > deadline) {
          throw new Error(`prosody did not start:\n${output}\n${server.log()}`)
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async stop() {
      const proc = child
      if (!proc || proc.exitCode !== null) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
      child = undefined
    },
    async restart() {
      await server.stop()
      await server.start()
    },
    async close() {
      await server.stop()
      removeDir(dir)
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8')
      } catch {
        return ''
      }
    },
  }
  for (const u of opts.users) server.register(u)
  await server.start()
  return server
}
