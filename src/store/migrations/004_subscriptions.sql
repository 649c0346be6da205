-- 004: subscriptions (spec §6) and the push notifications owed to them (§7), which travel through
-- callback_deliveries like §7.12 command notifications.
CREATE TABLE subscriptions (
  subscription_id TEXT PRIMARY KEY,
  app_id          TEXT NOT NULL REFERENCES applications(app_id),
  notify_type     TEXT NOT NULL,
  callback_url    TEXT NOT NULL,
  -- §6.6: subscriptions made through §6.1/§6.2 are on the HTTP channel.
  channel         TEXT NOT NULL DEFAULT 'HTTP',
  created_at      INTEGER NOT NULL,
  delivered_count INTEGER NOT NULL DEFAULT 0,
  failed_count    INTEGER NOT NULL DEFAULT 0,
  -- §6.1 Notes: one subscription per (application, notifyType); a second is 409 100227.
  UNIQUE (app_id, notify_type)
) STRICT;

ALTER TABLE callback_deliveries ADD COLUMN subscription_id TEXT;
