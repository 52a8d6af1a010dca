-- 029 (issue 18): what changed, by generation, for database_copy.  A node
-- with database_copy keeps the rows a render reads (tenant, template and
-- its versions, device, account, web_password, firmware) in a local SQLite
-- file and reads its render misses there.  It catches up from this log:
-- every row trigger of 002 (and 019, 020) now records its row's id under
-- the generation its transaction bumped to.  The bump is deferred to
-- commit and holds the config_gen row lock until then, so transactions
-- commit in generation order: a snapshot that reads generation G sees
-- every log row up to G and none above, and the rows as they are at G.
-- render_change_floor: the log is complete above that generation; a copy
-- older than it reloads every row.  Nodes prune rows older than
-- database_copy_keep seconds (at), raising the floor in the same
-- transaction.  Fetch bookkeeping still bumps nothing and logs nothing.
CREATE TABLE render_change (
  gen    BIGINT NOT NULL,
  tbl    TEXT NOT NULL,
  row_id BIGINT NOT NULL,
  at     BIGINT NOT NULL,
  PRIMARY KEY (gen, tbl, row_id)
);
CREATE TABLE render_change_floor (id BIGINT PRIMARY KEY CHECK (id = 1), gen BIGINT NOT NULL);
INSERT INTO render_change_floor VALUES (1, (SELECT gen FROM config_gen));

-- The transaction's generation is kept in a transaction-local setting
-- (reset at commit or rollback, undone with a rolled-back savepoint) so
-- later rows log under it without reading config_gen again.
CREATE OR REPLACE FUNCTION sp_config_gen_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  g BIGINT := nullif(current_setting('sipprov.gen', true), '')::bigint;
BEGIN
  IF g IS NULL THEN
    UPDATE config_gen SET gen = gen + 1 RETURNING gen INTO g;
    PERFORM pg_notify('sipprov_config_gen', g::text);
    PERFORM set_config('sipprov.gen', g::text, true);
  END IF;
  INSERT INTO render_change VALUES (g, TG_TABLE_NAME, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
                                    extract(epoch FROM now())::bigint)
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

-- Template versions are rows a render reads: logged (and bumping, as the
-- template row's own update in the same transaction already does).
CREATE CONSTRAINT TRIGGER cg_template_version_i AFTER INSERT ON template_version DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_template_version_d AFTER DELETE ON template_version DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
