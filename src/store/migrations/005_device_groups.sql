-- 005: device groups (spec §10). A device belongs to at most one group; deleting a group frees its members.
CREATE TABLE device_groups (
  id          TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES applications(app_id),
  name        TEXT NOT NULL,
  description TEXT,
  -- 0 = unlimited (§10).
  max_dev_num INTEGER NOT NULL DEFAULT 0,
  creator     TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (app_id, name)
) STRICT;

ALTER TABLE devices ADD COLUMN group_id TEXT REFERENCES device_groups(id) ON DELETE SET NULL;
CREATE INDEX devices_group ON devices(group_id) WHERE group_id IS NOT NULL;
