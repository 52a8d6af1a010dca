#!/bin/sh
# Drift end to end with a real softphone: linphonec is provisioned by
# sipprovd (/s/{token}) and registers to Kamailio on loopback, which
# mirrors every SIP message as HEP v3 to sipprovd.  The template moves
# from UDP to TLS (same port number: Kamailio listens udp:P and tls:P, so
# only the transport changes).  The phone, restarted with its old
# settings and no config-uri, keeps registering over UDP: exactly one open
# transport event (expected tls, observed udp) and one stale event.  Then
# it fetches v2 (real TLS, private CA, hostname localhost verified) and
# registers over TLS: both resolve, fetched_version becomes 2.
# linphonec is driven through a FIFO on its stdin, not linphonecsh, whose
# per-user socket would collide with other tests running at the same time.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need kamailio linphonec openssl sqlite3 curl python3

P="$T/pki"
make_pki "$P"

# A port free for both UDP and TCP (Kamailio's udp:P and tls:P; HEP on UDP).
KP=$(free_udp_tcp_port)
HP=$(free_udp_tcp_port)
[ -n "$KP" ] && [ -n "$HP" ] && [ "$KP" != "$HP" ] || bail "no free ports"

# ---- Kamailio: UDP + TLS on $KP, HEP to $HP ----
K="$T/kam"; mkdir -p "$K"
sqlite3 "$K/kam.db" < /usr/share/kamailio/db_sqlite/standard-create.sql || bail "kam.db"
sqlite3 "$K/kam.db" < /usr/share/kamailio/db_sqlite/auth_db-create.sql || bail "kam.db auth"
sqlite3 "$K/kam.db" "INSERT INTO subscriber(username,domain,password,ha1,ha1b) VALUES ('a1xyzauth','example.test','alicepw','','')"
cat > "$K/tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $P/server.key
certificate = $P/server.pem
EOF
sed -e "s|@DIR@|$K|g" -e "s|@PORT@|$KP|g" -e "s|@HEP@|$HP|g" \
	-e "s|^listen=tcp:127.0.0.1:$KP\$|listen=tls:127.0.0.1:$KP\nenable_tls=yes|" \
	-e "s|^loadmodule \"siptrace.so\"|loadmodule \"siptrace.so\"\nloadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"$K/tls.cfg\")|" \
	"$ROOT/tests/peers/kamailio.cfg.in" > "$K/kamailio.cfg"
grep -q "^listen=tls:127.0.0.1:$KP" "$K/kamailio.cfg" && grep -q '^loadmodule "tls.so"' "$K/kamailio.cfg" ||
	bail "kamailio.cfg not adapted for TLS"

# ---- sipprov: token tenant, template v1 (udp), linphone device + account ----
sp init >/dev/null || bail "init"
sp tenant add acme --device-auth token >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=localhost port="$KP" transport=udp expires=120 >/dev/null ||
	bail "template v1"
sp tenant set acme --default-template main >/dev/null || bail "default template"
mac=$(sp device add --tenant acme --layout linphone --label "drift phone" | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
[ -n "$mac" ] || bail "device add"
tok=$(SIPPROV_URL=http://127.0.0.1:0 sp account add "$mac" --username alice --auth-username a1xyzauth \
	--password alicepw | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
[ -n "$tok" ] || bail "account add"

export SIPPROV_HEP_TIMEOUT_MS=3000
start_sipprovd -o hep_listen=127.0.0.1:$HP
grep -q "hep: listening on udp 127.0.0.1:$HP" "$SIPPROVD_LOG" || bail "sipprovd is not listening for HEP"

kamailio -f "$K/kamailio.cfg" -P "$K/kam.pid" -E >"$K/kam.out" 2>"$K/kam.log"
for _ in $(seq 1 50); do [ -s "$K/kam.pid" ] && break; sleep 0.1; done
[ -s "$K/kam.pid" ] || { sed 's/^/# kam: /' "$K/kam.log" | tail -20; bail "kamailio did not start"; }
track_pid "$(cat "$K/kam.pid")"
sleep 0.5
kill -0 "$(cat "$K/kam.pid")" 2>/dev/null || { sed 's/^/# kam: /' "$K/kam.log" | tail -20; bail "kamailio died"; }

# ---- linphonec driven through a FIFO ----
# phone_start HOME: start linphonec -c HOME/rc; sets LP_PID, LP_OUT.
phone_start() {
	LP_HOME=$1
	phone_env "$LP_HOME"
	LP_OUT="$LP_HOME/out"
	rm -f "$LP_HOME/in"; mkfifo "$LP_HOME/in"
	HOME=$LP_HOME XDG_RUNTIME_DIR=$LP_HOME/run linphonec -c "$LP_HOME/rc" -d 6 -l "$LP_HOME/linphone.log" <"$LP_HOME/in" >"$LP_OUT" 2>&1 &
	LP_PID=$!
	track_pid "$LP_PID"
	exec 3>"$LP_HOME/in"
}
# phone_registered: 0 once linphonec reports "registered, identity=..." (10 s).
phone_registered() {
	for _ in $(seq 1 40); do
		kill -0 "$LP_PID" 2>/dev/null || return 1
		echo "status register" >&3
		sleep 0.25
		grep -q "registered, identity=" "$LP_OUT" && return 0
	done
	return 1
}
# phone_quit: quit (linphonec unregisters on the way out) and wait for it.
phone_quit() {
	echo "quit" >&3
	exec 3>&-
	for _ in $(seq 1 100); do kill -0 "$LP_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$LP_PID" 2>/dev/null && return 1
	wait "$LP_PID" 2>/dev/null
	return 0
}
# wait_for SQL WANT: poll sipprovd's database (HEP writes are batched).
wait_for() {
	for _ in $(seq 1 80); do
		[ "$(sql "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# seen WHERE: wait until sipprovd has recorded a registration row matching
# WHERE (1 or 0, not a boolean: PostgreSQL would print t).
seen() { wait_for "SELECT CASE WHEN count(*) > 0 THEN 1 ELSE 0 END FROM registration WHERE $1" 1; }
open_kinds() {
	sp drift --open --json | python3 -c 'import json,sys; print(sorted(e["kind"] for e in json.load(sys.stdin) if e["mac"]==sys.argv[1]))' "$mac"
}
rc_base() { # rc_base FILE CONFIG_URI: a fresh rc
	printf '[misc]\nconfig-uri=%s\n[sip]\nsip_port=-1\nsip_tcp_port=-1\nsip_tls_port=-1\nroot_ca=%s\n[rtp]\naudio_rtp_port=-1\n' \
		"$2" "$P/ca.pem" > "$1"
}

# ---- 1. first boot: fetch v1, register over UDP ----
H1="$T/phone1"; mkdir -p "$H1"
rc_base "$H1/rc" "$URL/s/$tok"
phone_start "$H1"
phone_registered; ok $? "linphonec provisioned with v1 registers to Kamailio"
is "$(sql "SELECT fetched_version FROM device JOIN device_fetch ON device_id = id WHERE mac='$mac'")" 1 "device fetched v1"
seen "username='alice' AND code=200 AND transport='udp' AND expires > 0"
ok $? "HEP: the UDP registration is observed with code 200"
phone_quit; ok $? "linphonec quits"
seen "username='alice' AND code=200 AND expires = 0"
ok $? "HEP: its unregistration is observed too"
like "$(sql "SELECT auth_username||' '||port||' '||registrar FROM registration WHERE username='alice' AND expires > 0 LIMIT 1")" \
	"^a1xyzauth $KP example.test\$" "observation: auth username, port, registrar"
is "$(open_kinds)" "[]" "v1 over UDP: no open drift"
is "$(sql "SELECT count(*) FROM drift_event")" 0 "no drift event at all so far"

# ---- 2. template v2: UDP -> TLS; the phone keeps its old settings ----
sp template set acme main transport=tls --comment "move to tls" >/dev/null; ok $? "template v2: transport udp -> tls"
like "$(sp render "$mac")" "transport=tls" "v2 renders transport tls (render does not count as a fetch)"
is "$(sql "SELECT fetched_version FROM device JOIN device_fetch ON device_id = id WHERE mac='$mac'")" 1 "the phone still has v1"

# Its old settings: the rc linphonec wrote back after provisioning, without
# config-uri so that it does not fetch.
H2="$T/phone2"; mkdir -p "$H2"
grep -v '^config-uri=' "$H1/rc" > "$H2/rc"
like "$(cat "$H2/rc")" "reg_proxy=<sip:localhost:$KP;transport=udp>" "the phone's own rc holds the v1 proxy (udp)"
unlike "$(cat "$H2/rc")" "config-uri" "and no config-uri"
n0=$(sql "SELECT coalesce(max(id), 0) FROM registration")
phone_start "$H2"
phone_registered; ok $? "with its old settings the phone still registers over UDP"
seen "id > $n0 AND username='alice' AND code=200 AND transport='udp' AND expires > 0"
ok $? "HEP: the stale UDP registration is observed"
phone_quit; ok $? "linphonec quits"
seen "username='alice' AND code=200 AND expires = 0 AND id > (SELECT max(id) FROM registration WHERE expires > 0)"
ok $? "HEP: its unregistration (over UDP, old settings) is observed"
is "$(open_kinds)" "['stale', 'transport']" "exactly one open transport event and one open stale event for the device"
ev=$(sp drift --open --json)
nold=$(sql "SELECT count(*) FROM registration WHERE id > $n0 AND transport='udp'")
is "$(printf '%s' "$ev" | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x["kind"]=="transport"][0]; print(e["expected"], e["observed"], e["line"], e["count"])')" \
	"tls udp 1 $nold" "transport: expected tls, observed udp, on line 1, counted once per old-settings observation ($nold)"
is "$(printf '%s' "$ev" | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x["kind"]=="stale"][0]; print(e["expected"], e["observed"])')" \
	"v2 v1" "stale: expected v2, observed v1"
like "$(cat "$SIPPROVD_LOG")" "drift: device $mac line 1 transport expected tls observed udp \\(acme-main@v2\\)" "drift logged"
like "$(curl -fsS "$ADMIN_URL/metrics")" 'sipprov_drift_open\{kind="transport"\} 1' "/metrics: one open transport drift"

# ---- 3. the phone fetches v2 and registers over TLS ----
H3="$T/phone3"; mkdir -p "$H3"
if grep -q '^\[misc\]$' "$H2/rc"; then sed "/^\[misc\]\$/a config-uri=$URL/s/$tok" "$H2/rc" > "$H3/rc"
else { cat "$H2/rc"; printf '[misc]\nconfig-uri=%s\n' "$URL/s/$tok"; } > "$H3/rc"; fi
like "$(cat "$H3/rc")" "config-uri=$URL/s/$tok" "the same rc, config-uri put back"
n1=$(sql "SELECT coalesce(max(id), 0) FROM registration")
phone_start "$H3"
phone_registered; ok $? "after fetching v2 linphonec registers"
is "$(sql "SELECT fetched_version FROM device JOIN device_fetch ON device_id = id WHERE mac='$mac'")" 2 "device fetched_version is 2"
seen "username='alice' AND code=200 AND transport='tls' AND expires > 0"
ok $? "HEP: the TLS registration is observed as transport tls"
wait_for "SELECT count(*) FROM drift_event WHERE resolved = 0" 0; ok $? "both events resolved"
is "$(open_kinds)" "[]" "no open drift for the device"
is "$(sp drift --json | python3 -c 'import json,sys; print(sorted((e["kind"], e["open"]) for e in json.load(sys.stdin)))')" \
	"[('stale', False), ('transport', False)]" "drift history keeps both, resolved"
like "$(cat "$SIPPROVD_LOG")" "drift: device $mac line 1 transport resolved: observed tls" "resolution logged"
phone_quit; ok $? "linphonec quits"
seen "username='alice' AND code=200 AND transport='tls' AND expires = 0"
ok $? "HEP: the TLS unregistration is observed"
like "$(cat "$H3/rc")" "reg_proxy=<sip:localhost:$KP;transport=tls>" "its rc now holds the v2 proxy (tls)"
is "$(sql "SELECT DISTINCT transport FROM registration WHERE id > $n1 ORDER BY 1" | paste -sd,)" tls \
	"after fetching v2 the phone used TLS only (no UDP register)"
is "$(sql "SELECT count(*) FROM drift_event WHERE resolved = 0")" 0 "still no open drift after it"

stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
