-- 021: people who log in to the web console (/ui/ on admin_listen) and
-- their sessions.  pw_hash is "scrypt$N$r$p$salt$hash" (user.c); a session
-- row holds only a keyed hash of the cookie, so a stolen database yields no
-- usable session.  tenant_id NULL = every tenant, as for api_token.
CREATE TABLE console_user (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    tenant_id  INTEGER REFERENCES tenant(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'read-only')),
    pw_hash    TEXT NOT NULL,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL
);
CREATE TABLE console_session (
    id         INTEGER PRIMARY KEY,
    sid_hash   TEXT NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES console_user(id) ON DELETE CASCADE,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
CREATE INDEX console_session_user ON console_session(user_id);
