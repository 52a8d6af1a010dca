#!/bin/sh
# Schema parity between the backends (issue 17): every schema/NNN_name.sql
# has a schema/pg/NNN_name.sql and the other way round; after migrating a
# SQLite file and a PostgreSQL database (tests/pglib.sh), table by table
# the tables, columns (name, nullability, type class integer/text/blob/
# real), primary keys, unique constraints and indexes, other indexes (name,
# columns, partial or not) and foreign keys (columns, target, ON DELETE)
# are the same; any difference fails naming it, but the few by design
# (by_design: fetch_log's and registration's primary keys hold the day
# they are partitioned by on PostgreSQL; SQLite's fetch history is a chain,
# schema 027, where PostgreSQL keeps an index).  The comparison is shown to
# catch planted differences.  Then the config generation: 10,000 inserts
# in one transaction bump it once on PostgreSQL, timed against a literal
# per-row port of SQLite's triggers.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql sqlite3
pg_start

# Every migration in both dialects, under the same number and name.
sq_files=$(cd "$ROOT/schema" && ls *.sql)
pg_files=$(cd "$ROOT/schema/pg" && ls *.sql)
missing=$(for f in $sq_files; do [ -e "$ROOT/schema/pg/$f" ] || echo "$f"; done | tr '\n' ' ')
is "$missing" "" "every SQLite migration has a schema/pg counterpart (missing: ${missing:-none})"
extra=$(for f in $pg_files; do [ -e "$ROOT/schema/$f" ] || echo "$f"; done | tr '\n' ' ')
is "$extra" "" "every schema/pg migration has a SQLite one under the same name (extra: ${extra:-none})"

: > "$T/parity.db"
"$SIPPROV" -d "$T/parity.db" migrate >/dev/null || bail "sqlite migrate"
"$SIPPROV" -d "$PGURL" migrate >/dev/null || bail "pg migrate"

# One line per fact: TABLE|kind|details, the same shape from both.
sqlite_facts() {
	sqlite3 "$1" <<'EOF'
WITH t AS (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%')
SELECT t.name || '|table' FROM t
UNION ALL
SELECT t.name || '|column|' || p.name || '|' ||
  CASE WHEN upper(p.type) LIKE '%INT%' THEN 'integer'
       WHEN upper(p.type) LIKE '%TEXT%' OR upper(p.type) LIKE '%CHAR%' THEN 'text'
       WHEN upper(p.type) = 'BLOB' THEN 'blob'
       WHEN upper(p.type) IN ('REAL', 'DOUBLE', 'FLOAT') THEN 'real'
       ELSE 'other:' || p.type END || '|' ||
  CASE WHEN p."notnull" OR p.pk > 0 THEN 'not null' ELSE 'null' END
FROM t, pragma_table_info(t.name) p
UNION ALL
SELECT t.name || '|primary key|' ||
  (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(t.name) WHERE pk > 0 ORDER BY pk))
FROM t WHERE EXISTS (SELECT 1 FROM pragma_table_info(t.name) WHERE pk > 0)
UNION ALL
SELECT t.name || '|' || CASE WHEN il."unique" THEN 'unique|' ELSE 'index|' || il.name || '|' END ||
  (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) ||
  CASE WHEN il.partial THEN '|partial' ELSE '' END
FROM t, pragma_index_list(t.name) il WHERE il.origin <> 'pk'
UNION ALL
SELECT t.name || '|foreign key|' ||
  (SELECT group_concat("from", ',') FROM (SELECT "from" FROM pragma_foreign_key_list(t.name) WHERE id = f.id ORDER BY seq)) ||
  '|' || f."table" || '(' ||
  (SELECT group_concat("to", ',') FROM (SELECT "to" FROM pragma_foreign_key_list(t.name) WHERE id = f.id ORDER BY seq)) ||
  ')|on delete ' || lower(f.on_delete)
FROM t, pragma_foreign_key_list(t.name) f WHERE f.seq = 0;
EOF
}
pg_facts() {
	psql "$1" -X -q -A -t -v ON_ERROR_STOP=1 <<'EOF'
WITH t AS (SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition)
SELECT t.relname || '|table' FROM t
UNION ALL
SELECT t.relname || '|column|' || a.attname || '|' ||
  CASE WHEN ty.typname IN ('int2', 'int4', 'int8') THEN 'integer'
       WHEN ty.typname IN ('text', 'varchar', 'bpchar') THEN 'text'
       WHEN ty.typname = 'bytea' THEN 'blob'
       WHEN ty.typname IN ('float4', 'float8', 'numeric') THEN 'real'
       ELSE 'other:' || ty.typname END || '|' ||
  CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END
FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type ty ON ty.oid = a.atttypid
UNION ALL
SELECT t.relname || '|' ||
  CASE WHEN i.indisprimary THEN 'primary key|' WHEN i.indisunique THEN 'unique|' ELSE 'index|' || ic.relname || '|' END ||
  (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
     FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) ||
  CASE WHEN i.indpred IS NOT NULL THEN '|partial' ELSE '' END
FROM t JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL
SELECT t.relname || '|foreign key|' ||
  (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(co.conkey) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum) ||
  '|' || rt.relname || '(' ||
  (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(co.confkey) WITH ORDINALITY k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.attnum) ||
  ')|on delete ' || CASE co.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
                                        WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END
FROM t JOIN pg_constraint co ON co.conrelid = t.oid AND co.contype = 'f' JOIN pg_class rt ON rt.oid = co.confrelid;
EOF
}
# differences TABLE: the facts of TABLE only one side has, named by side.
differences() {
	grep "^$1|" "$T/sq.facts" | sort > "$T/a"
	grep "^$1|" "$T/pg.facts" | sort > "$T/b"
	comm -23 "$T/a" "$T/b" | sed 's/^/only in SQLite: /'
	comm -13 "$T/a" "$T/b" | sed 's/^/only in PostgreSQL: /'
}

sqlite_facts "$T/parity.db" > "$T/sq.facts" || bail "reading the SQLite schema"
pg_facts "$PGURL" > "$T/pg.facts" || bail "reading the PostgreSQL schema"
tables=$(cut -d'|' -f1 "$T/sq.facts" "$T/pg.facts" | sort -u)
# Differences by design, each exactly as listed (anything else still fails):
# fetch_log and registration are partitioned by day on PostgreSQL (schema/pg
# 025), and a partitioned table's primary key must hold the partition key.
# (Their partitions are storage, not tables of the schema: left out above.)
# Their foreign keys are gone on PostgreSQL (schema/pg/026): a trigger on
# device and account does what ON DELETE SET NULL did (tests/t/a4 checks).
# On SQLite a device's fetch history is a chain (schema 027: fetch_log.prev,
# and device_fetch.fetched_log since 028; no foreign key, no index by
# device); PostgreSQL keeps its index fetch_log_device.
by_design() {
	case $1 in
	device_fetch)
		printf 'only in SQLite: device_fetch|column|fetched_log|integer|not null' ;;
	fetch_log)
		printf 'only in SQLite: fetch_log|column|prev|integer|not null\n'
		printf 'only in PostgreSQL: fetch_log|index|fetch_log_device|device_id,at\n' ;;
	registration)
		printf 'only in SQLite: registration|foreign key|account_id|account(id)|on delete set null\n'
		printf 'only in SQLite: registration|foreign key|device_id|device(id)|on delete set null\n' ;;
	esac
	case $1 in
	fetch_log|registration)
		printf 'only in SQLite: %s|primary key|id\nonly in PostgreSQL: %s|primary key|id,at' "$1" "$1" ;;
	esac
}
for tb in $tables; do
	d=$(differences "$tb" | sort)
	why=""
	case $tb in
	fetch_log | registration) why=" (but the primary key and foreign keys by design: partitioned by day on PostgreSQL)" ;;
	esac
	[ "$tb" = device ] || [ "$tb" = fetch_log ] && why="$why (and the fetch chain by design: SQLite walks it, PostgreSQL has the index)"
	is "$d" "$(by_design "$tb" | sort)" "table $tb: same columns, keys, indexes and foreign keys on both backends$why"
done
for k in table column "primary key" unique index "foreign key"; do
	n=$(grep -c "^[^|]*|$k|\{0,1\}" "$T/sq.facts")
	printf '%s\n' "$n" | grep -q '^[1-9]'; ok $? "the SQLite side has ${k} facts to compare ($n)"
done
diag "compared $(wc -l < "$T/sq.facts") facts over $(echo "$tables" | wc -w) tables"

# The comparison catches a planted difference of each kind, naming it.
MUT=$(pg_newdb mutant)
"$SIPPROV" -d "$MUT" migrate >/dev/null || bail "mutant migrate"
pg_sql mutant "ALTER TABLE device ALTER COLUMN label DROP NOT NULL;
	ALTER TABLE fetch_log ALTER COLUMN status TYPE text;
	ALTER TABLE account DROP CONSTRAINT account_device_id_fkey;
	ALTER TABLE firmware DROP CONSTRAINT firmware_vendor_model_version_key;
	DROP INDEX drift_unknown_src; CREATE INDEX drift_unknown_src ON drift_event(src_ip);
	ALTER TABLE job_item DROP CONSTRAINT job_item_pkey;
	ALTER TABLE contact ADD COLUMN extra text" >/dev/null || bail "planting differences"
pg_facts "$MUT" > "$T/pg.facts"
like "$(differences device)" "only in SQLite: device\|column\|label\|text\|not null" "a column's nullability"
like "$(differences fetch_log)" "only in PostgreSQL: fetch_log\|column\|status\|text" "a column's type class"
like "$(differences account)" "only in SQLite: account\|foreign key\|device_id\|device\(id\)\|on delete cascade" \
	"a foreign key"
like "$(differences firmware)" "only in SQLite: firmware\|unique\|vendor,model,version" "a unique constraint"
like "$(differences drift_event)" "only in SQLite: drift_event\|index\|drift_unknown_src\|src_ip\|partial" \
	"an index's partial WHERE"
like "$(differences job_item)" "only in SQLite: job_item\|primary key\|job_id,device_id" "a primary key"
like "$(differences contact)" "only in PostgreSQL: contact\|column\|extra" "an extra column"
is "$(differences tenant)" "" "(an untouched table still compares equal)"

# The config generation: once per transaction, however many rows.
gen() { pg_sql "$1" "SELECT gen FROM config_gen"; }
pg_sql sipprov "INSERT INTO tenant (slug, created) VALUES ('acme', 0)" >/dev/null
g0=$(gen sipprov)
# 10,000 INSERT statements, each firing the triggers, in one transaction
# and one round trip (so the time is the server's, not psql's).
cat > "$T/import.sql" <<'EOF'
DO $$ BEGIN
  FOR i IN 1..10000 LOOP
    INSERT INTO device (mac, tenant_id, layout, created)
      VALUES (lpad(to_hex(i), 12, '0'), (SELECT id FROM tenant WHERE slug = 'acme'), 'yealink', 0);
  END LOOP;
END $$;
EOF
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms); psql "$PGURL" -X -q -v ON_ERROR_STOP=1 -f "$T/import.sql" >/dev/null; rc=$?; t1=$(ms)
is "$rc" 0 "10,000 device inserts in one transaction"
is "$(pg_sql sipprov 'SELECT count(*) FROM device')" 10000 "(all there)"
is "$(gen sipprov)" "$((g0 + 1))" "they bumped the generation once"
guarded=$((t1 - t0))
g1=$(gen sipprov)
pg_sql sipprov "UPDATE device_fetch SET fetched_at = 5" >/dev/null
pg_sql sipprov "UPDATE device SET fetched_ip = '10.0.0.1'" >/dev/null
is "$(gen sipprov)" "$g1" "fetch bookkeeping on 10,000 rows does not bump it"
pg_sql sipprov "UPDATE device SET label = 'desk'" >/dev/null
is "$(gen sipprov)" "$((g1 + 1))" "a config change on 10,000 rows bumps it once"
printf 'BEGIN;\nINSERT INTO tenant (slug, created) VALUES (%s, 0);\nROLLBACK;\n' "'gone'" |
	psql "$PGURL" -X -q -v ON_ERROR_STOP=1 >/dev/null
is "$(gen sipprov)" "$((g1 + 1))" "a rolled-back transaction does not"
printf "BEGIN;\nSAVEPOINT a;\nINSERT INTO tenant (slug, created) VALUES ('x1', 0);\nROLLBACK TO a;\nINSERT INTO tenant (slug, created) VALUES ('x2', 0);\nINSERT INTO template (tenant_id, name, created) SELECT id, 'base', 0 FROM tenant WHERE slug = 'acme';\nCOMMIT;\n" |
	psql "$PGURL" -X -q -v ON_ERROR_STOP=1 >/dev/null
is "$(gen sipprov)" "$((g1 + 2))" "a transaction over two tables with a rolled-back savepoint bumps it once"
pg_sql sipprov "INSERT INTO tenant (slug, created) VALUES ('y1', 0)" >/dev/null
pg_sql sipprov "INSERT INTO tenant (slug, created) VALUES ('y2', 0)" >/dev/null
is "$(gen sipprov)" "$((g1 + 4))" "two transactions bump it twice"
pg_sql sipprov "INSERT INTO firmware (vendor, model, version, sha256, size, filename, added)
	VALUES ('yealink', 't46', '1', repeat('a', 64), 1, 'f.rom', 0)" >/dev/null
pg_sql sipprov "INSERT INTO web_password (tenant_id, role, password_enc) SELECT id, 'admin', 'x' FROM tenant WHERE slug = 'acme'" >/dev/null
is "$(gen sipprov)" "$((g1 + 6))" "firmware (019) and web passwords (020) bump it too"

# The same import against a literal port (one counter UPDATE per row).
"$SIPPROV" -d "$(pg_newdb perrow)" migrate >/dev/null || bail "perrow migrate"
pg_sql perrow "CREATE FUNCTION literal_bump() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN UPDATE config_gen SET gen = gen + 1; RETURN NULL; END \$\$;
	DROP TRIGGER cg_device_i ON device;
	CREATE TRIGGER cg_device_i AFTER INSERT ON device FOR EACH ROW EXECUTE FUNCTION literal_bump();
	INSERT INTO tenant (slug, created) VALUES ('acme', 0)" >/dev/null || bail "literal port"
p0=$(gen perrow)
t0=$(ms); psql "$(printf %s "$PGURL" | sed 's|/sipprov$|/perrow|')" -X -q -v ON_ERROR_STOP=1 -f "$T/import.sql" >/dev/null; t1=$(ms)
perrow=$((t1 - t0))
is "$(gen perrow)" "$((p0 + 10000))" "the literal per-row port bumps it 10,000 times"
# Other work shares the machine: time each variant once more, keep the best.
for db in sipprov perrow; do
	pg_sql $db "DELETE FROM device" >/dev/null
	t0=$(ms); psql "$(printf %s "$PGURL" | sed "s|/sipprov\$|/$db|")" -X -q -v ON_ERROR_STOP=1 -f "$T/import.sql" >/dev/null; t1=$(ms)
	if [ $db = sipprov ]; then [ $((t1 - t0)) -lt "$guarded" ] && guarded=$((t1 - t0))
	else [ $((t1 - t0)) -lt "$perrow" ] && perrow=$((t1 - t0)); fi
done
[ "$guarded" -lt "$perrow" ]; ok $? "once per transaction is faster: $guarded ms vs $perrow ms per row"
diag "10,000-row import in one transaction: generation once ${guarded} ms, per row ${perrow} ms"

done_testing
