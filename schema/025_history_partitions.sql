-- 025 (issue 17): on PostgreSQL fetch_log and registration become tables
-- partitioned by day, and retention drops whole days (schema/pg/025).
-- SQLite has one node per file and deletes old rows by age as before
-- (store_prune).  This statement changes nothing; the migration exists so
-- both backends have the same numbers (tests/t/9d).
SELECT 1;
