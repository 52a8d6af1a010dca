-- 027 (issue 18): on SQLite a device's fetch history becomes a chain
-- (fetch_log.prev, device.fetched_log) instead of the index fetch_log_device
-- and the foreign key to device (schema/027).  PostgreSQL keeps its index:
-- its history is partitioned by day (025), without foreign keys (026), and
-- what bounds its fetch writer is the round trip, not the index.  This
-- statement changes nothing; the migration exists so both backends have
-- the same numbers (tests/t/9d).
SELECT 1;
