-- 001: the whole sipprov data model.  Released migrations are never edited;
-- a change is a new numbered file.  Times are unix seconds (UTC).
-- Settings (template versions, tenant defaults, device overrides) are
-- canonical JSON objects: sorted keys, compact, UTF-8.

CREATE TABLE tenant (
  id                    INTEGER PRIMARY KEY,
  slug                  TEXT NOT NULL UNIQUE,
  name                  TEXT NOT NULL DEFAULT '',
  status                TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','suspended')),
  device_auth           TEXT NOT NULL DEFAULT 'digest',   -- comma list of none,digest,mtls,token
  allow_cidrs           TEXT NOT NULL DEFAULT '',         -- comma list; empty = any source
  username_pattern      TEXT NOT NULL DEFAULT '',         -- POSIX ERE; empty = no policy
  auth_username_pattern TEXT NOT NULL DEFAULT '',
  max_per_user          INTEGER NOT NULL DEFAULT 0,       -- 0 = unlimited
  default_template      TEXT NOT NULL DEFAULT '',
  defaults              TEXT NOT NULL DEFAULT '{}',       -- settings applied under device overrides
  created               INTEGER NOT NULL
);

CREATE TABLE template (
  id        INTEGER PRIMARY KEY,
  tenant_id INTEGER NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  name      TEXT NOT NULL,
  current   INTEGER NOT NULL DEFAULT 0,                   -- number of the current version
  created   INTEGER NOT NULL,
  UNIQUE (tenant_id, name)
);

-- Append-only: rows are inserted, never updated or deleted (trigger below).
CREATE TABLE template_version (
  id          INTEGER PRIMARY KEY,
  template_id INTEGER NOT NULL REFERENCES template(id) ON DELETE CASCADE,
  number      INTEGER NOT NULL,
  settings    TEXT NOT NULL,                              -- canonical JSON
  sha256      TEXT NOT NULL,                              -- of settings
  author      TEXT NOT NULL,
  comment     TEXT NOT NULL DEFAULT '',
  created     INTEGER NOT NULL,
  UNIQUE (template_id, number)
);
CREATE TRIGGER template_version_immutable BEFORE UPDATE ON template_version
BEGIN SELECT RAISE(ABORT, 'template versions are immutable'); END;

CREATE TABLE device (
  id              INTEGER PRIMARY KEY,
  mac             TEXT NOT NULL UNIQUE,                   -- 12 lowercase hex
  tenant_id       INTEGER NOT NULL REFERENCES tenant(id),
  layout          TEXT NOT NULL,
  model           TEXT NOT NULL DEFAULT '',
  label           TEXT NOT NULL DEFAULT '',
  template        TEXT NOT NULL DEFAULT '',               -- template name; '' = tenant default
  pinned_version  INTEGER NOT NULL DEFAULT 0,             -- 0 = follow current
  status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),
  http_user       TEXT NOT NULL DEFAULT '',
  ha1_md5         TEXT NOT NULL DEFAULT '',
  ha1_sha256      TEXT NOT NULL DEFAULT '',
  overrides       TEXT NOT NULL DEFAULT '{}',
  fetched_at      INTEGER NOT NULL DEFAULT 0,
  fetched_ip      TEXT NOT NULL DEFAULT '',
  fetched_ua      TEXT NOT NULL DEFAULT '',
  fetched_version INTEGER NOT NULL DEFAULT 0,
  fetched_digest  TEXT NOT NULL DEFAULT '',
  created         INTEGER NOT NULL
);
CREATE INDEX device_tenant ON device(tenant_id);

CREATE TABLE account (
  id            INTEGER PRIMARY KEY,
  device_id     INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  line          INTEGER NOT NULL CHECK (line BETWEEN 1 AND 16),
  display_name  TEXT NOT NULL DEFAULT '',
  extension     TEXT NOT NULL DEFAULT '',
  username      TEXT NOT NULL,
  auth_username TEXT NOT NULL,
  password_enc  TEXT NOT NULL,                            -- base64(nonce|ciphertext|tag), AES-256-GCM
  token         TEXT UNIQUE,                              -- softphone URL token, 32 hex; NULL = none
  token_revoked INTEGER NOT NULL DEFAULT 0,
  last_code     INTEGER NOT NULL DEFAULT 0,               -- last final REGISTER response seen
  last_code_at  INTEGER NOT NULL DEFAULT 0,
  UNIQUE (device_id, line)
);
CREATE INDEX account_username ON account(username);
CREATE INDEX account_auth_username ON account(auth_username);

CREATE TABLE fetch_log (
  id         INTEGER PRIMARY KEY,
  device_id  INTEGER REFERENCES device(id) ON DELETE SET NULL,
  at         INTEGER NOT NULL,
  ip         TEXT NOT NULL,
  user_agent TEXT NOT NULL DEFAULT '',
  path       TEXT NOT NULL DEFAULT '',
  status     INTEGER NOT NULL,
  version    INTEGER NOT NULL DEFAULT 0,
  digest     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fetch_log_device ON fetch_log(device_id, at);

CREATE TABLE registration (
  id            INTEGER PRIMARY KEY,
  at            INTEGER NOT NULL,
  source        TEXT NOT NULL,                            -- 'hep' | 'webhook'
  src_ip        TEXT NOT NULL DEFAULT '',
  src_port      INTEGER NOT NULL DEFAULT 0,
  transport     TEXT NOT NULL DEFAULT '',
  registrar     TEXT NOT NULL DEFAULT '',
  port          INTEGER NOT NULL DEFAULT 0,
  username      TEXT NOT NULL DEFAULT '',
  auth_username TEXT NOT NULL DEFAULT '',
  user_agent    TEXT NOT NULL DEFAULT '',
  contact       TEXT NOT NULL DEFAULT '',
  expires       INTEGER NOT NULL DEFAULT 0,
  code          INTEGER NOT NULL DEFAULT 0,               -- final response; 0 = none seen
  device_id     INTEGER REFERENCES device(id) ON DELETE SET NULL,
  account_id    INTEGER REFERENCES account(id) ON DELETE SET NULL
);
CREATE INDEX registration_account ON registration(account_id, at);
CREATE INDEX registration_device ON registration(device_id, at);

CREATE TABLE drift_event (
  id         INTEGER PRIMARY KEY,
  device_id  INTEGER REFERENCES device(id) ON DELETE CASCADE,
  account_id INTEGER REFERENCES account(id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,      -- registrar transport port username auth_username stale never_fetched unknown_user
  expected   TEXT NOT NULL DEFAULT '',
  observed   TEXT NOT NULL DEFAULT '',
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  count      INTEGER NOT NULL DEFAULT 1,
  resolved   INTEGER NOT NULL DEFAULT 0                   -- time resolved; 0 = open
);
CREATE INDEX drift_open ON drift_event(device_id, kind, resolved);

CREATE TABLE audit_log (
  id            INTEGER PRIMARY KEY,
  at            INTEGER NOT NULL,
  actor         TEXT NOT NULL,
  action        TEXT NOT NULL,
  object        TEXT NOT NULL,
  before_digest TEXT NOT NULL DEFAULT '',
  after_digest  TEXT NOT NULL DEFAULT '',
  detail        TEXT NOT NULL DEFAULT ''
);

CREATE TABLE device_log (                                 -- Polycom PUT uploads, bounded per device
  id        INTEGER PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  at        INTEGER NOT NULL,
  name      TEXT NOT NULL,
  body      BLOB NOT NULL
);
CREATE INDEX device_log_device ON device_log(device_id, at);

CREATE TABLE job (                                        -- reprovision runs
  id       INTEGER PRIMARY KEY,
  kind     TEXT NOT NULL,
  created  INTEGER NOT NULL,
  finished INTEGER NOT NULL DEFAULT 0,
  params   TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE job_item (
  job_id    INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
  device_id INTEGER NOT NULL REFERENCES device(id) ON DELETE CASCADE,
  result    TEXT NOT NULL DEFAULT 'pending',              -- pending sent 200 481 other timeout no_contact
  detail    TEXT NOT NULL DEFAULT '',
  at        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, device_id)
);
