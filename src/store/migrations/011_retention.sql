-- 011: retention of telemetry history and desired-state history (issue 10 item 7, README "Retention").
--
-- Pruning by size must know how large each history is without scanning it (a scan of gigabytes of chunks in
-- the writer thread would stall ingest), so the totals are kept by triggers, as the outbox's are (007).
-- octet_length: the stored UTF-8 bytes, read from the record header without decoding the text.
CREATE TABLE history_totals (
  name    TEXT PRIMARY KEY,   -- 'telemetry' (telemetry_chunk) or 'desiredHistory' (shadow_desired_history)
  records INTEGER NOT NULL,   -- rows
  bytes   INTEGER NOT NULL
) STRICT;
INSERT INTO history_totals (name, records, bytes)
SELECT 'telemetry', count(*), coalesce(sum(octet_length(body)), 0) FROM telemetry_chunk;
INSERT INTO history_totals (name, records, bytes)
SELECT 'desiredHistory', count(*), coalesce(sum(octet_length(desired)), 0) FROM shadow_desired_history;

CREATE TRIGGER telemetry_chunk_total_insert AFTER INSERT ON telemetry_chunk BEGIN
  UPDATE history_totals SET records = records + 1, bytes = bytes + octet_length(NEW.body)
  WHERE name = 'telemetry';
END;
CREATE TRIGGER telemetry_chunk_total_delete AFTER DELETE ON telemetry_chunk BEGIN
  UPDATE history_totals SET records = records - 1, bytes = bytes - octet_length(OLD.body)
  WHERE name = 'telemetry';
END;
CREATE TRIGGER desired_history_total_insert AFTER INSERT ON shadow_desired_history BEGIN
  UPDATE history_totals SET records = records + 1, bytes = bytes + octet_length(NEW.desired)
  WHERE name = 'desiredHistory';
END;
CREATE TRIGGER desired_history_total_delete AFTER DELETE ON shadow_desired_history BEGIN
  UPDATE history_totals SET records = records - 1, bytes = bytes - octet_length(OLD.desired)
  WHERE name = 'desiredHistory';
END;

-- A telemetry chunk that an outbox row still points at (lane 3, 007's `ref`) is not pruned: its records have not
-- gone upstream yet. The retention step asks "is this chunk referenced?" per candidate; this partial index makes
-- that a lookup instead of a scan of the outbox (only telemetry rows have a ref).
CREATE INDEX outbox_ref ON outbox(ref) WHERE ref IS NOT NULL;
