-- 003: the command ledger (spec platform-rest-api.md §8, device-mqtt.md A.5–A.7, Part B; rpc-and-calls.md
-- Part A), callbackUrl deliveries (§7.12), command-cancel tasks (§8.5), batch tasks (§9), desired state
-- delivery (§4.8) and its history (§5.4).

-- The last cloudReq mid / OneJSON id given to the device (A.5 gateway note: per device, 1–65535, wrapping).
ALTER TABLE devices ADD COLUMN last_mid INTEGER NOT NULL DEFAULT 0;

-- Every command the gateway sends, whatever asked for it:
--   origin   'ledger' (§8.1 and §9 batch tasks), 'direct' (§8.7), 'desired' (§4.8), 'rpc' (rpc-and-calls A),
--            'invoke' (OneJSON service call)
--   delivery 'queued' (cached: one at a time per device, in seq order, while the device is online) or
--            'immediate' (sent at once if the device is online; never cached)
CREATE TABLE commands (
  seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
  command_id           TEXT NOT NULL UNIQUE,
  app_id               TEXT NOT NULL REFERENCES applications(app_id),
  device_id            TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  origin               TEXT NOT NULL,
  delivery             TEXT NOT NULL,
  service_id           TEXT NOT NULL,
  method               TEXT NOT NULL,
  paras_json           TEXT NOT NULL,
  callback_url         TEXT,
  expire_time          INTEGER,          -- seconds as the caller gave it; NULL = not set (default applies)
  expires_at           INTEGER,          -- ms; NULL = never expires while queued
  max_retransmit       INTEGER NOT NULL DEFAULT 0,
  status               TEXT NOT NULL,
  result_json          TEXT,
  mid                  INTEGER,          -- cloudReq mid / OneJSON id, from the first send on
  request_id           TEXT,             -- §8.7 requestId, RPC msgid
  extra_json           TEXT,             -- origin-specific fields (§8.7 header, RPC query, OneJSON version)
  batch_task_id        TEXT,
  creation_time        INTEGER NOT NULL,
  platform_issued_time INTEGER,
  delivered_time       INTEGER,
  execute_time         INTEGER,
  issued_times         INTEGER NOT NULL DEFAULT 0,
  response_deadline    INTEGER           -- ms; set while SENT or DELIVERED
) STRICT;
CREATE INDEX commands_device_status ON commands(device_id, status, seq);
CREATE INDEX commands_app_created ON commands(app_id, creation_time);
CREATE INDEX commands_device_mid ON commands(device_id, mid);
CREATE INDEX commands_in_flight ON commands(status) WHERE status IN ('SENT', 'DELIVERED');
CREATE INDEX commands_pending_expiry ON commands(expires_at) WHERE status = 'PENDING';
CREATE UNIQUE INDEX commands_request ON commands(app_id, origin, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX commands_batch ON commands(batch_task_id) WHERE batch_task_id IS NOT NULL;

-- HTTP POSTs owed to callback URLs (§7.12), delivered in id order per URL, retried with backoff.
CREATE TABLE callback_deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  url             TEXT NOT NULL,
  body            TEXT NOT NULL,
  command_id      TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX callback_deliveries_due ON callback_deliveries(next_attempt_at, id);

-- §8.5 command-cancel tasks (they run to completion at once: every PENDING command is cancelled).
CREATE TABLE command_cancel_tasks (
  task_id     TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES applications(app_id),
  device_id   TEXT NOT NULL,
  status      TEXT NOT NULL,
  command_ids TEXT NOT NULL,             -- JSON array of the cancelled commandIds
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX command_cancel_tasks_app ON command_cancel_tasks(app_id, created_at);

-- §9 batch tasks (taskType DeviceCmd): one ledger command per target device, linked by batch_task_id.
CREATE TABLE batch_tasks (
  task_id     TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES applications(app_id),
  task_name   TEXT NOT NULL,
  task_type   TEXT NOT NULL,
  timeout_min INTEGER NOT NULL,
  param_json  TEXT NOT NULL,
  tags_json   TEXT,
  created_at  INTEGER NOT NULL,
  UNIQUE (app_id, task_name)
) STRICT;

-- Desired state (§4.8): version per (device, service) and where its delivery stands:
-- PENDING (not yet confirmed by the device), DELIVERED (the device answered the desired command with
-- success), FAILED, SETTLED (the device reported the desired values).
ALTER TABLE shadows ADD COLUMN desired_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shadows ADD COLUMN desired_status TEXT;

-- §5.4: every change of a desired section.
CREATE TABLE shadow_desired_history (
  id         INTEGER PRIMARY KEY,
  device_id  TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  service_id TEXT NOT NULL,
  desired    TEXT NOT NULL,
  version    INTEGER NOT NULL,
  at         INTEGER NOT NULL
) STRICT;
CREATE INDEX shadow_desired_history_device ON shadow_desired_history(device_id, at);

-- Remote-call API keys (rpc-and-calls.md A.2 `apikey`): one per application, stored as a SHA-256 hash (the
-- key is 192 random bits, so a fast hash is enough, as for access tokens).
ALTER TABLE applications ADD COLUMN api_key_hash TEXT;
CREATE UNIQUE INDEX applications_api_key ON applications(api_key_hash) WHERE api_key_hash IS NOT NULL;
