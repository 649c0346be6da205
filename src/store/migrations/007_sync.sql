-- 007: upstream sync — outbox sizes and per-lane totals for quotas and status, drop counters, shadow
-- compaction, and the inbox of cloud requests (duplicate cloudReq detection).

-- The bytes a row stands for upstream: its payload, plus the history chunk a telemetry row points at; and
-- that chunk's id as a column (`ref`), so the drain reads a row and its chunk with one primary-key join.
ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN ref INTEGER;
UPDATE outbox SET ref = json_extract(payload, '$.chunkId') WHERE kind = 'telemetry';
UPDATE outbox SET bytes = length(payload) + coalesce(
  (SELECT length(c.body) FROM telemetry_chunk c WHERE outbox.kind = 'telemetry' AND c.id = outbox.ref), 0);

-- Shadow updates of one device collapse into one pending row (compaction): the writer finds it here.
CREATE INDEX outbox_shadow_device ON outbox(device_id) WHERE lane = 2;

-- Running totals per lane, kept by triggers so that quotas and the status page never scan the outbox.
CREATE TABLE outbox_lane_totals (
  lane    INTEGER PRIMARY KEY,
  records INTEGER NOT NULL,
  bytes   INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_lane_totals (lane, records, bytes)
SELECT l.lane, count(o.seq), coalesce(sum(o.bytes), 0)
FROM (SELECT 0 AS lane UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) l
LEFT JOIN outbox o ON o.lane = l.lane
GROUP BY l.lane;
CREATE TRIGGER outbox_totals_insert AFTER INSERT ON outbox BEGIN
  UPDATE outbox_lane_totals SET records = records + 1, bytes = bytes + NEW.bytes WHERE lane = NEW.lane;
END;
CREATE TRIGGER outbox_totals_delete AFTER DELETE ON outbox BEGIN
  UPDATE outbox_lane_totals SET records = records - 1, bytes = bytes - OLD.bytes WHERE lane = OLD.lane;
END;

-- Rows dropped by the quotas (never safety events or command results), counted per lane for operators.
CREATE TABLE outbox_drops (
  lane       INTEGER PRIMARY KEY,
  records    INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  last_at    INTEGER
) STRICT;
INSERT INTO outbox_drops (lane, records, bytes) VALUES (0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0), (4, 0, 0);

-- Requests the cloud sent the gateway (cloudReq mid, OneJSON invoke id), to recognise a redelivery: the cloud
-- broker sends a QoS 1 message again when our PUBACK was lost.
CREATE TABLE sync_inbox (
  ref         TEXT PRIMARY KEY,
  command_id  TEXT,
  received_at INTEGER NOT NULL
) STRICT;
