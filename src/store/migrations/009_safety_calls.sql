-- 009: safety-device calls over XMPP (issue 7) — the call log and the messages safety devices send.
-- Safety devices themselves are rows of `devices` (device_type 'SafetyDevice', chatJid in info_json).

-- One row per call placed through the call API (rpc-and-calls.md B) or the gateway's own call endpoint.
-- state: sent → delivered (XEP-0184 receipt) → answered | declined | failed.
CREATE TABLE safety_calls (
  call_id      TEXT PRIMARY KEY,
  app_id       TEXT,                   -- the application that placed it
  origin       TEXT NOT NULL,          -- 'openapi' (the call API) | 'gateway' (POST /sitegate/v1/safety/calls)
  device_id    TEXT,                   -- the registered safety device; NULL for a JID allowed by config
  chat_jid     TEXT NOT NULL,          -- normalized bare JID the stanza went to
  stanza_id    TEXT NOT NULL,          -- message/@id: receipts and errors refer to it
  directive    TEXT NOT NULL,          -- directives_type
  caller_json  TEXT NOT NULL,          -- directives_attrs (B.6): userId, userName, userNo, tenantId, ...
  stanza       TEXT NOT NULL,          -- the stanza as rebuilt and sent
  state        TEXT NOT NULL,
  detail       TEXT,                   -- why it failed or was declined
  created_at   INTEGER NOT NULL,
  delivered_at INTEGER,
  ended_at     INTEGER
) STRICT;
CREATE INDEX safety_calls_created ON safety_calls(created_at);
CREATE INDEX safety_calls_device ON safety_calls(device_id, created_at);
CREATE INDEX safety_calls_stanza ON safety_calls(chat_jid, stanza_id);
CREATE INDEX safety_calls_open ON safety_calls(created_at) WHERE state IN ('sent', 'delivered');

-- Messages from safety devices: replies to calls, SOS, status and other chat messages.
CREATE TABLE safety_events (
  event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id   TEXT,                    -- NULL for a JID allowed by config but not registered
  chat_jid    TEXT NOT NULL,
  kind        TEXT NOT NULL,           -- 'reply' | 'sos' | 'status' | 'message'
  directive   TEXT,
  subject     TEXT,
  body        TEXT,
  attrs_json  TEXT,                    -- directives_attrs when it is a JSON object
  stanza_id   TEXT,
  call_id     TEXT,                    -- the call a reply answers
  received_at INTEGER NOT NULL
) STRICT;
CREATE INDEX safety_events_received ON safety_events(received_at);
CREATE INDEX safety_events_device ON safety_events(device_id, received_at);

-- Safety devices by chat JID (incoming messages and calls look them up).
CREATE INDEX devices_safety_jid ON devices(json_extract(info_json, '$.chatJid'))
  WHERE device_type = 'SafetyDevice';
