-- 003: open unknown_user events are looked up by their observed user@host
-- on every matched registration (to resolve them) and every unknown one (to
-- de-duplicate).  drift_open narrows only to (NULL device, kind), so a
-- storm of unknown users made each lookup scan all of them.  Partial: only
-- open unknown_user rows are indexed.
CREATE INDEX drift_unknown_open ON drift_event(observed)
  WHERE device_id IS NULL AND kind = 'unknown_user' AND resolved = 0;
