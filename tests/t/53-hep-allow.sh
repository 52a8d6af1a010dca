#!/bin/sh
# Who may send HEP: a datagram from outside hep_allow (here 127.0.0.2 while
# only 127.0.0.1/32 is allowed) is dropped and counted, and creates no
# registration, drift event or "last failure"; an allowed sender is
# recorded.  sipprovd refuses to start with HEP on a non-loopback address
# unless hep_allow or hep_auth_key is set, and names both keys.
. "$(dirname "$0")/../lib.sh"
need curl python3 sqlite3
HP=$(free_port)
SEND="python3 $ROOT/tests/hep_send.py"

sp init >/dev/null || bail "init"
sp tenant add acme --device-auth none >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null || bail "template"
sp device add 001565000001 --tenant acme --layout yealink >/dev/null || bail "device"
sp account add 001565000001 --line 1 --username alice --auth-username alice --password pw >/dev/null || bail "account"

start_sipprovd -o hep_listen=127.0.0.1:$HP -o hep_allow=127.0.0.1/32
rows() { sql "SELECT (SELECT count(*) FROM registration)||'/'||(SELECT count(*) FROM drift_event)||'/'||(SELECT last_code FROM account WHERE username='alice')"; }

# The forged pair: a 403 for a real user and a REGISTER of an unknown one.
HEP_SEND_FROM=127.0.0.2 $SEND $HP register spoof-1 1 alice && HEP_SEND_FROM=127.0.0.2 $SEND $HP response spoof-1 1 403
HEP_SEND_FROM=127.0.0.2 $SEND $HP register spoof-2 1 mallory && HEP_SEND_FROM=127.0.0.2 $SEND $HP response spoof-2 1 403
ok $? "forged HEP sent from 127.0.0.2"
m=""
for _ in $(seq 1 40); do
	m=$(curl -fsS "$ADMIN_URL/metrics")
	printf '%s' "$m" | grep -q 'reason="source"} 4' && break
	sleep 0.1
done
like "$m" 'sipprov_hep_packets_total\{result="rejected",reason="source"\} 4' "the 4 datagrams are counted as dropped by source"
sleep 0.3
is "$(rows)" "0/0/0" "nothing recorded: no registration, no drift event, alice's last code untouched"
like "$(cat "$SIPPROVD_LOG")" "hep: dropping datagrams from 127.0.0.2: not in hep_allow" "the log names the refused sender"

# The same pair from the allowed address is recorded.
HEP_SEND_FROM=127.0.0.1 $SEND $HP register ok-1 1 alice && HEP_SEND_FROM=127.0.0.1 $SEND $HP response ok-1 1 403
got=""
for _ in $(seq 1 50); do
	got=$(sql "SELECT (SELECT count(*) FROM registration)||'/'||(SELECT last_code FROM account WHERE username='alice')")
	[ "$got" = "1/403" ] && break
	sleep 0.1
done
is "$got" "1/403" "from 127.0.0.1 the observation is recorded (last code 403)"
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"

# Start refusal.
check() { "$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 "$@" 2>&1; }
out=$(check -o hep_listen=0.0.0.0:$HP); rc=$?
ok $((rc == 0)) "-n refuses hep_listen 0.0.0.0 with neither hep_allow nor hep_auth_key (exit $rc)"
like "$out" "hep_listen '0.0.0.0:$HP' is not a loopback address: set hep_allow .* or hep_auth_key" "the error names hep_allow and hep_auth_key"
out=$(timeout 20 "$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
	-o hep_listen=[::]:$HP 2>&1); rc=$?
ok $((rc == 0)) "the daemon itself refuses to start on [::] (exit $rc)"
like "$out" "not a loopback address" "and says why"
unlike "$out" "ready" "it never reported ready"
out=$(check -o hep_listen=0.0.0.0:$HP -o "hep_allow=192.0.2.0/24, 2001:db8::/32"); ok $? "0.0.0.0 with hep_allow set: configuration OK"
out=$(check -o hep_listen=0.0.0.0:$HP -o hep_auth_key=s3cret); ok $? "0.0.0.0 with hep_auth_key set: configuration OK"
out=$(check -o hep_listen=127.0.0.1:$HP); ok $? "loopback with the defaults: configuration OK"
out=$(check -o hep_listen=127.0.0.1:$HP -o hep_allow=10.0.0.0/33); rc=$?
ok $((rc == 0)) "a bad hep_allow entry is refused (exit $rc)"
like "$out" 'hep_allow: .*"10.0.0.0/33" is not an address or CIDR' "and named"
done_testing
