-- 016 (PostgreSQL dialect of schema/016_pending_device.sql): phones that
-- asked for a config while nobody had entered them.  Entering a device
-- removes its pending row; a statement trigger over the inserted rows
-- does it in one join for a bulk import instead of one DELETE per row.
CREATE TABLE pending_device (
  mac         TEXT PRIMARY KEY CHECK (length(mac) = 12),
  layout      TEXT NOT NULL DEFAULT '',
  path        TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT '',
  vendor      TEXT NOT NULL DEFAULT '',
  model       TEXT NOT NULL DEFAULT '',
  firmware    TEXT NOT NULL DEFAULT '',
  source_ip   TEXT NOT NULL DEFAULT '',
  first_seen  BIGINT NOT NULL,
  last_seen   BIGINT NOT NULL,
  count       BIGINT NOT NULL DEFAULT 1
);
CREATE FUNCTION sp_pending_device_entered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM pending_device p USING entered n WHERE p.mac = n.mac;
  RETURN NULL;
END $$;
CREATE TRIGGER pending_device_entered AFTER INSERT ON device
  REFERENCING NEW TABLE AS entered FOR EACH STATEMENT EXECUTE FUNCTION sp_pending_device_entered();
