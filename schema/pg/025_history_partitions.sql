-- 025 (issue 17): fetch_log and registration partitioned by day.  Both
-- grow with every fetch and REGISTER; retention used to DELETE old rows,
-- which on a busy shared database meant millions of dead tuples a day for
-- vacuum.  Now each is PARTITION BY RANGE (at), one partition per UTC day
-- (at is epoch seconds: <table>_pYYYYMMDD holds day * 86400 <= at <
-- (day + 1) * 86400), plus <table>_default, which takes any row no day
-- partition covers (a day the pruner has not created yet, a clock far off)
-- so an insert never fails for want of a partition.  Retention drops the
-- day partitions wholly older than retention_days and deletes only the
-- DEFAULT partition's old rows.  sipprovd's pruner runs sp_part_upkeep
-- below on one node only (store_pg_upkeep, SP_PG_LOCK_PRUNE).
--
-- A partitioned table's primary key must hold the partition key: the key
-- is (id, at), not id (tests/t/9d documents the difference).  Nothing
-- references these rows by foreign key and no statement upserts into
-- them; id stays unique in practice (one identity sequence).

-- The day partition's name: fetch_log_p20261201.
CREATE FUNCTION sp_part_name(tbl TEXT, day BIGINT) RETURNS TEXT LANGUAGE sql STABLE AS
$$ SELECT tbl || '_p' || to_char(date '1970-01-01' + day::int, 'YYYYMMDD') $$;

-- The partition of tbl for UTC day number `day`, unless one exists: built
-- beside tbl, given the rows of that day the DEFAULT partition caught, then
-- attached.  ATTACH PARTITION takes a SHARE UPDATE EXCLUSIVE lock on tbl,
-- so writers and readers go on; CREATE TABLE ... PARTITION OF would take
-- an ACCESS EXCLUSIVE one.  DEFAULT is locked against writes first: a row
-- of that day written there after the move would make ATTACH fail.  The
-- rows moved, or -1 when it existed.
CREATE FUNCTION sp_part_create(tbl TEXT, day BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
  p TEXT := sp_part_name(tbl, day);
  lo BIGINT := day * 86400;
  moved BIGINT;
BEGIN
  IF to_regclass(quote_ident(p)) IS NOT NULL THEN
    RETURN -1;
  END IF;
  EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', tbl || '_default');
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', p, tbl);
  EXECUTE format('WITH m AS (DELETE FROM %I WHERE at >= %s AND at < %s RETURNING *) INSERT INTO %I SELECT * FROM m',
                 tbl || '_default', lo, lo + 86400, p);
  GET DIAGNOSTICS moved = ROW_COUNT;
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', tbl, p, lo, lo + 86400);
  RETURN moved;
END $$;

-- One pass of upkeep on tbl at time now_at (epoch seconds): partitions for
-- today and the `ahead` UTC days after it; when before > 0, every day
-- partition wholly older than before dropped and the DEFAULT partition's
-- rows older than before deleted.  A row per thing done: ('created', the
-- partition, rows moved from DEFAULT), ('dropped', the partition, rows it
-- held), ('deleted', the DEFAULT partition, rows deleted).  Only
-- partitions named as sp_part_name names them are dropped.  A lock not
-- granted within 2 s (DROP TABLE waits for readers of tbl, and writers
-- would queue behind it) fails the pass, which the next one retries.
CREATE FUNCTION sp_part_upkeep(tbl TEXT, now_at BIGINT, ahead BIGINT, before BIGINT)
  RETURNS TABLE (action TEXT, part TEXT, nrows BIGINT) LANGUAGE plpgsql AS $$
DECLARE
  d BIGINT;
  r RECORD;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  FOR d IN (now_at / 86400) .. (now_at / 86400 + ahead) LOOP
    nrows := sp_part_create(tbl, d);
    IF nrows >= 0 THEN
      action := 'created';
      part := sp_part_name(tbl, d);
      RETURN NEXT;
    END IF;
  END LOOP;
  IF before <= 0 THEN
    RETURN;
  END IF;
  FOR r IN SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = tbl::regclass AND c.relname ~ ('^' || tbl || '_p[0-9]{8}$')
           ORDER BY c.relname LOOP
    d := to_date(right(r.name, 8), 'YYYYMMDD') - date '1970-01-01';
    IF (d + 1) * 86400 <= before THEN
      EXECUTE format('SELECT count(*) FROM %I', r.name) INTO nrows;
      EXECUTE format('DROP TABLE %I', r.name);
      action := 'dropped';
      part := r.name;
      RETURN NEXT;
    END IF;
  END LOOP;
  EXECUTE format('DELETE FROM %I WHERE at < %s', tbl || '_default', before);
  GET DIAGNOSTICS nrows = ROW_COUNT;
  IF nrows > 0 THEN
    action := 'deleted';
    part := tbl || '_default';
    RETURN NEXT;
  END IF;
END $$;

-- The rows move once, in this migration's transaction: the old tables are
-- renamed out of the way (their indexes and identity sequences too, whose
-- names the new tables take), the new ones get a partition for every day
-- the history holds (rows before 1970 stay in DEFAULT) and for the days
-- ahead, the rows are copied with their ids, and the identity continues
-- after the largest.
ALTER TABLE fetch_log RENAME TO sp_old_fetch_log;
ALTER TABLE sp_old_fetch_log RENAME CONSTRAINT fetch_log_pkey TO sp_old_fetch_log_pkey;
ALTER SEQUENCE fetch_log_id_seq RENAME TO sp_old_fetch_log_id_seq;
DROP INDEX fetch_log_device;
DROP INDEX fetch_log_at;

CREATE TABLE fetch_log (
  id         BIGINT GENERATED BY DEFAULT AS IDENTITY,
  device_id  BIGINT REFERENCES device(id) ON DELETE SET NULL,
  at         BIGINT NOT NULL,
  ip         TEXT NOT NULL,
  user_agent TEXT NOT NULL DEFAULT '',
  path       TEXT NOT NULL DEFAULT '',
  status     BIGINT NOT NULL,
  version    BIGINT NOT NULL DEFAULT 0,
  digest     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE fetch_log_default PARTITION OF fetch_log DEFAULT;
CREATE INDEX fetch_log_device ON fetch_log(device_id, at);
CREATE INDEX fetch_log_at ON fetch_log(at);
SELECT sp_part_create('fetch_log', d) FROM (SELECT DISTINCT at / 86400 AS d FROM sp_old_fetch_log WHERE at >= 0) days;
SELECT count(*) FROM sp_part_upkeep('fetch_log', extract(epoch FROM now())::bigint, 3, 0);
INSERT INTO fetch_log (id, device_id, at, ip, user_agent, path, status, version, digest)
  SELECT id, device_id, at, ip, user_agent, path, status, version, digest FROM sp_old_fetch_log;
SELECT setval(pg_get_serial_sequence('fetch_log', 'id'), coalesce(max(id), 0) + 1, false) FROM fetch_log;
DROP TABLE sp_old_fetch_log;

ALTER TABLE registration RENAME TO sp_old_registration;
ALTER TABLE sp_old_registration RENAME CONSTRAINT registration_pkey TO sp_old_registration_pkey;
ALTER SEQUENCE registration_id_seq RENAME TO sp_old_registration_id_seq;
DROP INDEX registration_account;
DROP INDEX registration_device;
DROP INDEX registration_domain;
DROP INDEX registration_at;

CREATE TABLE registration (
  id            BIGINT GENERATED BY DEFAULT AS IDENTITY,
  at            BIGINT NOT NULL,
  source        TEXT NOT NULL,
  src_ip        TEXT NOT NULL DEFAULT '',
  src_port      BIGINT NOT NULL DEFAULT 0,
  transport     TEXT NOT NULL DEFAULT '',
  registrar     TEXT NOT NULL DEFAULT '',
  port          BIGINT NOT NULL DEFAULT 0,
  username      TEXT NOT NULL DEFAULT '',
  auth_username TEXT NOT NULL DEFAULT '',
  user_agent    TEXT NOT NULL DEFAULT '',
  contact       TEXT NOT NULL DEFAULT '',
  expires       BIGINT NOT NULL DEFAULT 0,
  code          BIGINT NOT NULL DEFAULT 0,
  device_id     BIGINT REFERENCES device(id) ON DELETE SET NULL,
  account_id    BIGINT REFERENCES account(id) ON DELETE SET NULL,
  reason        TEXT NOT NULL DEFAULT '',
  reason_detail TEXT NOT NULL DEFAULT '',
  dst_ip        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE TABLE registration_default PARTITION OF registration DEFAULT;
CREATE INDEX registration_account ON registration(account_id, at);
CREATE INDEX registration_device ON registration(device_id, at);
CREATE INDEX registration_domain ON registration(registrar, at);
CREATE INDEX registration_at ON registration(at);
SELECT sp_part_create('registration', d)
  FROM (SELECT DISTINCT at / 86400 AS d FROM sp_old_registration WHERE at >= 0) days;
SELECT count(*) FROM sp_part_upkeep('registration', extract(epoch FROM now())::bigint, 3, 0);
INSERT INTO registration (id, at, source, src_ip, src_port, transport, registrar, port, username, auth_username,
                          user_agent, contact, expires, code, device_id, account_id, reason, reason_detail, dst_ip)
  SELECT id, at, source, src_ip, src_port, transport, registrar, port, username, auth_username,
         user_agent, contact, expires, code, device_id, account_id, reason, reason_detail, dst_ip
  FROM sp_old_registration;
SELECT setval(pg_get_serial_sequence('registration', 'id'), coalesce(max(id), 0) + 1, false) FROM registration;
DROP TABLE sp_old_registration;
