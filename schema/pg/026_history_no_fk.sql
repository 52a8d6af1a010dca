-- 026 (issue 17): fetch_log and registration without foreign keys.  Each
-- row of these history tables is written by a fetch or a REGISTER, and a
-- foreign key costs a key-share lookup of device and account per row:
-- measured on 512-row HEP batches, the two checks were 11.6 of 25 ms of
-- the registration insert, and HEP intake went from 17.6k to 20.4k
-- observations/s without them (tools/bench-hep.sh).  What the keys gave
-- is kept by a trigger per statement: deleting devices or accounts (one,
-- or a tenant's thousands through ON DELETE CASCADE) sets the history
-- rows' device_id / account_id to NULL, as ON DELETE SET NULL did.
--
-- What is lost is the insert-time check, by design: ids come from
-- identity sequences and are never reused, so a row naming a device
-- deleted between the intake's read and its insert names no device, which
-- every reader already handles (a LEFT JOIN, or no match).  Before, that
-- race failed the whole batch.
DO $$
DECLARE c RECORD;
BEGIN
  FOR c IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
           WHERE contype = 'f' AND conrelid IN ('fetch_log'::regclass, 'registration'::regclass) LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.tbl, c.conname);
  END LOOP;
END $$;

CREATE FUNCTION sp_history_device_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE registration r SET device_id = NULL FROM gone WHERE r.device_id = gone.id;
  UPDATE fetch_log f SET device_id = NULL FROM gone WHERE f.device_id = gone.id;
  RETURN NULL;
END $$;
CREATE TRIGGER history_device_gone AFTER DELETE ON device REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION sp_history_device_gone();

CREATE FUNCTION sp_history_account_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE registration r SET account_id = NULL FROM gone WHERE r.account_id = gone.id;
  RETURN NULL;
END $$;
CREATE TRIGGER history_account_gone AFTER DELETE ON account REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION sp_history_account_gone();
