#!/bin/sh
# The fetch writer holds a burst (issue 18).  Between writes it naps 50 ms;
# while a nap sees a burst of new fetches (a boot storm) it naps again, up
# to 2 s, until the burst ends or a batch is full (12,288 history rows or
# 16,384 devices), so its work comes after the storm or as few large
# writes, not one write per 50 ms competing with the phones for the CPU.
# A writer that is not well ahead (more records came during its last
# write than half of what it wrote) does not hold: that writer is busy
# anyway (tests/t/4j).  Here wrk fetches N devices over and over on one
# connection for 3 s, a burst any writer keeps well ahead of: the writer
# must write a few times (the first fetch at once, then one write per 2 s
# or per full batch), not every 50 ms as it did (about 30 writes in 3 s),
# and still write every fetch (history written or counted, every last
# fetch) once the burst is over.
. "$(dirname "$0")/../lib.sh"
need wrk curl
N=4000

sp init >/dev/null
sp demo --devices $N >/dev/null
sql "SELECT '/' || mac || CASE layout WHEN 'json' THEN '.json' ELSE '.cfg' END FROM device ORDER BY id" > "$T/paths"
start_sipprovd -o insecure_loopback=yes -o access_log= -o per_ip_conn_limit=0
# One fetch of an idle daemon is written at once: the writer's first write.
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4k-idle "$URL$(sed -n 1p "$T/paths")")" 200 "a device is served"
wait_for "SELECT count(*) FROM fetch_log WHERE user_agent = '4k-idle'" 1
is "$(sql "SELECT count(*) FROM fetch_log WHERE user_agent = '4k-idle'")" 1 "an idle daemon's fetch is written"
sleep 1.1
start=$(date +%s)
w0=$(metric sipprov_fetch_log_writes_total)
d0=$(metric sipprov_fetch_log_dropped_total)
# 1,000 passes: more than 3 s of fetching on any machine.
wrk -t1 -c1 -d3s --timeout 5s -s "$ROOT/tests/peers/wrk_passes.lua" "$URL" -- "$T/paths" 1000 1 > "$T/wrk.out" 2>&1
ok=$(sed -n 's/^RESULT ok=\([0-9]*\) bad=0 .*errors=0$/\1/p' "$T/wrk.out")
ok $([ "${ok:-0}" -ge "$N" ] && echo 0 || echo 1) "the burst: ${ok:-none} fetches in 3 s, every one 200"
w1=$(metric sipprov_fetch_log_writes_total)
writes=$((w1 - w0))
# A full batch is 12,288 history rows: the burst needs ok / 12,288 of
# them, plus one per 2 s of holding, plus the one that began the burst.
most=$((ok / 12288 + 4))
diag "$writes writes during a burst of $ok fetches (at most $most)"
ok $([ "$writes" -ge 1 ] && [ "$writes" -le "$most" ] && echo 0 || echo 1) \
	"the writer held the burst: $writes writes for $ok fetches in 3 s (at most $most)"
# Over: what it held is written.
wait_for "SELECT count(*) FROM device_fetch WHERE fetched_at >= $start" "$N"
is "$(sql "SELECT count(*) FROM device_fetch WHERE fetched_at >= $start")" "$N" "every device's last fetch is written"
for _ in $(seq 1 $((100 * SP_SLOW))); do
	hist=$(sql "SELECT count(*) FROM fetch_log WHERE user_agent LIKE '4d-pass-%' AND at >= $start")
	[ $((hist + $(metric sipprov_fetch_log_dropped_total) - d0)) -ge "$ok" ] && break
	sleep 0.1
done
dropped=$(($(metric sipprov_fetch_log_dropped_total) - d0))
diag "fetch_log: $hist of $ok fetches written, $dropped sampled out"
# wrk counts only the answers it read before its 3 s were up: its
# connection may have had one more fetch served and recorded.
total=$((hist + dropped))
ok $([ "$total" -ge "$ok" ] && [ "$total" -le $((ok + 1)) ] && echo 0 || echo 1) \
	"every history record is written or counted in sipprov_fetch_log_dropped_total ($total for $ok answers read)"
done_testing
