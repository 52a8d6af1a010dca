-- 026 (issue 17): on PostgreSQL fetch_log and registration lose their
-- foreign keys, and a statement trigger on device / account does what
-- ON DELETE SET NULL did (schema/pg/026).  SQLite keeps its foreign keys:
-- one writer, and its intake is not bound by them.  This statement changes
-- nothing; the migration exists so both backends have the same numbers
-- (tests/t/9d).
SELECT 1;
