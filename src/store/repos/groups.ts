import type { Database } from 'better-sqlite3'

export interface GroupRow {
  id: string
  app_id: string
  name: string
  description: string | null
  max_dev_num: number
  creator: string
  created_at: number
}

/** Device groups (spec §10) and their members (devices.group_id). */
export class GroupsRepo {
  private readonly stmts

  constructor(private readonly db: Database) {
    this.stmts = {
      insert:
        db.prepare(`INSERT INTO device_groups (id, app_id, name, description, max_dev_num, creator, created_at)
        VALUES (@id, @app_id, @name, @description, @max_dev_num, @creator, @created_at)`),
      get: db.prepare('SELECT * FROM device_groups WHERE id = ?'),
      byName: db.prepare('SELECT * FROM device_groups WHERE app_id = ? AND name = ?'),
      update: db.prepare(
        'UPDATE device_groups SET name = @name, description = @description, max_dev_num = @max_dev_num WHERE id = @id',
      ),
      delete: db.prepare('DELETE FROM device_groups WHERE id = ?'),
      size: db.prepare('SELECT count(*) FROM devices WHERE group_id = ?').pluck(),
      members: db
        .prepare(
          'SELECT device_id FROM devices WHERE group_id = ? ORDER BY created_at, device_id LIMIT ? OFFSET ?',
        )
        .pluck(),
      setGroup: db.prepare('UPDATE devices SET group_id = ? WHERE device_id = ?'),
    }
  }

  insert(row: GroupRow): void {
    this.stmts.insert.run(row)
  }

  get(id: string): GroupRow | undefined {
    return this.stmts.get.get(id) as GroupRow | undefined
  }

  byName(appId: string, name: string): GroupRow | undefined {
    return this.stmts.byName.get(appId, name) as GroupRow | undefined
  }

  update(row: Pick<GroupRow, 'id' | 'name' | 'description' | 'max_dev_num'>): void {
    this.stmts.update.run(row)
  }

  /** Deletes the group; its members belong to no group afterwards (ON DELETE SET NULL). */
  delete(id: string): void {
    this.stmts.delete.run(id)
  }

  size(id: string): number {
    return this.stmts.size.get(id) as number
  }

  members(id: string, limit = -1, offset = 0): string[] {
    return this.stmts.members.all(id, limit, offset) as string[]
  }

  /** Puts devices in a group, or (null) takes them out. */
  setGroup(deviceIds: string[], groupId: string | null): void {
    for (const deviceId of deviceIds) this.stmts.setGroup.run(groupId, deviceId)
  }

  /** An application's groups, by creation, optionally of one name. */
  list(
    appId: string,
    name: string | undefined,
    limit: number,
    offset: number,
  ): { total: number; rows: GroupRow[] } {
    const where = name === undefined ? 'app_id = ?' : 'app_id = ? AND name = ?'
    const params = name === undefined ? [appId] : [appId, name]
    const total = this.db
      .prepare(`SELECT count(*) FROM device_groups WHERE ${where}`)
      .pluck()
      .get(...params) as number
    const rows = this.db
      .prepare(`SELECT * FROM device_groups WHERE ${where} ORDER BY created_at, id LIMIT ? OFFSET ?`)
      .all(...params, limit, offset) as GroupRow[]
    return { total, rows }
  }
}
