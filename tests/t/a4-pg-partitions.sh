#!/bin/sh
# fetch_log and registration partitioned by day on PostgreSQL (issue 17,
# schema/pg/025) on a real throwaway cluster (tests/pglib.sh): migrating a
# schema-024 database moves its history into day partitions, ids kept;
# rows land in the partition of their UTC day (tableoid), a row for a day
# without one in the DEFAULT partition, not an error; a day's partition
# made under a writer's uncommitted row of that day waits and takes the
# row; of two sipprovd nodes on one database only the one holding the
# pruner's advisory lock keeps the partitions: it creates the days ahead
# (moving what DEFAULT caught), drops the days older than retention_days
# and logs each, the other logs that another node does it; recent rows
# stay; once the first node stops, the next node to start takes the lock
# over.  It starts its own cluster, whatever SP_BACKEND says, as the other
# a* scripts do (own_clusters).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"
DB="$PGURL"

now=$(date +%s)
today=$((now / 86400))
day() { date -u -d "@$(($1 * 86400))" +%Y%m%d; }   # partition suffix of a day number
part_of() { date -u -d "@$1" +%Y%m%d; }             # ... of an epoch time

# ---- Migration: a database at schema 024 with history, then `sipprov migrate`.
OLD=$(pg_newdb old)
pg_sql old "CREATE TABLE schema_migration (number BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)" \
	>/dev/null
for f in "$ROOT"/schema/pg/*.sql; do
	name=$(basename "$f" .sql)
	n=$(echo "$name" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	[ "$n" -lt 25 ] || continue
	psql "$OLD" -X -q -1 -v ON_ERROR_STOP=1 -f "$f" >/dev/null 2>"$T/old.err" ||
		bail "applying $name: $(cat "$T/old.err")"
	pg_sql old "INSERT INTO schema_migration VALUES ($n, '$name', 0)" >/dev/null
done
# Five days of fetches (two a day), registrations, and one row from 1970.
vals=""; rvals=""
for k in 0 1 2 3 4; do
	vals="$vals($((now - k * 86400)), '10.0.0.$k', 200), ($((now - k * 86400 - 60)), '10.0.1.$k', 200), "
	rvals="$rvals($((now - k * 86400)), 'hep', 'u$k'), "
done
pg_sql old "INSERT INTO fetch_log (at, ip, status) VALUES $vals(1000, '10.9.9.9', 200);
	INSERT INTO registration (at, source, username) VALUES ${rvals}(1000, 'hep', 'old')" >/dev/null ||
	bail "history at schema 024"
before=$(pg_sql old "SELECT id || ':' || at FROM fetch_log ORDER BY id" | tr '\n' ' ')
"$SIPPROV" -d "$OLD" migrate >"$T/migrate.out" 2>&1; ok $? "sipprov migrate from 024 with history"
is "$(pg_sql old "SELECT relkind FROM pg_class WHERE relname = 'fetch_log'")$(pg_sql old \
	"SELECT relkind FROM pg_class WHERE relname = 'registration'")" pp "both are partitioned tables now"
is "$(pg_sql old "SELECT id || ':' || at FROM fetch_log ORDER BY id" | tr '\n' ' ')" "$before" \
	"every fetch record is there, with its id and time"
is "$(pg_sql old "SELECT count(*) FROM registration")" 6 "every registration observation is there"
misplaced=$(pg_sql old "SELECT at || ' ' || tableoid::regclass FROM fetch_log UNION ALL
	SELECT at || ' ' || tableoid::regclass FROM registration" | while read -r at part; do
	case $part in *_p$(part_of "$at")) ;; *) echo "$at:$part" ;; esac
done)
is "$misplaced" "" "each row is in the partition of its UTC day (${misplaced:-none misplaced})"
is "$(pg_sql old "SELECT count(*) FROM pg_inherits WHERE inhparent = 'fetch_log'::regclass")" \
	"$(pg_sql old "SELECT count(DISTINCT at / 86400) + 4 + 1 FROM fetch_log
		WHERE at / 86400 NOT BETWEEN $today AND $((today + 3))")" \
	"fetch_log's partitions: the days of its history, today and 3 days ahead, and DEFAULT"
pg_sql old "SELECT 1 FROM pg_class WHERE relname = 'fetch_log_p$(day $((today + 3)))'" | grep -q 1
ok $? "the partition 3 days ahead exists after the migration"
maxid=$(pg_sql old "SELECT max(id) FROM fetch_log")
is "$(pg_sql old "INSERT INTO fetch_log (at, ip, status) VALUES ($now, 'n', 200) RETURNING id" | head -1)" \
	"$((maxid + 1))" "the identity goes on after the largest migrated id"
is "$(pg_sql old "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'sp_old%'")" 0 "the old tables are gone"

# ---- Rows land by day; a day without a partition goes to DEFAULT.
"$SIPPROV" -d "$DB" init >"$T/init.out" 2>&1; ok $? "sipprov init on PostgreSQL"
"$SIPPROV" -d "$DB" demo --devices 2 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo --devices 2"
# Ten past days as the pruner would have made them (each was once ahead).
pg_sql sipprov "SELECT sp_part_create(t, d) FROM unnest(ARRAY['fetch_log', 'registration']) t,
	generate_series($((today - 9)), $((today - 1))) d" >/dev/null || bail "past partitions"
# The partition 3 days ahead missing (no node ran for a while): its row goes to DEFAULT.
pg_sql sipprov "DROP TABLE fetch_log_p$(day $((today + 3)))" >/dev/null
vals=""; rvals=""
for k in 0 1 2 3 4 5 6 7 8 9; do
	vals="$vals((SELECT min(id) FROM device), $((now - k * 86400)), '10.0.0.$k', 200), "
	rvals="$rvals($((now - k * 86400)), 'hep', 'u$k'), "
done
ahead=$((now + 3 * 86400))
pg_sql sipprov "INSERT INTO fetch_log (device_id, at, ip, status) VALUES $vals(NULL, $ahead, '10.0.0.99', 200),
	(NULL, 1000, '10.9.9.9', 200);
	INSERT INTO registration (at, source, username) VALUES ${rvals}(1000, 'hep', 'old')" >/dev/null
ok $? "inserts over ten days, one 3 days ahead without a partition, one from 1970: no error"
misplaced=$(pg_sql sipprov "SELECT at || ' ' || tableoid::regclass FROM fetch_log
	WHERE at BETWEEN $((now - 9 * 86400)) AND $now
	UNION ALL SELECT at || ' ' || tableoid::regclass FROM registration WHERE at > 1000" | while read -r at part; do
	case $part in *_p$(part_of "$at")) ;; *) echo "$at:$part" ;; esac
done)
is "$misplaced" "" "each of the ten days' rows is in its day's partition (${misplaced:-none misplaced})"
is "$(pg_sql sipprov "SELECT tableoid::regclass FROM fetch_log WHERE at IN ($ahead, 1000)" | sort -u)" \
	fetch_log_default "the rows without a day partition are in fetch_log_default"

# A day's partition made while a writer has a row of that day in DEFAULT,
# not yet committed: the upkeep waits for it and moves it (without locking
# DEFAULT first, ATTACH would find the row and fail the pass).
race=$(((today + 5) * 86400 + 100))
printf "BEGIN;\nINSERT INTO fetch_log (at, ip, status) VALUES ($race, 'race', 200);\nSELECT pg_sleep(1);\nCOMMIT;\n" |
	psql "$DB" -X -q -v ON_ERROR_STOP=1 >/dev/null &
RACE=$!; track_pid $RACE
sleep 0.3
is "$(pg_sql sipprov "SELECT sp_part_create('fetch_log', $((today + 5)))" 2>&1)" 1 \
	"a day's partition made under a writer's uncommitted row of that day: waits, moves the row"
wait $RACE
is "$(pg_sql sipprov "SELECT tableoid::regclass FROM fetch_log WHERE ip = 'race'")" "fetch_log_p$(day $((today + 5)))" \
	"the writer's row is in the new partition"

# ---- Two nodes: one keeps the partitions.
keep=5
pg_node_start A -o threads=1 -o retention_days=$keep; PID_A=$NODE_PID
for _ in $(seq 1 100); do grep -q 'retention: removed' "$T/A.log" && break; sleep 0.1; done
pg_node_start B -o threads=1 -o retention_days=$keep; PORT_B=$NODE_PORT; PID_B=$NODE_PID
SIPPROVD_PID=$PID_B     # done_testing stops B (and counts its sanitizer reports)
for _ in $(seq 1 100); do grep -q 'retention: another node' "$T/B.log" && break; sleep 0.1; done
sed 's/^/# A: /' "$T/A.log" | grep retention
sed 's/^/# B: /' "$T/B.log" | grep retention
grep -q 'retention: this node keeps the fetch_log and registration partitions' "$T/A.log"
ok $? "A took the pruner's lock and says so"
grep -q 'retention: another node keeps the fetch_log and registration partitions' "$T/B.log"
ok $? "B found it taken and says so"
is "$(grep -c 'retention: \(dropped\|created\|removed\)' "$T/B.log")" 0 "B dropped, created and removed nothing"
dropped=$(sed -n 's/.*retention: dropped partition \([a-z_]*_p[0-9]*\) .*/\1/p' "$T/A.log" | sort | tr '\n' ' ')
want=""
for t in fetch_log registration; do
	for d in 9 8 7 6; do want="$want${t}_p$(day $((today - d))) "; done
done
want=$(echo "$want" | tr ' ' '\n' | grep . | sort | tr '\n' ' ')
is "$dropped" "$want" "A dropped the day partitions wholly older than $keep days, and only those"
like "$(cat "$T/A.log")" "retention: dropped partition fetch_log_p$(day $((today - 9))) \\(1 records\\)" \
	"a drop is logged with the rows it held"
like "$(cat "$T/A.log")" "retention: created partition fetch_log_p$(day $((today + 3))) \\(1 records moved" \
	"A created the missing day ahead, moving the row DEFAULT had caught"
is "$(pg_sql sipprov "SELECT tableoid::regclass FROM fetch_log WHERE at = $ahead")" "fetch_log_p$(day $((today + 3)))" \
	"that row is in its day's partition now"
grep -q 'retention: removed 2 fetch and registration records' "$T/A.log"
ok $? "DEFAULT's rows older than retention were deleted (one of each table)"
is "$(pg_sql sipprov "SELECT count(*) FROM fetch_log WHERE at = 1000")" 0 "the 1970 fetch record is gone"
is "$(pg_sql sipprov "SELECT string_agg(username, ',' ORDER BY at DESC) FROM registration")" u0,u1,u2,u3,u4,u5 \
	"registrations: the last $keep days (and the day straddling the cutoff) stay, older ones are gone"
is "$(pg_sql sipprov "SELECT count(*) FROM fetch_log WHERE ip LIKE '10.0.0.%'")" 7 \
	"fetch records: the same 6 days stay, and the one ahead"
is "$(pg_sql sipprov "SELECT count(*) FROM pg_class WHERE relname LIKE 'fetch_log_p%'
	AND relname < 'fetch_log_p$(day $((today - 5)))'")" 0 "no fetch_log partition older than day -$keep is left"
k=$(python3 -c 'print(0x73697070726f7603)')
is "$(pg_sql sipprov "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
	AND classid::bigint = ($k >> 32) AND objid::bigint = ($k & 4294967295)")" 1 \
	"one session holds the pruner's lock"

# A device's fetch through B is written to today's partition.
r=$(pg_node_get "$PORT_B" /001510000000.cfg sip.demo.test 5); like "$r" '^200 [0-9]' "B serves a demo device"
for _ in $(seq 1 50); do
	[ -n "$(pg_sql sipprov "SELECT 1 FROM fetch_log WHERE ip = '127.0.0.1' LIMIT 1")" ] && break
	sleep 0.1
done
is "$(pg_sql sipprov "SELECT DISTINCT tableoid::regclass FROM fetch_log WHERE ip = '127.0.0.1'")" \
	"fetch_log_p$(part_of "$(date +%s)")" "its fetch record is in today's partition"

# A stops: its lock goes with its connection; the next node to start takes it.
kill -TERM "$PID_A"
for _ in $(seq 1 100); do kill -0 "$PID_A" 2>/dev/null || break; sleep 0.05; done
pg_node_start C -o threads=1 -o retention_days=$keep; PID_C=$NODE_PID
for _ in $(seq 1 100); do grep -q 'retention: .* node keeps' "$T/C.log" && break; sleep 0.1; done
grep -q 'retention: this node keeps the fetch_log and registration partitions' "$T/C.log"
ok $? "after A stopped, node C took the pruner's lock"
is "$(grep -c 'retention: dropped' "$T/C.log")" 0 "with nothing left to drop"
kill -TERM "$PID_C"
for _ in $(seq 1 100); do kill -0 "$PID_C" 2>/dev/null || break; sleep 0.05; done

# ---- No foreign keys on the history (schema/pg/026): deleting a device
# or an account sets its rows' ids to NULL, as ON DELETE SET NULL did, for
# one row through the CLI and for many in one statement; a row naming no
# device is taken, not refused (an id deleted under the HEP intake's batch).
hist() {    # fetch and registration rows of device $1 (account $2)
	pg_sql sipprov "INSERT INTO fetch_log (device_id, at, ip, status) VALUES ($1, $now, 'fk', 200);
		INSERT INTO registration (at, source, username, device_id, account_id) VALUES ($now, 'fk', 'fk$1', $1, $2)" >/dev/null
}
n=7700
for m in 0015100000aa 0015100000ab 0015100000ac 0015100000ad; do
	n=$((n + 1))
	"$SIPPROV" -d "$DB" device add "$m" --tenant demo --layout yealink >/dev/null 2>&1 ||
		bail "device add $m: $("$SIPPROV" -d "$DB" device add "$m" --tenant demo --layout yealink 2>&1)"
	"$SIPPROV" -d "$DB" account add "$m" --line 1 --username "$n" --auth-username "a$m" --password pw12345678 \
		>"$T/acct.out" 2>&1 ||
		bail "account add $m: $(cat "$T/acct.out")"
	id=$(pg_sql sipprov "SELECT id FROM device WHERE mac = '$m'")
	hist "$id" "$(pg_sql sipprov "SELECT id FROM account WHERE device_id = $id")"
done
ids() { pg_sql sipprov "SELECT coalesce(device_id::text, '-') || '/' || coalesce(account_id::text, '-')
	FROM registration WHERE source = 'fk' ORDER BY username" | tr '\n' ' '; }
a_id=$(pg_sql sipprov "SELECT id FROM device WHERE mac = '0015100000aa'")
"$SIPPROV" -d "$DB" account rm 0015100000aa --line 1 >/dev/null; ok $? "account rm"
is "$(pg_sql sipprov "SELECT coalesce(account_id::text, 'NULL') || ' ' || device_id FROM registration
	WHERE username = 'fk$a_id'")" "NULL $a_id" "an account's removal sets its registrations' account_id to NULL, device kept"
"$SIPPROV" -d "$DB" device rm 0015100000aa >/dev/null; ok $? "device rm"
is "$(pg_sql sipprov "SELECT count(*) FILTER (WHERE device_id IS NULL) || '/' || count(*) FROM fetch_log WHERE ip = 'fk'")" \
	"1/4" "a device's removal sets its fetch records' device_id to NULL, the rows stay"
is "$(pg_sql sipprov "SELECT count(*) FROM registration WHERE source = 'fk' AND device_id IS NULL")" 1 \
	"... and its registrations'"
pg_sql sipprov "DELETE FROM device WHERE mac IN ('0015100000ab', '0015100000ac')" >/dev/null
is "$(ids)" "$(printf '%s ' -/- -/- -/- "$(pg_sql sipprov "SELECT d.id || '/' || a.id FROM device d JOIN account a
	ON a.device_id = d.id WHERE mac = '0015100000ad'")")" \
	"one statement deleting two devices (their accounts by cascade): all their ids NULL, the other device's kept"
pg_sql sipprov "INSERT INTO registration (at, source, username, device_id) VALUES ($now, 'fk', 'nodevice', 987654321)" \
	>/dev/null; ok $? "a registration naming a device that does not exist is taken (no insert-time check)"

# The upkeep again: nothing to do twice.
is "$(pg_sql sipprov "SELECT count(*) FROM sp_part_upkeep('fetch_log', $now, 3, $((now - keep * 86400)))")" 0 \
	"a second pass in the same day does nothing"
done_testing
