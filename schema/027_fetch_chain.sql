-- 027 (issue 18): a device's fetch history as a chain, not an index.
-- Every fetch appends a fetch_log row.  The index fetch_log_device
-- (device_id, at) put each append into a random leaf of an index as large
-- as the whole history, and the foreign key to device read the device's
-- row for it: on a 1,000,000-device file the fetch writer dirtied a random
-- index page per fetch, most of its time in pread, pwrite and fdatasync.
-- Now each row names the device's previous row (prev, 0 for none) and the
-- device row names its newest (device.fetched_log), which the writer
-- already rewrites per fetch: the history grows at its end only.  A
-- device's timeline walks the chain from device.fetched_log (store_console,
-- store_diag); retention deletes the oldest rows, which ends the chains.
--
-- The foreign key goes with the index: ON DELETE SET NULL scanned the
-- whole history for each deleted device without it.  A row of a deleted
-- device keeps its id; SQLite may give that id to a later device (the
-- highest rowid is reused), whose chain starts empty, and the console's
-- counts join history to devices created before it (at >= created).
CREATE TABLE fetch_log_new (
  id         INTEGER PRIMARY KEY,
  device_id  INTEGER,
  at         INTEGER NOT NULL,
  ip         TEXT NOT NULL,
  user_agent TEXT NOT NULL DEFAULT '',
  path       TEXT NOT NULL DEFAULT '',
  status     INTEGER NOT NULL,
  version    INTEGER NOT NULL DEFAULT 0,
  digest     TEXT NOT NULL DEFAULT '',
  prev       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO fetch_log_new (id, device_id, at, ip, user_agent, path, status, version, digest, prev)
  SELECT id, device_id, at, ip, user_agent, path, status, version, digest,
         CASE WHEN device_id IS NULL THEN 0
              ELSE coalesce(lag(id) OVER (PARTITION BY device_id ORDER BY id), 0) END
  FROM fetch_log;
ALTER TABLE device ADD COLUMN fetched_log INTEGER NOT NULL DEFAULT 0;
UPDATE device SET fetched_log = f.last
  FROM (SELECT device_id, max(id) AS last FROM fetch_log WHERE device_id IS NOT NULL GROUP BY device_id) f
  WHERE device.id = f.device_id;
DROP TABLE fetch_log;
ALTER TABLE fetch_log_new RENAME TO fetch_log;
CREATE INDEX fetch_log_at ON fetch_log(at);
