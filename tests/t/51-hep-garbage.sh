#!/bin/sh
# 100,000 random, HEP-framed and mutated datagrams to a running sipprovd's
# HEP port: it keeps serving /healthz, counts the rejects, and still records
# a valid REGISTER observation afterwards.
. "$(dirname "$0")/../lib.sh"
need curl python3 sqlite3
HP=$(free_udp_tcp_port)
SEND="python3 $ROOT/tests/hep_send.py"

sp init >/dev/null || bail "init"
# The REGISTER and its 200 are sent by two python runs: on a loaded machine
# the second can start over a second later, so allow 10 s to pair them.
export SIPPROV_HEP_TIMEOUT_MS=10000
# The garbage opens thousands of unknown users, all from the one address
# hep_send.py writes into every packet; the unknown_user caps (test 54)
# would then rightly refuse carol, which is not what this test is about.
start_sipprovd -o hep_listen=127.0.0.1:$HP -o unknown_user_per_source=100000 -o unknown_user_max=100000

$SEND $HP garbage 100000 $$; ok $? "100000 datagrams sent"
sleep 1
kill -0 "$SIPPROVD_PID" 2>/dev/null; ok $? "sipprovd still running"
curl -fsS "$URL/healthz" >/dev/null; ok $? "/healthz still answers"
m=$(curl -fsS "$ADMIN_URL/metrics")
like "$m" 'sipprov_hep_packets_total\{result="rejected",reason="bad_length"\} [1-9]' "rejects counted by reason"
like "$m" 'sipprov_hep_packets_total\{result="accepted"\} [1-9]' "well-framed packets accepted"

$SEND $HP register valid-1 1 carol UDP && $SEND $HP response valid-1 1 200; ok $? "valid REGISTER + 200 sent"
n=0
for _ in $(seq 1 150); do
	n=$(sql "SELECT count(*) FROM registration WHERE username='carol' AND code=200")
	[ "$n" = 1 ] && break
	sleep 0.1
done
is "$n" 1 "the valid observation is recorded"
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
