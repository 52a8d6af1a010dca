-- 022: reprovision jobs queued through the admin API and run by sipprovd's
-- one worker thread.  tenant_id scopes a job to a tenant token (0 = every
-- tenant, and the CLI's own runs); queued 1 = the worker runs it (the CLI
-- runs its own); started / finished: queued, running or done.
ALTER TABLE job ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
CREATE INDEX job_tenant ON job(tenant_id, id);
CREATE INDEX job_waiting ON job(queued, finished, id);
