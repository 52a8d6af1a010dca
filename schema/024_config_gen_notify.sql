-- 024 (issue 17): on PostgreSQL the config generation's bump also sends a
-- NOTIFY so the nodes sharing one database learn of changes (schema/pg/024).
-- SQLite has one node per file and nothing to notify: sipprovd reads
-- config_gen as before.  This statement changes nothing; the migration
-- exists so both backends have the same numbers (tests/t/9d).
SELECT 1;
