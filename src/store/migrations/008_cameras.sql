-- 008: cameras (issue 6, device-mqtt.md Part C). Snapshot images are files under DATA_DIR/snapshots; this is
-- their index (camera, time, size, sha256, content type). The byte total is kept by triggers so the quota check
-- that runs on every insert never scans the index. Firmware packages served to cameras (upgrade_dev
-- package_url) are files under DATA_DIR/firmware, described here.
CREATE TABLE camera_snapshots (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: eviction goes oldest first
  snapshot_id  TEXT NOT NULL UNIQUE,
  device_id    TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  taken_at     INTEGER NOT NULL,   -- epoch ms: the camera's request timestamp, or receive time for take_snapshot
  received_at  INTEGER NOT NULL,
  size         INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  content_type TEXT NOT NULL,      -- image/jpeg or image/png
  source       TEXT NOT NULL,      -- 'upload_snapshot' or 'take_snapshot'
  file         TEXT NOT NULL       -- path relative to DATA_DIR/snapshots
) STRICT;
CREATE INDEX camera_snapshots_by_device_time ON camera_snapshots (device_id, taken_at);

CREATE TABLE camera_snapshot_usage (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  bytes INTEGER NOT NULL,
  count INTEGER NOT NULL
) STRICT;
INSERT INTO camera_snapshot_usage (id, bytes, count) VALUES (1, 0, 0);

CREATE TRIGGER camera_snapshots_added AFTER INSERT ON camera_snapshots BEGIN
  UPDATE camera_snapshot_usage SET bytes = bytes + NEW.size, count = count + 1 WHERE id = 1;
END;
CREATE TRIGGER camera_snapshots_removed AFTER DELETE ON camera_snapshots BEGIN
  UPDATE camera_snapshot_usage SET bytes = bytes - OLD.size, count = count - 1 WHERE id = 1;
END;

CREATE TABLE camera_firmware (
  package_id  TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  file        TEXT NOT NULL,       -- path relative to DATA_DIR/firmware
  created_at  INTEGER NOT NULL
) STRICT;
