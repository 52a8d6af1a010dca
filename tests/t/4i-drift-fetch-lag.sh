#!/bin/sh
# A phone fetches its config and registers a moment later, in a boot storm
# (issue 18).  Under load the fetch writer is behind the requests: its
# queue, and on SQLite the device_fetch changes it keeps in memory for a
# few seconds (server/core/store_fetch.c).  Drift must not take the file's
# older view for the truth: a registration right after the device's first
# fetch is not never_fetched, and right after it fetched the new version
# it is not stale.
. "$(dirname "$0")/../lib.sh"
need wrk curl
N=${N:-$((3000 / SP_SLOW))}
F=40   # fresh devices: kept out of the load, fetched once, then registered
# and one more kept out of it that registers without fetching: the control

sp init >/dev/null
sp demo --devices $N >/dev/null
sql "SELECT '/' || mac || CASE layout WHEN 'json' THEN '.json' ELSE '.cfg' END FROM device
	ORDER BY id LIMIT $((N - F - 1))" > "$T/paths"
sql "SELECT d.mac || ' ' || CASE d.layout WHEN 'json' THEN '.json' ELSE '.cfg' END || ' ' || a.username
	FROM device d JOIN account a ON a.device_id = d.id AND a.line = 1 ORDER BY d.id DESC LIMIT $F" > "$T/fresh"
is "$(wc -l < "$T/fresh")" $F "$F fresh devices, each with a line 1 account"
control=$(sql "SELECT a.username FROM device d JOIN account a ON a.device_id = d.id AND a.line = 1
	ORDER BY d.id DESC LIMIT 1 OFFSET $F")
start_sipprovd -o insecure_loopback=yes -o access_log= -o per_ip_conn_limit=0 -o api_token=hook-4i
wrk -t2 -c50 -d300s --timeout 5s -s "$ROOT/tests/peers/wrk_passes.lua" "$URL" -- "$T/paths" 1000 2 \
	> "$T/wrk.out" 2>&1 &
WRK=$!; track_pid $WRK
for _ in $(seq 1 1200); do
	[ "$(sql 'SELECT count(*) FROM fetch_log')" -ge $((2 * N)) ] && break
	sleep 0.1
done
ok $([ "$(sql 'SELECT count(*) FROM fetch_log')" -ge $((2 * N)) ] && echo 0 || echo 1) "the load is being written"

# fetch_and_register: each fresh device fetches, then registers at once.
fetch_and_register() {
	codes=""
	while read -r mac ext user; do
		codes="$codes$(curl -s -o /dev/null -w '%{http_code}' "$URL/$mac$ext")/"
		codes="$codes$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer hook-4i' \
			-H 'Content-Type: application/json' \
			--data-binary "{\"username\":\"$user\",\"code\":200,\"src_ip\":\"127.0.0.1\"}" \
			"$URL/api/v1/registrations") "
	done < "$T/fresh"
	printf '%s' "$codes" | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' '
}
lagging() { sql "SELECT count(*) FROM device_fetch WHERE fetched_at = 0
	AND device_id IN (SELECT id FROM device ORDER BY id DESC LIMIT $F)"; }
is "$(fetch_and_register)" " $F 200/202 " "each fresh device: config 200, then its registration 202"
diag "right after: $(lagging) of $F fresh devices not yet fetched in the file"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer hook-4i' -H 'Content-Type: application/json' \
	--data-binary "{\"username\":\"$control\",\"code\":200,\"src_ip\":\"127.0.0.1\"}" "$URL/api/v1/registrations")" 202 \
	"the control device registers without fetching"
is "$(sql "SELECT a.username FROM drift_event e JOIN account a ON a.id = e.account_id WHERE e.kind = 'never_fetched'")" \
	"$control" "never_fetched: the control device only, none for a device that fetched before it registered"

# A new version of the demo template: the fresh devices fetch it, register.
sleep 1.1   # a later second: each new fetch's time differs from the first
sp template set demo main expires=1800 --comment 4i > "$T/set.out" 2>&1
like "$(cat "$T/set.out")" "template demo/main v2" "the demo template is at v2"
stop_wrk() { kill -INT $WRK 2>/dev/null; wait $WRK; }
is "$(fetch_and_register)" " $F 200/202 " "after the new version: config 200, registration 202"
is "$(sql "SELECT count(*) FROM drift_event WHERE kind = 'stale' AND resolved = 0")" 0 \
	"no open stale event for a device that fetched the new version before it registered"
stop_wrk
stop_sipprovd
done_testing
