-- 014: where the phone's REGISTER went (the HEP destination address), so
-- diagnose can compare it with what the server name resolves to now and
-- with where the domain is seen registering: a stale or wrong DNS record,
-- or a server name that points at another registrar.  '' = not known
-- (webhook observations, rows from before 014).
ALTER TABLE registration ADD COLUMN dst_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX registration_domain ON registration(registrar, at);
