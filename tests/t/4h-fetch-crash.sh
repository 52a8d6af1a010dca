#!/bin/sh
# A sipprovd killed under load, and the next start (issue 18, schema 028).
# Under load the fetch writer keeps its changes to device_fetch (chain
# heads, last fetches) in memory and writes them every 2 s
# (server/core/store_fetch.c); history rows are written with every batch.
# SIGKILL in the middle of a fetch load loses what was kept, and the next
# sipprovd links it from the history when its writer starts
# (fetch_recover, from the row fetch_written names): then every device's
# chain head is its newest history row and each row names the device's
# previous one.  (Killed right after a write, nothing was kept: the test
# then checks the same on a file that needed nothing.)
. "$(dirname "$0")/../lib.sh"
only_backend sqlite "PostgreSQL's writer keeps nothing in memory: each batch writes device_fetch (store_fetch.c)"
need wrk sqlite3 curl
N=${N:-$((3000 / SP_SLOW))}

sp init >/dev/null
sp demo --devices $N >/dev/null
sql "SELECT '/' || mac || CASE layout WHEN 'json' THEN '.json' ELSE '.cfg' END FROM device ORDER BY id" \
	> "$T/paths"
start_sipprovd -o insecure_loopback=yes -o access_log= -o per_ip_conn_limit=0
wrk -t2 -c50 -d120s --timeout 5s -s "$ROOT/tests/peers/wrk_passes.lua" "$URL" -- "$T/paths" 1000 2 \
	> "$T/wrk.out" 2>&1 &
WRK=$!; track_pid $WRK
# Several heavy batches written (history), then the kill.
for _ in $(seq 1 1200); do
	[ "$(sql 'SELECT count(*) FROM fetch_log')" -ge $((4 * N)) ] && break
	sleep 0.1
done
ok $([ "$(sql 'SELECT count(*) FROM fetch_log')" -ge $((4 * N)) ] && echo 0 || echo 1) "the load wrote history"
kill -KILL "$SIPPROVD_PID"; wait "$SIPPROVD_PID" 2>/dev/null; SIPPROVD_PID=
kill -INT $WRK 2>/dev/null; wait $WRK
heads() { sql "SELECT count(*) FROM device d JOIN device_fetch df ON df.device_id = d.id
	WHERE df.fetched_log != coalesce((SELECT max(id) FROM fetch_log f WHERE f.device_id = d.id), 0)"; }
diag "after SIGKILL: $(heads) of $N devices' chain heads behind their history"
start_sipprovd -o insecure_loopback=yes -o access_log=
stop_sipprovd
diag "$(grep -h 'were not linked' "$SIPPROVD_LOG" | head -1)"
is "$(heads)" 0 "after the next start every device's chain head is its newest history row"
is "$(sql "SELECT count(*) FROM (SELECT prev, lag(id, 1, 0) OVER (PARTITION BY device_id ORDER BY id) AS want
	FROM fetch_log WHERE device_id IS NOT NULL) WHERE prev != want")" 0 \
	"each history row names its device's previous one"
is "$(sql "SELECT log = (SELECT max(id) FROM fetch_log) FROM fetch_written")" 1 "fetch_written names the newest row"
is "$(sql 'PRAGMA integrity_check')" ok "the file passes integrity_check"
done_testing
