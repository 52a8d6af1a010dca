-- 029 (issue 18): the log of changed render rows that a PostgreSQL node's
-- local copy (database_copy) catches up from: one row per (generation,
-- table, row id) that a transaction changed, written by the generation
-- bump's triggers (schema/pg/029), and render_change_floor: the log holds
-- every change above that generation (older rows are pruned).  A SQLite
-- database is read where it is written and keeps no copy: the tables are
-- here so both schemas stay the same (tests/t/9d), and stay empty.
CREATE TABLE render_change (
  gen    INTEGER NOT NULL,
  tbl    TEXT NOT NULL,
  row_id INTEGER NOT NULL,
  at     INTEGER NOT NULL,
  PRIMARY KEY (gen, tbl, row_id)
);
CREATE TABLE render_change_floor (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);
INSERT INTO render_change_floor VALUES (1, (SELECT gen FROM config_gen));
