#!/bin/sh
# sipprov reprovision end to end with sipp phones on loopback: one phone
# per vendor event (check-sync;reboot=false, check-sync, resync) over UDP and
# TCP receives the right Event header; a phone that never answers is a
# timeout after several UDP retransmissions; --resume retries only that one;
# --dry-run sends nothing; a device without a registration is "no contact";
# --via sends through an outbound proxy.  Contacts come from rows in the
# registration table, as the HEP/webhook intake writes them.
. "$(dirname "$0")/../lib.sh"
need sipp sqlite3

# Seven phone ports, distinct, from the shared picker (not from $$: suites
# running side by side would collide).
ports=$(free_udp_tcp_port 7) || bail "no free ports"
set -- $ports
PH1=$1 PH2=$2 PH3=$3 PH4=$4 PH5=$5 PH6=$6 PH7=$7
P=$ROOT/tests/peers

sp init >/dev/null || bail "init failed"
sp tenant add acme >/dev/null || bail "tenant add failed"
sp template set acme main registrar=sip.acme.test server=sip.acme.test port=5060 transport=udp >/dev/null

# phone MAC LAYOUT PORT TRANSPORT: device, account, and a 200 registration
# whose Contact points at 127.0.0.1:PORT.
n=0
phone() {
	n=$((n + 1))
	printf 'mac,layout,line,username,auth_username,password\n%s,%s,1,user%d,auth%d,pw%d\n' "$1" "$2" "$n" "$n" "$n" > "$T/d$n.csv"
	sp import "$T/d$n.csv" --tenant acme >/dev/null || bail "import of $1 failed"
	[ -n "$3" ] || return 0
	now=$(date +%s)
	sql "INSERT INTO registration (at, source, transport, username, contact, expires, code, device_id)
		SELECT $((now - 60)), 'webhook', '$4', 'user$n', '<sip:old@127.0.0.1:9;transport=udp>', 300, 403, id FROM device WHERE mac='$1';
		INSERT INTO registration (at, source, transport, username, contact, expires, code, device_id)
		SELECT $now, 'webhook', '$4', 'user$n', '<sip:user$n@127.0.0.1:$3;transport=$4>;expires=300', 300, 200, id FROM device WHERE mac='$1';"
}
# sipp_phone SCENARIO PORT TRANSPORT NAME: starts a sipp phone, sets $SIPP_PID
sipp_phone() {
	tflag=u1; [ "$3" = tcp ] && tflag=t1
	sipp -sf "$P/$1" -i 127.0.0.1 -p "$2" -t "$tflag" -m 1 -nostdin -timeout 60s -timeout_error \
		-trace_logs -log_file "$T/$4.log" -trace_msg -message_file "$T/$4.msg" >"$T/$4.out" 2>&1 &
	SIPP_PID=$!
	track_pid "$SIPP_PID"
}

phone 001565000001 yealink $PH1 udp
phone 0004f2000002 polycom $PH2 udp
phone 0002fdff2103 cisco $PH3 udp
phone 000413741767 snom $PH4 tcp
phone 000b828aa872 grandstream $PH5 tcp
phone 0c383e07e16c fanvil $PH6 udp
sipp_phone notify_uas.xml $PH1 udp yealink; p1=$SIPP_PID
sipp_phone notify_uas.xml $PH2 udp polycom; p2=$SIPP_PID
sipp_phone notify_uas.xml $PH3 udp cisco; p3=$SIPP_PID
sipp_phone notify_uas.xml $PH4 tcp snom; p4=$SIPP_PID
sipp_phone notify_uas.xml $PH5 tcp grandstream; p5=$SIPP_PID
sipp_phone notify_silent.xml $PH6 udp silent; p6=$SIPP_PID
sleep 0.7

# Dry run: targets and events listed, nothing sent, no job.
out=$(sp reprovision --tenant acme --dry-run 2>&1); rc=$?
is "$rc" 0 "dry run exits 0"
like "$out" "001565000001  Event: check-sync;reboot=false  to sip:user1@127.0.0.1:$PH1;transport=udp" "dry run lists the Yealink target, event and contact"
like "$out" "0002fdff2103  Event: resync" "dry run: Cisco gets resync"
like "$out" "dry run: 6 targets, 6 with a known contact" "dry run summary"
is "$(sql 'select count(*) from job')" 0 "dry run creates no job"

out=$(sp reprovision --tenant acme --timeout 4 --json 2>&1); rc=$?
is "$rc" 1 "a phone that never answers makes the run exit 1"
job=$(printf '%s' "$out" | sed -n 's/^  "job": \([0-9]*\),*$/\1/p')
like "$job" '^[0-9]+$' "the run is job $job"
like "$out" '"200": 5' "five phones answered 200"
like "$out" '"timeout": 1' "one timeout"
like "$out" '"sent": 6' "six sent"
for v in "p1 yealink check-sync;reboot=false" "p2 polycom check-sync" "p3 cisco resync" \
	 "p4 snom check-sync;reboot=false" "p5 grandstream check-sync"; do
	set -- $v
	eval "pid=\$$1"
	wait "$pid"; prc=$?
	is "$prc" 0 "sipp $2 phone exited 0 (answered one NOTIFY)"
	like "$(cat "$T/$2.log" 2>/dev/null)" "Event=\\|$3\\| Subscription-State=\\|terminated;reason=timeout\\|" "$2 received Event: $3"
done
like "$(cat "$T/snom.msg")" 'Via: SIP/2.0/TCP 127.0.0.1:' "snom NOTIFY came over TCP"
like "$(cat "$T/yealink.msg")" 'Via: SIP/2.0/UDP 127.0.0.1:' "yealink NOTIFY came over UDP"
copies=$(grep -c '^NOTIFY sip:user6@' "$T/silent.msg")
is "$copies" 4 "the silent phone received 4 copies (0, 0.5, 1.5, 3.5 s) before the 4 s timeout"
like "$out" '"result": "timeout"' "its result is timeout"
like "$out" 'no answer after 4 sends' "the detail counts the sends"
is "$(sql "select result from job_item i join device d on d.id=i.device_id where job_id=$job order by d.mac" | tr '\n' ' ')" \
	"200 200 200 200 200 timeout " "job items store each device's result"
kill "$p6" 2>/dev/null; wait "$p6" 2>/dev/null

# --resume retries only the one that failed; now it answers.
sipp_phone notify_uas.xml $PH6 udp fanvil; p6=$SIPP_PID
sleep 0.5
out=$(sp reprovision --resume "$job" --timeout 4 2>&1); rc=$?
is "$rc" 0 "resume exits 0 once the last phone answers"
like "$out" "job $job: 1 targets, sent 1, 200: 1, 481: 0, other: 0, timeout: 0, no contact: 0" "resume sent exactly one NOTIFY"
wait "$p6"; is "$?" 0 "the fanvil phone answered"
like "$(cat "$T/fanvil.log")" 'Event=\|check-sync\|' "fanvil received Event: check-sync"
is "$(sql "select result from job_item where job_id=$job order by device_id" | paste -sd' ')" "200 200 200 200 200 200" \
	"the job is complete"
is "$(sql 'select count(*) from job')" 1 "resume reuses the job"

# A device never seen registering: no contact, nothing sent.
phone 0c383e07e16d json "" ""
out=$(sp reprovision --device 0c:38:3e:07:e1:6d 2>&1); rc=$?
is "$rc" 1 "no known contact exits 1"
like "$out" 'sent 0, .*no contact: 1' "reported as no contact"
like "$out" '0c383e07e16d  no_contact' "the device is listed"

# Through an outbound proxy: the contact is unreachable, the proxy answers.
phone 001565000009 yealink 9 udp
sql "UPDATE registration SET contact='<sip:user9@192.0.2.1:5060>' WHERE code=200 AND device_id=(SELECT id FROM device WHERE mac='001565000009')"
sipp_phone notify_uas.xml $PH7 udp proxy; p7=$SIPP_PID
sleep 0.5
out=$(sp reprovision --device 001565000009 --via 127.0.0.1:$PH7 --timeout 4 2>&1); rc=$?
is "$rc" 0 "via an outbound proxy: 200"
wait "$p7"; is "$?" 0 "the proxy answered one NOTIFY"
like "$(cat "$T/proxy.msg")" 'NOTIFY sip:user9@192.0.2.1:5060 SIP/2.0' "Request-URI is the phone's contact"
like "$(cat "$T/proxy.msg")" "Route: <sip:127.0.0.1:$PH7;lr>" "with a Route header to the proxy"
done_testing
