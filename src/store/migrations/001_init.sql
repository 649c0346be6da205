-- 001: applications, tokens, device registry, shadows, telemetry history, outbox, gateway metadata.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE applications (
  app_id      TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  secret_hash TEXT NOT NULL,            -- scrypt$salt$hash; the secret itself is never stored
  source      TEXT NOT NULL,            -- 'config' | 'cli' | 'first-start'
  created_at  INTEGER NOT NULL
) STRICT;

-- One row per application: a new login replaces the row, which voids the earlier tokens (spec §1.4).
CREATE TABLE app_tokens (
  app_id             TEXT PRIMARY KEY REFERENCES applications(app_id) ON DELETE CASCADE,
  access_hash        TEXT NOT NULL,     -- sha256 of the accessToken
  access_expires_at  INTEGER NOT NULL,
  refresh_hash       TEXT NOT NULL,
  refresh_expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
  device_id          TEXT PRIMARY KEY,
  app_id             TEXT NOT NULL REFERENCES applications(app_id),
  node_id            TEXT NOT NULL UNIQUE,
  secret             TEXT NOT NULL,     -- needed in clear: the MQTT password is an HMAC keyed on it (A.3)
  psk                TEXT NOT NULL,
  gateway_id         TEXT NOT NULL,
  node_type          TEXT NOT NULL DEFAULT 'ENDPOINT',
  name               TEXT,
  device_type        TEXT,
  model              TEXT,
  manufacturer_id    TEXT,
  manufacturer_name  TEXT,
  protocol_type      TEXT,
  product_id         TEXT,
  location           TEXT,
  info_json          TEXT NOT NULL DEFAULT '{}', -- other DeviceInfo / registration fields
  status             TEXT NOT NULL DEFAULT 'INACTIVE',
  status_detail      TEXT NOT NULL DEFAULT 'NOT_ACTIVE',
  mute               TEXT NOT NULL DEFAULT 'FALSE',
  activated          INTEGER NOT NULL DEFAULT 0,
  shadow_version     INTEGER NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  modified_at        INTEGER NOT NULL,
  last_seen_at       INTEGER
) STRICT;
CREATE INDEX devices_app_created ON devices(app_id, created_at);
CREATE INDEX devices_gateway ON devices(gateway_id);

CREATE TABLE shadows (
  device_id     TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  service_id    TEXT NOT NULL,
  service_type  TEXT NOT NULL,
  reported_json TEXT NOT NULL DEFAULT '{}',
  desired_json  TEXT NOT NULL DEFAULT '{}',
  version       INTEGER NOT NULL DEFAULT 0,
  event_time    INTEGER,
  modified_at   INTEGER NOT NULL,
  PRIMARY KEY (device_id, service_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE telemetry (
  id          INTEGER PRIMARY KEY,
  device_id   TEXT NOT NULL,
  service_id  TEXT NOT NULL,
  event_time  INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  data_json   TEXT NOT NULL
) STRICT;
CREATE INDEX telemetry_device_time ON telemetry(device_id, event_time);

-- Transactional outbox (ARCHITECTURE.md rule 3). lane: 0 safety, 1 command results, 2 shadow, 3 telemetry,
-- 4 snapshots. AUTOINCREMENT: a sequence number is never reused, so send order is creation order.
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  lane       INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  device_id  TEXT,
  idem_key   TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  payload    TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_lane_seq ON outbox(lane, seq);
