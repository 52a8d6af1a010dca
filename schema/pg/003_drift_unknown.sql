-- 003 (PostgreSQL dialect of schema/003_drift_unknown.sql): open
-- unknown_user events looked up by observed user@host; partial, as in SQLite.
CREATE INDEX drift_unknown_open ON drift_event(observed)
  WHERE device_id IS NULL AND kind = 'unknown_user' AND resolved = 0;
