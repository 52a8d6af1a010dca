-- 011: bearer tokens for the admin API (`sipprov api-token`).  Only a keyed
-- hash of the token is stored (HMAC-SHA256 under the key file, label
-- "sipprov api token v1"); the token itself is printed once, at creation.
-- tenant_id NULL = every tenant.  A revoked token keeps its row (and name)
-- so the audit log's "who" stays meaningful.
CREATE TABLE api_token (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    tenant_id  INTEGER REFERENCES tenant(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'read-only')),
    token_hash TEXT NOT NULL UNIQUE,
    created    INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
