#!/bin/sh
# /metrics as Prometheus reads it: `promtool check metrics` clean before
# and after traffic; every metric the code counts has HELP and TYPE; known
# series show 0 before their first event; sipprov_build_info carries the
# version; the request-duration histogram counts each request once in
# cumulative buckets; sipprov_devices counts devices by state.  The example
# alert rules pass `promtool check rules` and, like the Grafana dashboard's
# queries, name only metrics that exist.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need curl promtool jq openssl
make_pki "$T/pki"

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
# fetched, stale (fetched v1, then v2 becomes current), never fetched, disabled
for m in 001565000871 001565000872 001565000873 001565000874 001565000875; do
	sp device add $m --tenant open --layout yealink >/dev/null
done
sp device disable 001565000875 >/dev/null

start_sipprovd -o metrics_devices_interval=0 -o https_listen=127.0.0.1:0 -o tls_cert="$T/pki/server.pem" \
	-o tls_key="$T/pki/server.key"
curl -s "$ADMIN_URL/metrics" > "$T/m0"
out=$(promtool check metrics < "$T/m0" 2>&1); rc=$?
is "$rc:$out" "0:" "promtool check metrics: clean at start (no traffic yet)"

# Every family the code counts: HELP and TYPE, from start.  The one
# "sipprov_" string that is no metric is PostgreSQL's NOTIFY channel
# (store_gen.c, schema/pg 024).
names=$(grep -rhoE '"sipprov_[a-z_]+' "$ROOT/server" | tr -d '"' | grep -vx 'sipprov_config_gen' |
	sed -E 's/_(bucket|sum|count)$//' | sort -u)
[ "$(echo "$names" | wc -l)" -gt 15 ]; ok $? "metric names read from the code ($(echo $names | wc -w))"
miss=""
for n in $names; do
	grep -q "^# HELP $n [A-Z]" "$T/m0" && grep -q "^# TYPE $n " "$T/m0" || miss="$miss $n"
done
is "$miss" "" "every metric in the code has HELP and TYPE at start"
for s in 'sipprov_http_requests_total{route="device",code="200"} 0' 'sipprov_lockouts_total 0' \
	 'sipprov_auth_failures_total 0' 'sipprov_drift_open{kind="registrar"} 0' \
	 'sipprov_fetch_log_dropped_total 0' 'sipprov_hep_packets_total{result="accepted"} 0' \
	 'sipprov_http_request_duration_seconds_count{route="device"} 0'; do
	grep -qxF "$s" "$T/m0"; ok $? "present from start: $s"
done
ver=$("$SIPPROV" --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
grep -qxF "sipprov_build_info{version=\"$ver\"} 1" "$T/m0"; ok $? "sipprov_build_info{version=\"$ver\"} 1"
start=$(sed -n 's/^sipprov_start_time_seconds //p' "$T/m0")
now=$(date +%s)
[ -n "$start" ] && [ $((now - start)) -ge 0 ] && [ $((now - start)) -lt 60 ]
ok $? "sipprov_start_time_seconds is when it started ($start)"

# Traffic: 7 config fetches (+1 HEAD), 2 refusals (unknown MAC), 1 firmware 404.
for m in 001565000871 001565000872 001565000871 001565000872 001565000871 001565000872 001565000871; do
	curl -s -o /dev/null "$URL/$m.cfg"
done
curl -s -o /dev/null -I "$URL/001565000871.cfg"
curl -s -o /dev/null "$URL/0015650008ff.cfg"
curl -s -o /dev/null "$URL/0015650008fe.cfg"
curl -s -o /dev/null "$URL/fw/0000/x.rom"
sleep 0.3                              # the fetch-log writer records fetched_version
sp template set open main registrar=example.test port=5062 >/dev/null   # v2: 872 is now stale...
curl -s -o /dev/null "$URL/001565000871.cfg"                                 # ...871 fetches v2
curl -s -o /dev/null "$URL/001565000874.cfg"                                 # 874 fetches v2
sleep 0.3
curl -s "$ADMIN_URL/metrics" > "$T/m1"
out=$(promtool check metrics < "$T/m1" 2>&1); rc=$?
is "$rc:$out" "0:" "promtool check metrics: clean after traffic"
v() { sed -n "s/^$(printf '%s' "$1" | sed 's/[][\.*^$]/\\&/g') //p" "$T/m1"; }
is "$(v 'sipprov_http_requests_total{route="device",code="200"}')" 10 "10 device 200s counted (HEAD included)"
is "$(v 'sipprov_http_request_duration_seconds_count{route="device"}')" 12 \
	"duration histogram: each of the 12 device-route requests once"
is "$(v 'sipprov_http_request_duration_seconds_count{route="firmware"}')" 1 "and the firmware request under its route"
is "$(v 'sipprov_http_request_duration_seconds_bucket{route="device",le="+Inf"}')" 12 "+Inf bucket equals the count"
mono=$(grep '^sipprov_http_request_duration_seconds_bucket{route="device"' "$T/m1" |
	awk '{ if ($2 < last) bad = 1; last = $2 } END { print bad ? "no" : "yes" }')
is "$mono" yes "buckets are cumulative (never decrease)"
sum=$(v 'sipprov_http_request_duration_seconds_sum{route="device"}')
awk -v s="$sum" 'BEGIN { exit !(s > 0 && s < 12 * 5) }'; ok $? "duration sum is plausible ($sum s)"
is "$(v 'sipprov_devices{state="fetched"}')" 2 "devices fetched (on the version they should run): 871, 874"
is "$(v 'sipprov_devices{state="stale"}')" 1 "devices stale (fetched v1, v2 current): 872"
is "$(v 'sipprov_devices{state="never_fetched"}')" 1 "devices never fetched: 873"
is "$(v 'sipprov_devices{state="disabled"}')" 1 "devices disabled: 875"
na=$(date -d "$(openssl x509 -in "$T/pki/server.pem" -noout -enddate | cut -d= -f2)" +%s)
is "$(v sipprov_tls_cert_not_after_seconds)" "$na" "sipprov_tls_cert_not_after_seconds: the served certificate's notAfter"
stop_sipprovd

# Example alert rules and dashboard: valid, and every metric they name exists.
out=$(promtool check rules "$ROOT/etc/prometheus/sipprov-alerts.yml" 2>&1); rc=$?
is "$rc:$(echo "$out" | grep -c 'SUCCESS: [0-9]* rules found')" "0:1" "promtool check rules: etc/prometheus/sipprov-alerts.yml"
jq -e '.panels | length > 5' "$ROOT/etc/grafana/sipprov.json" >/dev/null; ok $? "etc/grafana/sipprov.json is JSON with panels"
exprs=$(jq -r '.. | .expr? // empty' "$ROOT/etc/grafana/sipprov.json")
[ "$(echo "$exprs" | wc -l)" -gt 5 ]; ok $? "dashboard queries read ($(echo "$exprs" | wc -l))"
used=$( (echo "$exprs"; grep -E '^ *expr:|^ +[a-z(]' "$ROOT/etc/prometheus/sipprov-alerts.yml") |
	grep -oE 'sipprov_[a-z_]+' | sort -u)
miss=""
for n in $used; do grep -q "^$n[{ ]" "$T/m1" || miss="$miss $n"; done
is "$miss" "" "every sipprov_ metric the rules and dashboard query is served"
done_testing
