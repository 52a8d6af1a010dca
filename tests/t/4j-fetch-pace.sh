#!/bin/sh
# The fetch writer sheds history when the last fetches lag (issue 18).
# Every device's last fetch waits for the writer and is never dropped: once
# 32,768 devices wait for one write, requests wait for it.  A writer that
# takes more than a quarter of that in one write is falling behind
# (PostgreSQL's 1,000,000-device mix: requests waited up to hundreds of
# ms), so its next writes take a quarter of the history (fetch_log), the
# rest sampled out and counted; once it finds nothing to write they take
# the full 16,384 again.  Here the lock an import would hold keeps the
# writer from writing while 20,000 devices fetch once; then it takes them
# all in one write.
. "$(dirname "$0")/../lib.sh"
need wrk curl
N=20000

sp init >/dev/null
sp demo --devices $((N + 10000)) >/dev/null
sql "SELECT '/' || mac || CASE layout WHEN 'json' THEN '.json' ELSE '.cfg' END FROM device ORDER BY id" > "$T/all"
head -n $N "$T/all" > "$T/paths"
tail -n 10000 "$T/all" > "$T/paths2"
start_sipprovd -o insecure_loopback=yes -o access_log= -o per_ip_conn_limit=0
start=$(date +%s)
# fetch FILE TAG: every path of FILE once (User-Agent 4d-pass-1), while the
# lock is held; prints how many were answered 200.
fetch() {
	wrk_passes "$1" 1 "$T/wrk.$2"
	sed -n 's/^RESULT ok=\([0-9]*\) bad=0 .*errors=0$/\1/p' "$T/wrk.$2"
}
hold_lock 600
ok1=$(fetch "$T/paths" 1)
# wrk never sends its first request (tests/peers/wrk_passes.lua).
ok $([ "${ok1:-0}" -ge $((N - 1)) ] && echo 0 || echo 1) "$ok1 of $N devices fetched while the writer waits, every one 200"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
wait_log "$T/sipprovd.log" 'history now at most'
like "$(grep 'history now at most' "$T/sipprovd.log")" \
	"fetch log behind: [0-9]{5} devices fetched during one write \\(requests wait at 32768\\); history now at most 4096 rows a write" \
	"the writer took them in one write, and says its next takes a quarter of the history"
wait_for "SELECT count(*) FROM device_fetch WHERE fetched_at >= $start" "$ok1"
is "$(sql "SELECT count(*) FROM device_fetch WHERE fetched_at >= $start")" "$ok1" "every device's last fetch is written"
d1=$(metric sipprov_fetch_log_dropped_total)
# Written and idle: the next write takes the full history again, so 10,000
# fetches while the writer waits are all kept (at 4,096 most would not be).
hold_lock 600
ok2=$(fetch "$T/paths2" 2)
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
ok $([ "${ok2:-0}" -ge 9999 ] && echo 0 || echo 1) "$ok2 more devices fetched while the writer waits"
is "$(metric sipprov_fetch_log_dropped_total)" "$d1" "none of their history is sampled out: the writer keeps up again"
# One write with a device whose client is the same as at its last fetch
# and one whose User-Agent changed: on PostgreSQL the first statement
# (device_fetch where the signature is unchanged) reaches only the first,
# and the second still gets its new User-Agent.
a=$(sed -n 3p "$T/paths"); b=$(sed -n 4p "$T/paths")
amac=$(basename "$a" | cut -d. -f1); bmac=$(basename "$b" | cut -d. -f1)
sleep 1.1
t2=$(date +%s)
hold_lock 600
# A third device's fetch first: the writer takes it and waits for the
# lock, so the two after it wait for the same next write.
curl -s -o /dev/null -A 4j-first "$URL$(sed -n 5p "$T/paths")"
is "$(curl -s -o /dev/null -w '%{http_code}' -A 4d-pass-1 "$URL$a") $(curl -s -o /dev/null -w '%{http_code}' \
	-A 4j-moved "$URL$b")" "200 200" "a device fetches as before, another with a new User-Agent, in one write"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
wait_for "SELECT fetched_ua FROM device WHERE mac = '$bmac'" 4j-moved
is "$(sql "SELECT fetched_ua FROM device WHERE mac = '$bmac'")" 4j-moved "the changed one's row has its new User-Agent"
is "$(sql "SELECT d.fetched_ua || ' ' || CASE WHEN f.fetched_at >= $t2 THEN 'moved' ELSE 'old' END FROM device d JOIN device_fetch f ON f.device_id = d.id
	WHERE d.mac = '$amac'")" "4d-pass-1 moved" "the unchanged one's last fetch time moved, its client is as it was"
stop_sipprovd
hist=$(sql "SELECT count(*) FROM fetch_log WHERE user_agent = '4d-pass-1' AND at < $t2")
diag "fetch_log history: $hist of $((ok1 + ok2)) fetches written, $d1 sampled out"
is $((hist + d1)) $((ok1 + ok2)) "every history record is written or counted in sipprov_fetch_log_dropped_total"
is "$(sql "SELECT count(*) FROM device_fetch WHERE fetched_at >= $start")" $((ok1 + ok2)) \
	"every device's last fetch is written"
done_testing
