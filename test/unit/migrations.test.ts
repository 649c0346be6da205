import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/store/db.ts'
import { createStore } from '../../src/store/index.ts'
import { knownMigrations, type Migration, MigrationError, migrate } from '../../src/store/migrate.ts'
import { removeDir, tempDir } from '../helpers/gateway.ts'

const dir = tempDir('sitegate-migrations-')
afterAll(() => removeDir(dir))

let n = 0
/** A fresh database path in the temp dir (a sub-directory, to check it is created). */
const freshPath = (): string => {
  n += 1
  return join(dir, `case-${n}`, 'sitegate.db')
}

const open: Database[] = []
/** Tracks a handle so that afterEach closes it even when an assertion fails. */
function track(db: Database): Database {
  open.push(db)
  return db
}
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close()
})

/** The versions this build ships (001_init, 002_telemetry_chunks, ...). */
const SHIPPED = knownMigrations().map((mig) => mig.version)

const appliedVersions = (db: Database): number[] =>
  db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[]

const tableExists = (db: Database, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined

describe('openDatabase', () => {
  it('creates the file in WAL mode with synchronous FULL and applies every shipped migration', () => {
    const file = freshPath()
    const db = track(openDatabase(file))
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('synchronous', { simple: true })).toBe(2)
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(appliedVersions(db)).toEqual(SHIPPED)
    expect(db.prepare('SELECT name FROM schema_migrations WHERE version = 1').pluck().get()).toBe('init')
    for (const table of ['applications', 'app_tokens', 'devices']) expect(tableExists(db, table)).toBe(true)
  })

  it('synchronous NORMAL when asked (pragma value 1)', () => {
    const db = track(openDatabase(freshPath(), { synchronous: 'NORMAL' }))
    expect(db.pragma('synchronous', { simple: true })).toBe(1)
  })

  it('the database file is readable by its owner only (it holds device secrets)', () => {
    const file = freshPath()
    track(openDatabase(file))
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })

  it('reopening applies nothing new and keeps the data', () => {
    const file = freshPath()
    const first = track(openDatabase(file))
    first.prepare("INSERT INTO meta (key, value) VALUES ('site', 'north')").run()
    const appliedAt = first.prepare('SELECT applied_at FROM schema_migrations').pluck().get()
    first.close()

    const again = track(openDatabase(file))
    expect(migrate(again)).toEqual([])
    expect(appliedVersions(again)).toEqual(SHIPPED)
    expect(again.prepare('SELECT applied_at FROM schema_migrations').pluck().get()).toBe(appliedAt)
    expect(again.prepare("SELECT value FROM meta WHERE key = 'site'").pluck().get()).toBe('north')
  })

  it('refuses a database written by a newer build (an unknown migration recorded)', () => {
    const file = freshPath()
    const db = track(openDatabase(file))
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run()
    db.close()

    let error: unknown
    try {
      track(openDatabase(file))
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(MigrationError)
    expect((error as Error).message).toContain('999_future')
    expect((error as Error).message).toContain('does not know')

    // Nothing was changed by the refused open: the record is still there for the newer build.
    const raw = track(new BetterSqlite3(file, { readonly: true }))
    expect(appliedVersions(raw)).toEqual([...SHIPPED, 999])
  })
})

describe('migrate with a custom list', () => {
  const m = (version: number, name: string, sql: string): Migration => ({ version, name, sql })
  const rawDb = (): Database => {
    const file = freshPath()
    mkdirSync(dirname(file), { recursive: true })
    return track(new BetterSqlite3(file))
  }

  it('applies them in order and records each', () => {
    const db = rawDb()
    const applied = migrate(db, [
      m(1, 'one', 'CREATE TABLE a (x INTEGER) STRICT;'),
      m(2, 'two', 'INSERT INTO a (x) VALUES (2);'),
      m(3, 'three', 'ALTER TABLE a ADD COLUMN y TEXT; UPDATE a SET y = x * 10;'),
    ])
    expect(applied).toEqual([1, 2, 3])
    expect(db.prepare('SELECT x, y FROM a').all()).toEqual([{ x: 2, y: '20' }])
    expect(db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all()).toEqual([
      { version: 1, name: 'one' },
      { version: 2, name: 'two' },
      { version: 3, name: 'three' },
    ])
  })

  it('applies only the missing ones on a later run', () => {
    const db = rawDb()
    const list = [m(1, 'one', 'CREATE TABLE a (x INTEGER) STRICT;')]
    expect(migrate(db, list)).toEqual([1])
    expect(migrate(db, [...list, m(2, 'two', 'INSERT INTO a VALUES (1);')])).toEqual([2])
    expect(db.prepare('SELECT count(*) FROM a').pluck().get()).toBe(1)
  })

  it('a failing migration keeps the earlier ones, is itself rolled back and not recorded', () => {
    const db = rawDb()
    const good = [m(1, 'one', 'CREATE TABLE a (x INTEGER) STRICT;'), m(2, 'two', 'INSERT INTO a VALUES (1);')]
    const failing = m(
      3,
      'three',
      'CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (3); INSERT INTO nowhere VALUES (1);',
    )
    const after = m(4, 'four', 'CREATE TABLE c (z INTEGER);')

    expect(() => migrate(db, [...good, failing, after])).toThrow(/nowhere/)
    expect(appliedVersions(db)).toEqual([1, 2])
    expect(db.prepare('SELECT x FROM a').pluck().all()).toEqual([1])
    expect(tableExists(db, 'b')).toBe(false)
    expect(tableExists(db, 'c')).toBe(false)

    // Once fixed, the next run applies the rest.
    const fixed = m(3, 'three', 'CREATE TABLE b (y INTEGER);')
    expect(migrate(db, [...good, fixed, after])).toEqual([3, 4])
    expect(appliedVersions(db)).toEqual([1, 2, 3, 4])
  })
})

describe('knownMigrations', () => {
  it('lists NNN_name.sql files in version order and ignores anything else', () => {
    const migrationsDir = tempDir('sitegate-migration-files-')
    try {
      for (const [file, sql] of [
        ['002_second.sql', 'SELECT 2;'],
        ['001_first.sql', 'SELECT 1;'],
        ['README.md', '#'],
        ['03_short.sql', 'SELECT 3;'],
        ['004_Upper.sql', 'SELECT 4;'],
      ])
        writeFileSync(join(migrationsDir, file as string), sql as string)
      expect(knownMigrations(migrationsDir)).toEqual([
        { version: 1, name: 'first', sql: 'SELECT 1;' },
        { version: 2, name: 'second', sql: 'SELECT 2;' },
      ])
    } finally {
      removeDir(migrationsDir)
    }
  })

  it('the build ships its migrations in order', () => {
    expect(knownMigrations().map((mig) => `${mig.version}_${mig.name}`)).toEqual([
      '1_init',
      '2_telemetry_chunks',
      '3_commands',
      '4_subscriptions',
      '5_device_groups',
      '6_products',
      '7_sync',
      '8_cameras',
      '9_safety_calls',
      '11_retention',
      '12_device_page_index',
    ])
  })

  it('002 turns per-service history rows into chunks the history reader returns unchanged', () => {
    const file = freshPath()
    mkdirSync(dirname(file), { recursive: true })
    const db = track(new BetterSqlite3(file))
    const all = knownMigrations()
    migrate(db, all.slice(0, 1))
    db.exec(`INSERT INTO applications (app_id, name, secret_hash, source, created_at) VALUES ('app', 'a', 'x', 'cli', 0);
      INSERT INTO devices (device_id, app_id, node_id, secret, psk, gateway_id, node_type, info_json, created_at,
        modified_at) VALUES ('d1', 'app', 'n1', 's', 'p', 'd1', 'ENDPOINT', '{}', 0, 0);
      INSERT INTO telemetry (device_id, service_id, event_time, received_at, data_json) VALUES
        ('d1', 'Dust', ${Date.UTC(2026, 0, 2, 3, 4, 5)}, 1000, '{"pm25":7}'),
        ('d1', 'Noise', ${Date.UTC(2026, 0, 2, 3, 4, 6)}, 2000, '{"db":61.5,"peak":{"at":"x"}}')`)
    migrate(db, all)
    expect(tableExists(db, 'telemetry')).toBe(false)
    const store = createStore(db)
    expect(store.telemetry.countForDevice('d1')).toBe(2)
    expect(store.telemetry.forDevice('d1')).toEqual([
      {
        serviceId: 'Noise',
        data: { db: 61.5, peak: { at: 'x' } },
        eventTime: Date.UTC(2026, 0, 2, 3, 4, 6),
        receivedAt: 2000,
      },
      { serviceId: 'Dust', data: { pm25: 7 }, eventTime: Date.UTC(2026, 0, 2, 3, 4, 5), receivedAt: 1000 },
    ])
  })
})
