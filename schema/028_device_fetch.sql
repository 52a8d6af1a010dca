-- 028 (issue 18): a device's last fetch off its row.  The fetch writer
-- rewrote the device row for each device that fetched (its chain head,
-- the last 200's time, version, address, User-Agent and digest): on a
-- 1,000,000-device file a row of about 500 bytes in a random page of a
-- table of 500 MB, read and written back per device per batch.  The part
-- that changes on every fetch moves to device_fetch, a row of about 30
-- bytes (one page holds about 130 devices, 32 MB for 1,000,000, in the
-- writer's cache):
-- - fetched_log: the newest fetch_log row (schema 027's chain head);
-- - fetched_at, fetched_version: the last 200's time and version;
-- - fetched_sig: a hash of the last 200's address, User-Agent and digest,
--   which stay on the device row (fetched_ip, fetched_ua, fetched_digest)
--   and are written there only when the hash changes: a phone that fetches
--   again from where it did, with the same firmware and the same config,
--   touches only its device_fetch row.  0: not known (write them).
-- Every device has its row from its insert (the trigger below), so the
-- writer only updates, and a device deleted while its fetch was queued
-- has no row to update.  Readers join device_fetch to device.
CREATE TABLE device_fetch (
  device_id       INTEGER PRIMARY KEY REFERENCES device(id) ON DELETE CASCADE,
  fetched_log     INTEGER NOT NULL DEFAULT 0,
  fetched_at      INTEGER NOT NULL DEFAULT 0,
  fetched_version INTEGER NOT NULL DEFAULT 0,
  fetched_sig     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO device_fetch (device_id, fetched_log, fetched_at, fetched_version)
  SELECT id, fetched_log, fetched_at, fetched_version FROM device;
ALTER TABLE device DROP COLUMN fetched_log;
ALTER TABLE device DROP COLUMN fetched_at;
ALTER TABLE device DROP COLUMN fetched_version;
-- The newest history row when device_fetch was last written in full: the
-- writer keeps its changes in memory under load (store_fetch.c), and one
-- that stopped without writing them left history rows after this one that
-- no chain head names yet; the next writer links them (fetch_recover).
CREATE TABLE fetch_written (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  log INTEGER NOT NULL
);
INSERT INTO fetch_written VALUES (1, (SELECT coalesce(max(id), 0) FROM fetch_log));
-- OR REPLACE: SQLite may give a deleted device's id again; a row left by a
-- connection without foreign keys starts over.
CREATE TRIGGER device_fetch_row AFTER INSERT ON device BEGIN
  INSERT OR REPLACE INTO device_fetch (device_id) VALUES (NEW.id);
END;
