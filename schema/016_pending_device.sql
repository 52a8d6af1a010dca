-- Phones that asked for a config by MAC while nobody had entered them:
-- refused as before, and listed here for an admin to claim.  Bounded by
-- the daemon (pending_max rows, pending_per_source new ones a minute).
CREATE TABLE pending_device (
  mac         TEXT PRIMARY KEY CHECK (length(mac) = 12),
  layout      TEXT NOT NULL DEFAULT '',   -- the layout whose file name it asked for
  path        TEXT NOT NULL DEFAULT '',   -- the last file it asked for
  user_agent  TEXT NOT NULL DEFAULT '',
  vendor      TEXT NOT NULL DEFAULT '',   -- from the User-Agent
  model       TEXT NOT NULL DEFAULT '',
  firmware    TEXT NOT NULL DEFAULT '',
  source_ip   TEXT NOT NULL DEFAULT '',
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  count       INTEGER NOT NULL DEFAULT 1
);
-- Entered by any path (claim, device add, import, the API): no longer pending.
CREATE TRIGGER pending_device_entered AFTER INSERT ON device
BEGIN
  DELETE FROM pending_device WHERE mac = NEW.mac;
END;
