-- 024 (issue 17): several sipprovd nodes share one PostgreSQL database and
-- each keeps its own render cache.  The once-per-transaction bump of 002
-- now also sends NOTIFY sipprov_config_gen with the new generation as its
-- payload, so a node LISTENing on the primary learns of a change when the
-- writer commits (NOTIFY is delivered at commit, never for a rollback)
-- instead of polling config_gen.  Nodes still read it once a second, in
-- case a notification is lost with a connection.
CREATE OR REPLACE FUNCTION sp_config_gen_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  g BIGINT;
BEGIN
  IF coalesce(current_setting('sipprov.gen_bumped', true), '') <> '1' THEN
    UPDATE config_gen SET gen = gen + 1 RETURNING gen INTO g;
    PERFORM pg_notify('sipprov_config_gen', g::text);
    PERFORM set_config('sipprov.gen_bumped', '1', true);
  END IF;
  RETURN NULL;
END $$;
