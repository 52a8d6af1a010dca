-- 023: fetch_log and registration by time.  Retention deletes the rows
-- older than a cut-off (store_prune, hourly) and the console's overview
-- counts registrations per hour of the last days: without these indexes
-- both scanned the whole history (at 90 days of a large fleet, hundreds of
-- millions of rows every hour).  Rows arrive in time order, so the indexes
-- grow at their right edge.
CREATE INDEX fetch_log_at ON fetch_log(at);
CREATE INDEX registration_at ON registration(at);
