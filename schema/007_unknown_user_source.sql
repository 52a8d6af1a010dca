-- 007: an unknown_user event remembers the source address of the REGISTER
-- that opened it, so intake can cap how many open events one source may
-- create (a scanner trying usernames, forged HEP) and how many exist in all
-- (unknown_user_per_source, unknown_user_max).  Partial index: only open
-- unknown_user rows, counted per source when a new one would be opened.
ALTER TABLE drift_event ADD COLUMN src_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX drift_unknown_src ON drift_event(src_ip)
  WHERE device_id IS NULL AND kind = 'unknown_user' AND resolved = 0;
