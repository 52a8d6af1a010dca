-- 007 (PostgreSQL dialect of schema/007_unknown_user_source.sql): the
-- source address of an open unknown_user event, with its partial index.
ALTER TABLE drift_event ADD COLUMN src_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX drift_unknown_src ON drift_event(src_ip)
  WHERE device_id IS NULL AND kind = 'unknown_user' AND resolved = 0;
