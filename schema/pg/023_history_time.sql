-- 023 (PostgreSQL dialect of schema/023_history_time.sql): fetch_log and
-- registration by time, for retention and the overview's hourly counts.
CREATE INDEX fetch_log_at ON fetch_log(at);
CREATE INDEX registration_at ON registration(at);
