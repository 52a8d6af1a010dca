-- 022 (PostgreSQL dialect of schema/022_job_queue.sql): reprovision jobs
-- queued through the admin API for sipprovd's one worker: tenant scope
-- (0 = every tenant and the CLI's runs), who asked, queued / started.
ALTER TABLE job ADD COLUMN tenant_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE job ADD COLUMN queued BIGINT NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN started BIGINT NOT NULL DEFAULT 0;
CREATE INDEX job_tenant ON job(tenant_id, id);
CREATE INDEX job_waiting ON job(queued, finished, id);
