-- 002 (PostgreSQL dialect of schema/002_config_gen.sql): the generation
-- counter the render cache compares.  SQLite bumps it once per changed row;
-- a literal port makes every row of a bulk import update the same row
-- (issue 17: 114.7 s for 100k rows).  Here every change queues a deferred
-- row trigger and the first one to run at commit bumps the counter, once
-- per transaction: a transaction-local setting remembers it was done (it
-- is reset at commit/rollback; a rolled-back savepoint undoes both).
-- Deferred to commit, the counter row is locked only for the commit itself.
-- Fetch bookkeeping (device.fetched_*) deliberately does not bump it.
CREATE TABLE config_gen (id BIGINT PRIMARY KEY CHECK (id = 1), gen BIGINT NOT NULL);
INSERT INTO config_gen VALUES (1, 1);

CREATE FUNCTION sp_config_gen_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('sipprov.gen_bumped', true), '') <> '1' THEN
    UPDATE config_gen SET gen = gen + 1;
    PERFORM set_config('sipprov.gen_bumped', '1', true);
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER cg_tenant_i AFTER INSERT ON tenant DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_tenant_u AFTER UPDATE ON tenant DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_tenant_d AFTER DELETE ON tenant DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_template_i AFTER INSERT ON template DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_template_u AFTER UPDATE ON template DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_template_d AFTER DELETE ON template DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_device_i AFTER INSERT ON device DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_device_d AFTER DELETE ON device DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_device_u AFTER UPDATE OF mac, tenant_id, layout, model, label, template,
  pinned_version, status, http_user, ha1_md5, ha1_sha256, overrides ON device DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_account_i AFTER INSERT ON account DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_account_d AFTER DELETE ON account DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_account_u AFTER UPDATE OF device_id, line, display_name, extension, username,
  auth_username, password_enc, token, token_revoked ON account DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
