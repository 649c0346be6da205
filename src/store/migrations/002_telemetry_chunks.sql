-- 002: telemetry history stored in chunks, one row per device per ingest transaction.
--
-- A row per ServiceData entry cost two B-tree inserts per message and capped ingest well below the broker's
-- own rate. A chunk holds the device's deviceReq messages of one ingest batch as a JSON array, each message
-- as the device sent it (device-mqtt.md A.4) except that every entry's eventTime is valid: a message whose
-- eventTime was absent or malformed is stored re-serialized with the receive time (A.4). `records` counts
-- the ServiceData entries (the unit of REST 5.3 paging); first_event/last_event bound their eventTimes (ms).
CREATE TABLE telemetry_chunk (
  id          INTEGER PRIMARY KEY,
  device_id   TEXT NOT NULL REFERENCES devices(device_id),
  first_event INTEGER NOT NULL,
  last_event  INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  records     INTEGER NOT NULL,
  body        TEXT NOT NULL
) STRICT;
CREATE INDEX telemetry_chunk_device ON telemetry_chunk(device_id, id);
CREATE INDEX telemetry_chunk_device_time ON telemetry_chunk(device_id, last_event);

-- Existing history: each old row becomes a one-record chunk, in the old insertion order.
INSERT INTO telemetry_chunk (device_id, first_event, last_event, received_at, records, body)
SELECT t.device_id, t.event_time, t.event_time, t.received_at, 1,
       json_array(json_object(
         'msgType', 'deviceReq',
         'data', json_array(json_object(
           'serviceId', t.service_id,
           'serviceData', json(t.data_json),
           'eventTime', strftime('%Y%m%dT%H%M%SZ', t.event_time / 1000, 'unixepoch')))))
FROM telemetry t JOIN devices d ON d.device_id = t.device_id
ORDER BY t.id;

DROP TABLE telemetry;
