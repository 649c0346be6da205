-- 012: the batch device query (platform-rest-api.md §5.2) pages an application's devices by creation time, the
-- deviceId breaking ties. An index in exactly that order serves the ORDER BY and holds the page's ids, so a page
-- needs neither a sort nor a table read. It replaces devices_app_created, which is its prefix.
DROP INDEX devices_app_created;
CREATE INDEX devices_app_created_id ON devices (app_id, created_at, device_id);
