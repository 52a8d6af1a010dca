-- 005: the database alone logs nothing in.  Softphone tokens are looked up
-- by token_hash (hex HMAC-SHA256 under the key file) and kept for showing
-- again as token_enc (AES-256-GCM, like password_enc); device HTTP digest
-- HA1 values move to ha1_enc (AES-256-GCM of "md5hex:sha256hex").  The old
-- plaintext columns (account.token, device.ha1_md5/ha1_sha256) stay in the
-- table (SQLite cannot drop a UNIQUE column) but are only ever NULL / ''.
-- SQL has no key: the store converts legacy plaintext rows in C at the
-- first open with the key (store_use_key), then sets secret_state.converted.
-- key_check is an HMAC of a fixed label under the key, written at the first
-- keyed open: a wrong key file is refused instead of failing later.
ALTER TABLE device ADD COLUMN ha1_enc TEXT NOT NULL DEFAULT '';
ALTER TABLE account ADD COLUMN token_hash TEXT;
ALTER TABLE account ADD COLUMN token_enc TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX account_token_hash ON account(token_hash);

CREATE TABLE secret_state (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  key_check TEXT NOT NULL DEFAULT '',
  converted INTEGER NOT NULL DEFAULT 0
);
INSERT INTO secret_state (id) VALUES (1);

-- fetch_log.digest and device.fetched_digest were unkeyed SHA-256 of a body
-- that carries the SIP password (an offline guesser could test passwords
-- against them); sipprovd now stores its keyed ETag there.  Old values go.
UPDATE fetch_log SET digest = '' WHERE digest != '';
UPDATE device SET fetched_digest = '' WHERE fetched_digest != '';

-- The render cache's generation must move when the new secret columns do.
DROP TRIGGER cg_device_u;
CREATE TRIGGER cg_device_u AFTER UPDATE OF mac, tenant_id, layout, model, label, template, pinned_version,
  status, http_user, ha1_md5, ha1_sha256, ha1_enc, overrides ON device BEGIN UPDATE config_gen SET gen = gen + 1; END;
DROP TRIGGER cg_account_u;
CREATE TRIGGER cg_account_u AFTER UPDATE OF device_id, line, display_name, extension, username,
  auth_username, password_enc, token, token_revoked, token_hash, token_enc ON account
  BEGIN UPDATE config_gen SET gen = gen + 1; END;
