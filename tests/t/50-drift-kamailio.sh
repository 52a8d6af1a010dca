#!/bin/sh
# End to end on loopback: Kamailio (registrar, siptrace mirroring HEP v3 to
# sipprovd), sipp as the phone.  A device whose template moved from UDP to
# TCP keeps registering over UDP with its old config: exactly one open
# transport event and one stale event; after it fetches the new config and
# registers over TCP both resolve.  Wrong password -> last code 403, user
# unknown to the registrar -> 404, user unknown to sipprov -> unknown_user.
# (Debian's sipp has no TLS, so the move is UDP -> TCP; TLS as HEP proto 22
# is covered by tests/unit/hep.c.)
. "$(dirname "$0")/../lib.sh"
need kamailio sipp sqlite3 curl python3

KP=$(free_udp_tcp_port)            # kamailio udp+tcp
SP1=$(free_udp_tcp_port)           # sipp local port
HP=$(free_udp_tcp_port)            # sipprovd HEP
K="$T/kam"; mkdir -p "$K"

sqlite3 "$K/kam.db" < /usr/share/kamailio/db_sqlite/standard-create.sql || bail "kam.db"
sqlite3 "$K/kam.db" < /usr/share/kamailio/db_sqlite/auth_db-create.sql || bail "kam.db auth"
sqlite3 "$K/kam.db" "INSERT INTO subscriber(username,domain,password,ha1,ha1b) VALUES ('a1xyzauth','example.test','alicepw','','')"
sed -e "s|/tmp/kam|$K|g" -e "s|127.0.0.1:5060|127.0.0.1:$KP|g" -e "s|sip:127.0.0.1:9060|sip:127.0.0.1:$HP|" \
	"$ROOT/tests/peers/drift-kamailio.cfg" > "$K/kamailio.cfg"
grep -q "127.0.0.1:$HP" "$K/kamailio.cfg" || bail "kamailio.cfg not adapted"

# sipprov: tenant, template v1 (udp), device, two lines.
sp init >/dev/null || bail "init"
sp tenant add acme --device-auth none >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=127.0.0.1 port=$KP transport=udp >/dev/null || bail "template"
sp device add 001565aabbcc --tenant acme --layout json --template main >/dev/null || bail "device"
sp account add 001565aabbcc --line 1 --username alice --auth-username a1xyzauth --password alicepw >/dev/null || bail "account 1"
sp account add 001565aabbcc --line 2 --username bob --auth-username bobauth --password bobpw >/dev/null || bail "account 2"

export SIPPROV_HEP_TIMEOUT_MS=3000
start_sipprovd -o hep_listen=127.0.0.1:$HP -o insecure_loopback=yes

kamailio -f "$K/kamailio.cfg" -P "$K/kam.pid" -E >"$K/kam.out" 2>"$K/kam.log" || { sed 's/^/# kam: /' "$K/kam.log" | tail -20; bail "kamailio did not start"; }
for _ in $(seq 1 50); do [ -s "$K/kam.pid" ] && break; sleep 0.1; done
track_pid "$(cat "$K/kam.pid")"
sleep 0.5

UA="Yealink SIP-T46G 66.86.0.15 00:15:65:aa:bb:cc"
# register USER AUTHUSER PASSWORD TRANSPORT(u1|t1) FINAL
register() {
	sed "s|response=\"FINAL\"|response=\"$5\"|" "$ROOT/tests/peers/drift_reg.xml" > "$T/reg_$5.xml"
	printf 'SEQUENTIAL\n%s;example.test;[authentication username=%s password=%s];%s\n' "$1" "$2" "$3" "$UA" > "$T/users.csv"
	sipp 127.0.0.1:$KP -sf "$T/reg_$5.xml" -inf "$T/users.csv" -m 1 -i 127.0.0.1 -p $SP1 -t "$4" \
		-nostdin -timeout 10s -timeout_error >"$T/sipp.out" 2>&1
}
fetch() { curl -fsS -o "$T/cfg.json" "$URL/001565aabbcc.json"; }

fetch; ok $? "phone fetches its config (v1)"
like "$(cat "$T/cfg.json")" "acme-main@v1" "config names v1"
sp template set acme main transport=tcp --comment "move to tcp" >/dev/null; ok $? "template v2: udp -> tcp"

register alice a1xyzauth alicepw u1 200; ok $? "phone registers over udp with its old config (401 then 200)"
wait_for "SELECT count(*) FROM registration WHERE username='alice'" 1; ok $? "one observation recorded from HEP"
is "$(sql "SELECT transport||' '||code||' '||port||' '||auth_username FROM registration WHERE username='alice'")" \
	"udp 200 $KP a1xyzauth" "observation: transport, final code, port, auth username"
register alice a1xyzauth alicepw u1 200; ok $? "registers again over udp"
wait_for "SELECT count(*) FROM registration WHERE username='alice'" 2; ok $? "second observation"
open=$(sp drift --open --json)
is "$(printf '%s' "$open" | python3 -c 'import json,sys; print(sorted(e["kind"] for e in json.load(sys.stdin)))')" \
	"['stale', 'transport']" "exactly one open transport event and one stale event"
is "$(printf '%s' "$open" | python3 -c 'import json,sys; e=[x for x in json.load(sys.stdin) if x["kind"]=="transport"][0]; print(e["expected"], e["observed"], e["count"], e["mac"], e["line"])')" \
	"tcp udp 2 001565aabbcc 1" "transport: expected tcp, observed udp, seen twice, on line 1"
like "$(cat "$SIPPROVD_LOG")" "drift: device 001565aabbcc line 1 transport expected tcp observed udp \(acme-main@v2\)" "one drift log line"
like "$(curl -fsS "$ADMIN_URL/metrics")" 'sipprov_drift_open\{kind="transport"\} 1' "/metrics: open transport drift"

fetch; ok $? "phone fetches the new config (v2)"
like "$(cat "$T/cfg.json")" "acme-main@v2" "config names v2"
register alice a1xyzauth alicepw t1 200; ok $? "phone registers over tcp (401 then 200)"
wait_for "SELECT count(*) FROM drift_event WHERE resolved = 0" 0; ok $? "both events resolved"
is "$(sp drift --json | python3 -c 'import json,sys; print(sorted((e["kind"], e["open"]) for e in json.load(sys.stdin)))')" \
	"[('stale', False), ('transport', False)]" "drift history keeps both, resolved"
like "$(cat "$SIPPROVD_LOG")" "drift: device 001565aabbcc line 1 transport resolved" "resolution logged"

register alice a1xyzauth wrongpw t1 403; ok $? "wrong password: kamailio answers 403"
wait_for "SELECT last_code FROM account WHERE username='alice'" 403; ok $? "alice: last code 403"
register bob bobauth bobpw t1 404; ok $? "user unknown to the registrar: 404"
wait_for "SELECT last_code FROM account WHERE username='bob'" 404; ok $? "bob: last code 404"
st=$(sp status --json)
is "$(printf '%s' "$st" | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print([(l["username"], l["last_code"]) for l in d["lines"]], d["fetch_state"])')" \
	"[('alice', 403), ('bob', 404)] current" "status: last codes per line, config current"
like "$(sp status)" "last failure 40[34] .*(credentials|registrar)" "status explains the failure"
UA="sipp (no MAC)"
register ghost ghostauth pw u1 404; ok $? "a user nobody provisioned: 404"
wait_for "SELECT count(*) FROM drift_event WHERE kind='unknown_user' AND resolved=0" 1; ok $? "unknown_user event"

stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
