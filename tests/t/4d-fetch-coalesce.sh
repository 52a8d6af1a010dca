#!/bin/sh
# Fetch records at the maximum load (issue 11, item 11): wrk fetches each
# of 10,000 devices exactly 5 times, pass after pass, as fast as it can
# (User-Agent names the pass).  Every device's last fetch (time, version,
# IP, User-Agent of the last pass) must be in its row: the writer
# coalesces per device and never drops one.  The per-request history
# (fetch_log) may be sampled under overload, but every record is either
# written or counted in sipprov_fetch_log_dropped_total.  For the first
# 4 s another writer holds the database (an import would), so the writer
# falls behind the way it does when the machine is simply overloaded.
. "$(dirname "$0")/../lib.sh"
need wrk sqlite3 curl
N=${N:-$((10000 / SP_SLOW))}   # a third under sanitizers, whose daemon is slower
PASSES=5

sp init >/dev/null
sp demo --devices $N >/dev/null
# Each device's path: {mac}.cfg for yealink, {mac}.json for json.
sql "SELECT '/' || mac || CASE layout WHEN 'json' THEN '.json' ELSE '.cfg' END FROM device ORDER BY id" \
	> "$T/paths"
is "$(wc -l < "$T/paths")" "$N" "$N demo devices"
start_sipprovd -o insecure_loopback=yes -o access_log= \
	-o per_ip_conn_limit=0
st=$(curl -s -o /dev/null -w '%{http_code}' "$URL/$(sed -n 1p "$T/paths" | cut -c2-)")
is "$st" 200 "a demo device is served"
sleep 1.1
start=$(date +%s)
hold_lock 4
# Until both wrk threads have their answers, not for a fixed time (on
# PostgreSQL each of the 10,000 first renders is several round trips);
# 120 s only bounds a daemon that stops answering.
wrk_passes "$T/paths" $PASSES "$T/wrk.out" 120 5; finished=$?
diag "$(grep -E 'Requests/sec|RESULT' "$T/wrk.out" | tr '\n' ' ')"
# wrk calls request() once, on the first thread's script, before it
# sends anything: that first request (a pass-1 fetch) is never sent.
okn=$(sed -n 's/^RESULT ok=\([0-9]*\) .*/\1/p' "$T/wrk.out")
is "$finished" 0 "both wrk threads had every answer before wrk was ended"
like "$(cat "$T/wrk.out")" "RESULT ok=[0-9]+ bad=0 healthz=[0-9]+ errors=0" \
	"wrk fetched every device $PASSES times, every fetch 200"
ok $([ "${okn:-0}" -ge $((N * PASSES - 1)) ] && echo 0 || echo 1) "$okn fetches of $((N * PASSES))"
# Stopping the daemon flushes the writer.
dropped=$(metric sipprov_fetch_log_dropped_total)
stop_sipprovd
last=$(sql "SELECT count(*) FROM device JOIN device_fetch ON device_id = id WHERE fetched_at >= $start AND fetched_ip = '127.0.0.1' AND
	fetched_ua = '4d-pass-$PASSES' AND fetched_version = 1 AND length(fetched_digest) = 32")
is "$last" "$N" "every device's row holds its last fetch (time, IP, version, digest, the last pass's User-Agent)"
hist=$(sql "SELECT count(*) FROM fetch_log WHERE user_agent LIKE '4d-pass-%'")
diag "fetch_log history: $hist of $okn fetches written, $dropped sampled out (counted)"
is $((hist + dropped)) "$okn" "every history record is written or counted in sipprov_fetch_log_dropped_total"
# A device deleted while its fetch waits for the writer.  The writer's
# batch then names a device that is gone: on SQLite its foreign key failed
# the whole batch, and the writer retried that batch for ever, so no fetch
# was recorded again until the daemon stopped.  The deletion commits under
# the lock the writer waits for, so it lands first.
ua_rows() { echo "SELECT count(*) FROM fetch_log WHERE user_agent = '$1'"; }
start_sipprovd -o insecure_loopback=yes -o access_log= -o per_ip_conn_limit=0
gone=$(sed -n 3p "$T/paths"); next=$(sed -n 5p "$T/paths")
gmac=$(basename "$gone" | cut -d. -f1)
hold_lock 1 "DELETE FROM device WHERE mac = '$gmac'"
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4d-gone "$URL$gone")" 200 "a device is served just before it is deleted"
wait "$HOLDER"
is "$(sql "SELECT count(*) FROM device WHERE mac = '$gmac'")" 0 "then it is deleted"
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4d-next "$URL$next")" 200 "another device is served after the deletion"
wait_for "$(ua_rows 4d-next)" 1
is "$(sql "$(ua_rows 4d-next)")" 1 \
	"the fetch after the deletion is recorded: the writer is not stuck on the deleted device's record"
# SQLite's row has no device_id (as ON DELETE SET NULL leaves the older
# rows); PostgreSQL's keeps the id, which no device has again (026).
is "$(sql "SELECT path || ' ' || status FROM fetch_log f WHERE user_agent = '4d-gone' AND
	NOT EXISTS (SELECT 1 FROM device d WHERE d.id = f.device_id)")" "$gone 200" \
	"the deleted device's fetch is kept, naming no device"
unlike "$(cat "$T/sipprovd.log")" "fetch log: write failed" "the writer never failed a batch"
# A batch whose data the database refuses (here a CHECK refuses one row;
# PostgreSQL refused a User-Agent of invalid UTF-8 the same way): it was
# retried whole, for ever, so nothing was recorded again.  Now the batch
# is written row by row: the refused row is dropped, counted and logged
# with the database's reason, and the others in its batch are written.
# The lock holds the writer back until both fetches are in one batch.
if backend_is sqlite; then
	sql "CREATE TRIGGER t4d_refuse BEFORE INSERT ON fetch_log WHEN NEW.user_agent = '4d-refused'
		BEGIN SELECT RAISE(ABORT, '4d refuses this row'); END"
else
	sql "ALTER TABLE fetch_log ADD CONSTRAINT t4d_refuse CHECK (user_agent <> '4d-refused')"
fi
before=$(metric sipprov_fetch_log_dropped_total)
hold_lock 1
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4d-refused "$URL$next")" 200 "a device is served"
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4d-beside "$URL$(sed -n 7p "$T/paths")")" 200 \
	"and another, while the writer waits"
wait "$HOLDER"
wait_for "$(ua_rows 4d-beside)" 1
is "$(sql "$(ua_rows 4d-beside)")" 1 "the row beside the refused one is written"
is "$(sql "$(ua_rows 4d-refused)")" 0 "the refused row is not"
is "$(sql "SELECT fetched_ua FROM device WHERE mac = '$(basename "$next" | cut -d. -f1)'")" 4d-refused "the device's last fetch (another row) is written"
wait_log "$T/sipprovd.log" 'rows refused'
like "$(grep 'rows refused' "$T/sipprovd.log")" "fetch log: 1 rows refused by the database and dropped, the others written: .*t4d_refuse|4d refuses this row" \
	"the refusal is logged with the database's reason"
is $(($(metric sipprov_fetch_log_dropped_total) - before)) 1 "it is counted in sipprov_fetch_log_dropped_total"
unlike "$(cat "$T/sipprovd.log")" "fetch log: write failed" "the batch is not retried whole"
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4d-later "$URL$next")" 200 "a later fetch"
wait_for "$(ua_rows 4d-later)" 1
is "$(sql "$(ua_rows 4d-later)")" 1 "is recorded"
stop_sipprovd
done_testing
