#!/bin/sh
# Header trickle (issue 11, item 6): connections that send one header line
# every 2 s never finish their headers.  Before, conn_timeout only caught
# idle connections, so 70 sources x 64 of them kept a phone out (0 of 6
# fetches).  Now each gets header_timeout in total, and a full connection
# budget sheds the oldest incomplete connection for a new one.  Scaled to
# fit in a minute: budget (conn_limit) 1024, 32 sources x 64 = 2,048
# tricklers (twice the budget), a phone on 127.0.0.1 fetching 6 times.
. "$(dirname "$0")/../lib.sh"
need curl python3
PW='Trickle-pw!4c'

sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp template set acme main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null
sp tenant set acme --default-template main >/dev/null
sp device add 001565000001 --tenant acme --layout yealink >/dev/null
sp account add 001565000001 --username u1 --auth-username a1 --password "$PW" >/dev/null
HP=$(sp device credentials 001565000001 | sed -n 's/^  password: *//p')

# 1. The total deadline, alone: one connection sending a header line every
# second is closed after header_timeout (3 s here), not kept alive by it.
start_sipprovd -o header_timeout=3 -o conn_timeout=15
took=$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(1)
t0 = time.time()
s.sendall(b"GET /001565000001.cfg HTTP/1.1\r\n")
for i in range(30):
    try:
        if s.recv(4096) == b"":
            break
    except socket.timeout:
        pass
    try:
        s.sendall(b"X-Slow-%d: x\r\n" % i)
    except OSError:
        break
print("%.1f" % (time.time() - t0))
PY
)
diag "a connection trickling one header line a second was closed after ${took}s"
ok $(python3 -c "import sys; sys.exit(0 if 2.5 <= $took <= 5.5 else 1)"; echo $?) \
	"header_timeout=3 closes a trickling connection after about 3 s (${took}s), not conn_timeout's 15"
# A kept-alive connection between requests gets the same deadline.
st=$(curl -s -o /dev/null -w '%{http_code}' --digest -u "001565000001:$HP" "$URL/001565000001.cfg")
is "$st" 200 "a phone is served at once (its headers arrive in one go)"
stop_sipprovd

# 2. Many sources, twice the budget.
start_sipprovd -o conn_limit=1024 -o per_ip_conn_limit=64 -o conn_timeout=15 -o header_timeout=10
python3 "$ROOT/tests/peers/sp_hold.py" trickle 127.0.0.1 "$PORT" --sources 32 --per-source 64 --interval 2 \
	--stats "$T/trickle" > "$T/trickle.out" 2>&1 &
TR=$!; track_pid $TR
for _ in $(seq 1 100); do grep -q open "$T/trickle.out" && break; sleep 0.1; done
sleep 4
good=0; n=0; times=""
for i in 1 2 3 4 5 6; do
	r=$(curl -s --max-time 10 -o "$T/b" -w '%{http_code} %{time_total}' --digest -u "001565000001:$HP" \
		"$URL/001565000001.cfg")
	n=$((n + 1))
	set -- $r
	[ "$1" = 200 ] && grep -qF "$PW" "$T/b" && good=$((good + 1))
	times="$times $2"
	sleep 1.5
done
read open shed < "$T/trickle"
diag "phone fetch times during the trickle (s):$times"
diag "tricklers: $open connections open on their side, $shed closed by the server so far"
is "$good" 6 "the phone got all 6 fetches during a 2,048-connection trickle from 32 sources"
kill -0 $TR 2>/dev/null; ok $? "the tricklers were running throughout"
ok $([ "$shed" -gt 0 ] && echo 0 || echo 1) "the server closed trickling connections ($shed)"
held=$(ss -Htn state established "( sport = :$PORT )" 2>/dev/null | wc -l)
diag "established connections on the server port: $held"
m=$(curl -s "$ADMIN_URL/metrics" | grep '^sipprov_conn_shed_total' | tr '\n' ' ')
diag "$m"
like "$m" 'reason="budget"} [1-9]' "sheds are counted (sipprov_conn_shed_total)"
kill $TR; wait $TR 2>/dev/null
done_testing
