#!/bin/sh
# A render miss on PostgreSQL ends its read snapshot in the round trip that
# reads it (store_begin_render's one_trip): BEGIN, the generation, the
# device, its lines, its web passwords and the COMMIT go in one pipeline,
# and no COMMIT follows on its own.  What the render reads after it (the
# tenant and template version a worker's memo does not hold yet) runs on
# its own, so the generation is read once more at the end; when it moved
# meanwhile, the render is done again inside one snapshot.  Seen from the
# server's statement log (log_statement = all), one sipprovd worker.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3 curl
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"
DB="$PGURL"
sp init >"$T/init.out" 2>&1; ok $? "sipprov init"
sp demo --devices 6 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo --devices 6"
pg_sql postgres "ALTER DATABASE sipprov SET log_statement = 'all'" >/dev/null; ok $? "the server logs every statement"
LOG="$PG_DIR/server.log"

# mac N: the demo's Nth MAC (even ones are Yealink).
mac() { printf '0015%08x' $((0x10000000 + $1)); }
# fetch N [digest]: the HTTP status of the Nth device's MAC file.
fetch() {
	if [ -n "${2:-}" ]; then
		curl -s -o "$T/body" -w '%{http_code}' --digest -u "$(mac "$1"):pw" "$URL/$(mac "$1").cfg"
	else
		curl -s -o /dev/null -w '%{http_code}' "$URL/$(mac "$1").cfg"
	fi
}
# since MARK: the server log's lines after line MARK; worker: the PID of
# the connection that read the device rows, from lines since MARK.
since() { tail -n +"$(($1 + 1))" "$LOG"; }
worker() { since "$1" | grep 'FROM device LEFT JOIN device_fetch ON device_id = id WHERE mac' |
	sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p' | head -1; }
of() { since "$1" | grep "\[$2\]"; }

start_sipprovd -o key_file="$T/sp.key" -o threads=1
# ---- two misses, the first with the memo empty ----
m0=$(wc -l < "$LOG")
is "$(fetch 0)" 401 "a miss of device 0's file: 401 (its entry built)"
pid=$(worker "$m0")
ok $([ -n "$pid" ]; echo $?) "  the worker's connection read the device rows"
of "$m0" "$pid" > "$T/first"
is "$(grep -c 'statement: COMMIT' "$T/first")" 0 "  no COMMIT of its own after the read"
is "$(grep -c 'execute [^:]*: COMMIT' "$T/first")" 1 "  the COMMIT went with the pipeline"
like "$(tr '\n' ' ' < "$T/first")" 'READ ONLY.*SELECT gen.*WHERE mac.*ORDER BY line.*web_password.*: COMMIT .*FROM tenant.*SELECT gen' \
	"  the tenant read after the snapshot, then the generation again"
m1=$(wc -l < "$LOG")
is "$(fetch 2)" 401 "a miss of device 2's file, the memo holding tenant and version"
of "$m1" "$pid" > "$T/second"
is "$(grep -c 'SELECT gen FROM config_gen' "$T/second")" 1 "  the generation read once: nothing ran after the snapshot"
is "$(grep -c 'FROM tenant' "$T/second")" 0 "  no tenant read"
is "$(fetch 0 digest)" 200 "device 0 with its digest: 200"
grep -q '^account.1.user_name = ' "$T/body"; ok $? "  its config"
stop_sipprovd

# ---- the generation moves between the snapshot and the tenant read ----
# A transaction holds the tenant table (ACCESS EXCLUSIVE: the worker's
# tenant read waits) and changes a tenant (the generation bumps at its
# COMMIT), so the read after the snapshot sees a later generation.
start_sipprovd -o key_file="$T/sp.key" -o threads=1
gen0=$(pg_sql sipprov "SELECT gen FROM config_gen")
psql "$PGURL" -X -q -v ON_ERROR_STOP=1 >"$T/lock.out" 2>&1 <<'SQL' &
BEGIN;
LOCK TABLE tenant IN ACCESS EXCLUSIVE MODE;
UPDATE tenant SET name = name || ' (moved)';
SELECT pg_sleep(1.5);
COMMIT;
SQL
LOCKER=$!
track_pid "$LOCKER"
held=no
for _ in $(seq 1 $((100 * SP_SLOW))); do
	[ "$(pg_sql sipprov "SELECT count(*) FROM pg_locks WHERE relation = 'tenant'::regclass AND granted
		AND mode = 'AccessExclusiveLock'")" = 1 ] && { held=yes; break; }
	sleep 0.1
done
is "$held" yes "a transaction holds the tenant table"
m2=$(wc -l < "$LOG")
is "$(fetch 4)" 401 "a miss of device 4's file while it does: 401"
wait "$LOCKER"; ok $? "  the locking transaction committed"
pid=$(worker "$m2")
of "$m2" "$pid" > "$T/moved"
is "$(grep -c 'REPEATABLE READ READ ONLY' "$T/moved")" 2 "  the render ran twice: the generation moved"
is "$(grep -c 'statement: COMMIT' "$T/moved")" 1 "  the second inside one snapshot, its COMMIT after"
gen1=$(pg_sql sipprov "SELECT gen FROM config_gen")
ok $([ "$gen1" -gt "$gen0" ]; echo $?) "  the tenant change bumped the generation ($gen0 to $gen1)"
is "$(fetch 4 digest)" 200 "device 4 with its digest: 200"
stop_sipprovd
done_testing
