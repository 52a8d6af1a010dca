#!/bin/sh
# Slow clients: a thousand connections to the HTTP port and a thousand to
# the HTTPS port, each sending one byte a second (an endless request line;
# a TLS ClientHello), all from 127.0.0.1.  A legitimate device on
# 127.0.0.2 must keep fetching over both, promptly.  What holds: the
# explicit per-IP connection limit (per_ip_conn_limit) and connection
# limit, set by sipprovd instead of libmicrohttpd's unlimited defaults.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need curl openssl python3
HTTP="python3 $ROOT/tests/peers/sp_http.py"
PW='Slow-SIP-pw!43'
P="$T/pki"
make_pki "$P"

sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp template set acme main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null
sp tenant set acme --default-template main >/dev/null
sp device add 001565000001 --tenant acme --layout yealink >/dev/null
sp account add 001565000001 --username u1 --auth-username a1 --password "$PW" >/dev/null
HP=$(sp device credentials 001565000001 | sed -n 's/^  password: *//p')

start_sipprovd -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key" \
	-o per_ip_conn_limit=64 -o conn_limit=4096 -o conn_timeout=15
[ -n "$HTTPS_PORT" ] || bail "no https listener"

$HTTP slow 127.0.0.1 "$PORT" --count 1000 --source 127.0.0.1 --stats "$T/slow1" > "$T/slow1.out" 2>&1 &
S1=$!; track_pid $S1
$HTTP slow 127.0.0.1 "$HTTPS_PORT" --count 1000 --source 127.0.0.1 --tls --stats "$T/slow2" > "$T/slow2.out" 2>&1 &
S2=$!; track_pid $S2
for _ in $(seq 1 100); do grep -q open "$T/slow1.out" && grep -q open "$T/slow2.out" && break; sleep 0.1; done
like "$(cat "$T/slow1.out") $(cat "$T/slow2.out")" '^open 1000 open 1000$' "2,000 slow connections opened from 127.0.0.1"
sleep 3

# Legitimate fetches from another source, over both listeners.
good=0; n=0; worst=0
for i in $(seq 1 10); do
	for base in "$URL" "https://localhost:$HTTPS_PORT"; do
		r=$(curl -s --cacert "$P/ca.pem" --max-time 5 -o "$T/b" -w '%{http_code} %{time_total}' --interface 127.0.0.2 \
			--digest -u "001565000001:$HP" "$base/001565000001.cfg")
		n=$((n + 1))
		set -- $r
		[ "$1" = 200 ] && grep -qF "$PW" "$T/b" && good=$((good + 1))
		worst=$(python3 -c "print(max($worst, $2))")
	done
	sleep 0.5
done
diag "legitimate fetches: $good/$n served, slowest ${worst}s"
is "$good" "$n" "every legitimate fetch from 127.0.0.2 (HTTP and HTTPS) was served during the slow-client attack"
kill -0 $S1 2>/dev/null && kill -0 $S2 2>/dev/null; ok $? "the slow clients were still running throughout"
read sent1 re1 < "$T/slow1"; read sent2 re2 < "$T/slow2"
diag "slow HTTP: $sent1 bytes trickled, $re1 connections closed by the server; slow TLS: $sent2 bytes, $re2 closed"
ok $([ "$re1" -gt 0 ] && echo 0 || echo 1) "the server closed slow connections beyond the per-IP limit ($re1 closed)"
# Only sockets sipprovd has accepted (owned by its pid): connections still
# in the kernel's accept backlog are established too, but not held by it.
held=$(ss -Htnp state established "( sport = :$PORT )" 2>/dev/null | grep -c "pid=$SIPPROVD_PID,")
diag "slow HTTP connections the server holds: $held"
ok $([ "$held" -le 64 ] && echo 0 || echo 1) "the server holds at most per_ip_conn_limit=64 of them ($held)"
kill $S1 $S2 2>/dev/null
wait $S1 $S2 2>/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do
	st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --digest -u "001565000001:$HP" "$URL/001565000001.cfg")
	[ "$st" = 200 ] && break
	sleep 0.5
done
is "$st" 200 "once the slow clients are gone, 127.0.0.1 is served again"
done_testing
