-- 005 (PostgreSQL dialect of schema/005_secrets_at_rest.sql): keyed token
-- hash and sealed token/HA1 columns, the secret_state row, and the render
-- cache's generation moving with the new secret columns.  The old
-- plaintext columns stay, as on SQLite, so both schemas match.
ALTER TABLE device ADD COLUMN ha1_enc TEXT NOT NULL DEFAULT '';
ALTER TABLE account ADD COLUMN token_hash TEXT;
ALTER TABLE account ADD COLUMN token_enc TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX account_token_hash ON account(token_hash);

CREATE TABLE secret_state (
  id        BIGINT PRIMARY KEY CHECK (id = 1),
  key_check TEXT NOT NULL DEFAULT '',
  converted BIGINT NOT NULL DEFAULT 0
);
INSERT INTO secret_state (id) VALUES (1);

UPDATE fetch_log SET digest = '' WHERE digest <> '';
UPDATE device SET fetched_digest = '' WHERE fetched_digest <> '';

DROP TRIGGER cg_device_u ON device;
CREATE CONSTRAINT TRIGGER cg_device_u AFTER UPDATE OF mac, tenant_id, layout, model, label, template,
  pinned_version, status, http_user, ha1_md5, ha1_sha256, ha1_enc, overrides ON device
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
DROP TRIGGER cg_account_u ON account;
CREATE CONSTRAINT TRIGGER cg_account_u AFTER UPDATE OF device_id, line, display_name, extension, username,
  auth_username, password_enc, token, token_revoked, token_hash, token_enc ON account
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
