-- 028 (issue 18): a device's last fetch off its row (schema/028 says why).
-- PostgreSQL has no fetch chain (schema/pg/027), so no fetched_log.  The
-- row is made by a statement trigger: one INSERT for an import's
-- thousands of devices.
CREATE TABLE device_fetch (
  device_id       BIGINT PRIMARY KEY REFERENCES device(id) ON DELETE CASCADE,
  fetched_at      BIGINT NOT NULL DEFAULT 0,
  fetched_version BIGINT NOT NULL DEFAULT 0,
  fetched_sig     BIGINT NOT NULL DEFAULT 0
);
INSERT INTO device_fetch (device_id, fetched_at, fetched_version)
  SELECT id, fetched_at, fetched_version FROM device;
ALTER TABLE device DROP COLUMN fetched_at, DROP COLUMN fetched_version;
-- SQLite's writer marks here the history its chain heads cover
-- (schema/028); PostgreSQL's writes every batch in full and leaves it at 0.
CREATE TABLE fetch_written (
  id  BIGINT PRIMARY KEY CHECK (id = 1),
  log BIGINT NOT NULL
);
INSERT INTO fetch_written VALUES (1, 0);

CREATE FUNCTION sp_device_fetch_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO device_fetch (device_id) SELECT id FROM born
    ON CONFLICT (device_id) DO UPDATE SET fetched_at = 0, fetched_version = 0, fetched_sig = 0;
  RETURN NULL;
END $$;
CREATE TRIGGER device_fetch_row AFTER INSERT ON device REFERENCING NEW TABLE AS born
  FOR EACH STATEMENT EXECUTE FUNCTION sp_device_fetch_row();
