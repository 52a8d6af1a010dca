#!/bin/sh
# phone_server=own (phone_listen.c, issue 18) over raw sockets: what
# libmicrohttpd did for us and the listener now does itself.  Keep-alive
# and pipelined requests answered in order on one connection; HEAD with the
# GET's Content-Length and no body; a head over the cap (431), an HTTP/2.0
# request line (505) and HTTP/1.1 without Host (400) answered and closed; a
# body announced on a GET refused unread and the connection closed.
# Chunked request bodies decoded whole or in pieces, with libmicrohttpd's
# answers to bad framing (400), a chunk size past 64 bits (413), too many
# trailers (431) and a body over the cap (413).  Firmware images sent from
# the file with the headers libmicrohttpd sends (compared with a daemon on
# phone_server=mhd).  HTTPS on the own listener (OpenSSL): pipelining,
# bodies and a GET in one record, firmware whole, slowly and in ranges,
# session resumption on TLS 1.2 and 1.3 (and tls_resumption = no), TLS 1.1
# and plain HTTP refused.  The routes' answers themselves are http.c's, proven
# by the phone-facing test files, on own (the default) and, for the files
# where the listener shows, on mhd too (make check-mhd).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need python3 curl openssl sha256sum ss taskset
TOKEN=tok-4f-0123456789

# Images live in firmware_dir on PostgreSQL (tests/t/22), beside $DB on SQLite.
FW="$T/firmware"
if backend_is pg; then echo "firmware_dir = $FW"; else echo "# firmware/ beside $DB"; fi >"$T/fw.conf"
export SIPPROV_CONF="$T/fw.conf"
sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 0015654aa937 --tenant open --layout yealink >/dev/null
# 5 MB: past the 4 MiB a connection sends per wake-up, and past loopback's
# socket buffer, so the rest goes out on EPOLLOUT.
head -c 5242880 /dev/urandom >"$T/x.rom"
SHA=$(sha256sum <"$T/x.rom" | cut -d' ' -f1)
sp firmware add "$T/x.rom" --vendor yealink --model T46S --version 1 >/dev/null || bail "firmware add"
own() {
	start_sipprovd -f "$SIPPROV_CONF" -o insecure_loopback=yes -o phone_server=own -o conn_memory_limit=8192 \
		-o api_token=$TOKEN "$@"
	grep -q 'phone_server=own' "$SIPPROVD_LOG" || bail "sipprovd did not start the own listener"
}
own

# threads = 0 is one loop per CPU sipprovd may run on (its affinity) and
# two more: this test's CPUs, then under taskset -c on one CPU (three loops:
# the spares work while a loop waits on the database).
want=$(($(nproc) + 2))
grep -q "^http: phone_server=own, $want listener threads" "$SIPPROVD_LOG"
ok $? "threads = 0: $want loops for this run's $(nproc) CPUs"
c0=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
taskset -c "$c0" "$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
	-o hep_listen= -o admin_listen= -o phone_server=own >"$T/pinned.log" 2>&1 &
pinned=$!
track_pid $pinned
[ -n "$(wait_ready "$T/pinned.log" $pinned)" ] || { sed 's/^/# sipprovd: /' "$T/pinned.log"; bail "pinned sipprovd did not start"; }
grep -q '^http: phone_server=own, 3 listener threads' "$T/pinned.log"
ok $? "threads = 0 under taskset -c $c0: three loops ($(grep -o '[0-9]* listener threads' "$T/pinned.log"))"
kill $pinned; wait $pinned 2>/dev/null

# conv REQUEST-BYTES: send them at once (or in parts: "|PAUSE|" between
# two waits 0.3 s), read until the server closes or goes quiet; prints
# each response's "STATUS LENGTH BODYBYTES" then "open" or "closed".
# "|REC|" between two: written one after the other and sent in one
# segment (TCP_CORK; over TLS, two records in one segment).  With CONV_CA
# set (a CA file), over TLS to $HTTPS_PORT.
conv() {
	_cp=$PORT
	[ -z "${CONV_CA:-}" ] || _cp=$HTTPS_PORT
	python3 - "$_cp" "$1" "${CONV_CA:-}" <<'PY'
import re, socket, ssl, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
if sys.argv[3]:
    s = ssl.create_default_context(cafile=sys.argv[3]).wrap_socket(s, server_hostname="localhost")
for i, part in enumerate(sys.argv[2].split("|PAUSE|")):
    if i:
        time.sleep(0.3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)   # the records leave together
    for rec in part.split("|REC|"):     # over TLS: one record each
        s.sendall(rec.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
data, closed = b"", False
try:
    while True:
        c = s.recv(65536)
        if not c:
            closed = True
            break
        data += c
except socket.timeout:
    pass
except (ConnectionResetError, ssl.SSLEOFError):
    closed = True                       # the answer was lost if it is not in data
out = []
while b"\r\n\r\n" in data:
    head, rest = data.split(b"\r\n\r\n", 1)
    st = head.split(b" ")[1].decode()
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    body_n = 0 if st == "304" or b"HEAD" in sys.argv[2].encode() and len(rest) < n else n
    out.append("%s %d %d" % (st, n, min(body_n, len(rest))))
    data = rest[body_n:]
print(" ".join(out + ["closed" if closed else "open"]))
PY
}
G='GET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\n\r\n'
one=$(conv "$G")
len=$(echo "$one" | cut -d' ' -f2)
ok $([ "$len" -gt 0 ] && echo 0 || echo 1) "a GET is answered with its body ($len bytes)"
is "$(conv "$G$G$G")" "200 $len $len 200 $len $len 200 $len $len open" \
	"three pipelined GETs on one connection: three answers in order, connection kept"
is "$(conv 'HEAD /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\n\r\n')" "200 $len 0 open" \
	"HEAD: the GET's Content-Length, no body"
is "$(conv 'GET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" "200 $len $len closed" \
	"Connection: close is honoured"
is "$(conv 'GET /0015654aa937.cfg HTTP/1.0\r\n\r\n')" "200 $len $len closed" "HTTP/1.0 without keep-alive: closed"
is "$(conv 'GET /0015654aa937.cfg HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')" "200 $len $len open" \
	"HTTP/1.0 with Connection: keep-alive: kept"
big=$(python3 -c 'print("X-Pad: " + "a" * 5000 + "\\r\\n", end="")')
is "$(conv "GET /0015654aa937.cfg HTTP/1.1\\r\\nHost: x\\r\\n$big\\r\\n")" "431 32 32 closed" \
	"a head over conn_memory_limit/2: 431, closed"
is "$(conv 'GET /0015654aa937.cfg HTTP/2.0\r\nHost: x\r\n\r\n')" "505 27 27 closed" "HTTP/2.0 request line: 505, closed"
is "$(conv 'GET /0015654aa937.cfg HTTP/1.1\r\n\r\n')" "400 12 12 closed" "HTTP/1.1 without Host: 400, closed"
is "$(conv 'GET /0015654aa937.cfg HTTP/1.1\r\nHost : x\r\n\r\n')" "400 12 12 closed" \
	"a space before a header colon: 400, closed"
is "$(conv 'GET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc'"$G")" "400 12 12 closed" \
	"a GET with a body: 400 unread, closed (nothing smuggled after it)"
is "$(conv '\r\n'"$G")" "200 $len $len open" "an empty line before the request line is ignored"

# Chunked bodies (Transfer-Encoding: chunked), to the registration webhook.
W="POST /api/v1/registrations HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer $TOKEN\\r\\n"
W="${W}Content-Type: application/json\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
A='{"username":"alice","registrar":"example.test",'
B='"code":200,"src_ip":"192.0.2.10"}'
hx() { printf %x "${#1}"; }
body="$(hx "$A");ext=1\r\n$A\r\n$(hx "$B")\r\n$B\r\n0\r\nX-Trailer: t\r\n\r\n"
is "$(conv "$W$body$G")" "202 9 9 200 $len $len open" \
	"a chunked body in two chunks with an extension and a trailer: decoded, then the pipelined GET"
# The same in pieces: cut inside a size line, inside a chunk's data, and
# the next request in the same segment as the body's end.
body="$(hx "$A")|PAUSE|\r\n${A%example*}|PAUSE|example${A#*example}\r\n$(hx "$B")\r\n$B\r\n|PAUSE|0\r\n\r\n$G"
is "$(conv "$W$body")" "202 9 9 200 $len $len open" "the same body in three pieces: the same answers"
is "$(sql "SELECT count(*) FROM registration WHERE username='alice' AND code=200")" 2 \
	"both registrations are recorded: the webhook got the whole body"
# Expect: 100-continue, as libcurl sends it: the interim 100, then the body.
X="POST /api/v1/registrations HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer $TOKEN\\r\\n"
X="${X}Content-Type: application/json\\r\\nExpect: 100-continue\\r\\nContent-Length: $(( ${#A} + ${#B} ))\\r\\n\\r\\n"
is "$(conv "$X|PAUSE|$A$B")" "100 0 0 202 9 9 open" "Expect: 100-continue: 100 Continue, then the answer"
is "$(conv "$X$A$B")" "100 0 0 202 9 9 open" "the 100 also when the body came with the head (as libmicrohttpd)"
is "$(conv 'POST /api/v1/registrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n|PAUSE|{}')" \
	"401 13 13 closed" \
	"no 100 for a request refused on its headers"
is "$(conv "${W}zz\r\n{}\r\n0\r\n\r\n$G")" "400 12 12 closed" "a chunk size that is not hex: 400, closed"
is "$(conv "${W}2\r\n{}XX0\r\n\r\n$G")" "400 12 12 closed" "chunk data longer than its size: 400, closed"
is "$(conv "${W}10000000000000000\r\n")" "413 15 15 closed" "a chunk size past 64 bits: 413, closed"
tr=$(python3 -c 'print("X: y\\r\\n" * 65, end="")')
is "$(conv "${W}0\r\n$tr\r\n$G")" "431 32 32 closed" "65 trailer lines: 431, closed"
big=$(python3 -c 'print(("400\\r\\n" + "x" * 1024 + "\\r\\n") * 70 + "0\\r\\n\\r\\n", end="")')
is "$(conv "$W$big$G")" "413 15 15 200 $len $len open" \
	"a chunked body over the webhook's 64 KiB: 413 once read (as libmicrohttpd), the connection kept"
like "$(grep "/api/v1/registrations" "$T/access.log" | tail -1)" '"POST /api/v1/registrations" 413 0 "" body over 64 KiB$' \
	"the access log has the 413 and why"

# Firmware: the file sent whole, in ranges and by HEAD, as libmicrohttpd sends it.
F="$URL/fw/$SHA/x.rom"
curl -s -o "$T/full" "$F"
is "$(sha256sum <"$T/full" | cut -d' ' -f1)" "$SHA" "a 5 MB image downloads byte-identical"
curl -s -o "$T/part" -r 4194000-4194999 "$F"
dd if="$T/x.rom" of="$T/want" bs=1000 skip=4194 count=1 2>/dev/null
cmp -s "$T/part" "$T/want"
ok $? "a range across the 4 MiB slice holds those bytes"
R="GET /fw/$SHA/x.rom HTTP/1.1\\r\\nHost: x\\r\\nRange: bytes=0-9\\r\\n\\r\\n"
is "$(conv "$R$R")" "206 10 10 206 10 10 open" "two pipelined range requests on one connection"
like "$(tail -1 "$T/access.log")" "\"GET /fw/<redacted>/x.rom\" 206 10 " "the access log has the range and its bytes"
# heads: each answer's head without Date and its body's hash, for the same
# requests to whichever daemon $URL is.
heads() {
	for a in "" "-I" "-r 10-19" "-r -5" "-r 6000000-" "-H If-None-Match:\"$SHA\"" "-H If-Range:\"x\" -r 0-9"; do
		echo "$a"
		curl -s -D - -o "$T/b" $a "$URL/fw/$SHA/x.rom" | tr -d '\r' | grep -v '^Date:'
		[ "$a" = -I ] || sha256sum <"$T/b" | cut -c1-16      # (curl -I -o writes the head, Date too)
	done
	curl -s -D - -o /dev/null "$URL/fw/$SHA/a/b" | tr -d '\r' | grep -v '^Date:'
}
heads >"$T/heads.own"
like "$(cat "$T/heads.own")" "Content-Range: bytes \\*/5242880" "the 416 names the size"
stop_sipprovd
start_sipprovd -f "$SIPPROV_CONF" -o insecure_loopback=yes -o phone_server=mhd
heads >"$T/heads.mhd"
d=$(diff "$T/heads.mhd" "$T/heads.own")
is "$d" "" "200, HEAD, 206, suffix range, 416, 304, If-Range, 404: the same heads and bodies as phone_server=mhd"
stop_sipprovd

# HTTPS on the own listener too (TLS by OpenSSL, tls_ossl.c): the same
# routes, framing and firmware path over SSL_read / SSL_write.
P="$T/pki"
make_pki "$P"
own -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key"
[ -n "$HTTPS_PORT" ] || bail "no https listener on phone_server=own"
grep -q 'https: phone_server=own, .* TLS by OpenSSL' "$SIPPROVD_LOG"
ok $? "https_listen is the own listener's, TLS by OpenSSL"
S="https://localhost:$HTTPS_PORT"
curl -s -o "$T/plain" "$URL/0015654aa937.cfg"
is "$(curl -s --cacert "$P/ca.pem" -o "$T/tls" -w '%{http_code}' "$S/0015654aa937.cfg")" 200 "HTTPS answers a config"
cmp -s "$T/plain" "$T/tls"
ok $? "the same config as over plain HTTP"
export CONV_CA="$P/ca.pem"
is "$(conv "$G$G$G")" "200 $len $len 200 $len $len 200 $len $len open" \
	"TLS: three pipelined GETs on one connection, answered in order"
body="$(hx "$A")\r\n$A\r\n$(hx "$B")\r\n$B\r\n0\r\n\r\n"
is "$(conv "$W$body$G")" "202 9 9 200 $len $len open" "TLS: a chunked body, then the pipelined GET"
# The head, then the body and a GET in one TLS record: OpenSSL decrypts
# them together, and the GET must not wait for bytes the socket no longer has.
is "$(conv "$X|PAUSE|$A$B$G")" "100 0 0 202 9 9 200 $len $len open" \
	"TLS: Expect: 100-continue, then a Content-Length body and a GET in one record: all three answered"
# OpenSSL reads ahead: records after the one that ends a body (or a head)
# wait inside it, where epoll cannot see them, and must still be answered.
is "$(conv "$X|PAUSE|$A$B|REC|$G|REC|$G")" "100 0 0 202 9 9 200 $len $len 200 $len $len open" \
	"TLS: a body, then two GETs in records of their own sent at once: all answered"
is "$(conv "$W$body|REC|$G")" "202 9 9 200 $len $len open" "TLS: a chunked body, then a GET in its own record"
is "$(conv "$G|REC|$G|REC|$G")" "200 $len $len 200 $len $len 200 $len $len open" \
	"TLS: three GETs in three records sent at once, answered in order"
is "$(conv 'GET /0015654aa937.cfg HTTP/2.0\r\nHost: x\r\n\r\n')" "505 27 27 closed" "TLS: a refused head is answered, closed"
unset CONV_CA
curl -s --cacert "$P/ca.pem" -o "$T/tlsfw" "$S/fw/$SHA/x.rom"
is "$(sha256sum <"$T/tlsfw" | cut -d' ' -f1)" "$SHA" "TLS: the 5 MB image downloads byte-identical (records read from the file)"
# A slow reader: the socket fills, SSL_write waits for EPOLLOUT and resumes.
curl -s --cacert "$P/ca.pem" --limit-rate 2M -o "$T/tlsslow" "$S/fw/$SHA/x.rom"
is "$(sha256sum <"$T/tlsslow" | cut -d' ' -f1)" "$SHA" "TLS: the same image to a reader at 2 MB/s"
is "$(curl -s --cacert "$P/ca.pem" -o "$T/tlspart" -w '%{http_code} %{size_download}' -r 4194000-4194999 "$S/fw/$SHA/x.rom")" \
	"206 1000" "TLS: a firmware range"
cmp -s "$T/tlspart" "$T/want"
ok $? "TLS: the range holds those bytes"
# Resumption: a phone fetching its next file skips the full handshake
# (session ids on TLS 1.2, tickets on 1.3); tls_resumption = no turns it
# off.  resumed VERSION: two connections, the second offering the first's
# session: "VERSION STATUS REUSED" for each.
resumed() {
	python3 - "$HTTPS_PORT" "$P/ca.pem" "$1" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, sys.argv[3])
sess, out = None, []
for _ in range(2):
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3),
                         server_hostname="localhost", session=sess) as s:
        s.sendall(b"GET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while (c := s.recv(65536)):
            data += c
        out.append("%s %s %s" % (s.version(), data.split(b" ")[1].decode(), s.session_reused))
        sess = s.session
print(", ".join(out))
PY
}
for v in TLSv1_2 TLSv1_3; do
	vv=$(echo "$v" | tr _ .)
	r0=$(metric 'sipprov_tls_handshakes_total{resumed="yes"}'); f0=$(metric 'sipprov_tls_handshakes_total{resumed="no"}')
	is "$(resumed $v)" "$vv 200 False, $vv 200 True" "TLS: a second connection with the first one's session resumes it ($vv)"
	is "$(($(metric 'sipprov_tls_handshakes_total{resumed="no"}') - f0)) $(($(metric 'sipprov_tls_handshakes_total{resumed="yes"}') - r0))" \
		"1 1" "and /metrics counts one full handshake and one resumed ($vv)"
done
old=$(echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1)
like "$old" "alert protocol version|unsupported protocol|wrong version number" "TLS 1.1 is refused"
new=$(echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_2 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1)
like "$new" "Protocol *: TLSv1.2" "the same client on TLS 1.2 is served (the refusal above is the version)"
# Plain HTTP to the TLS port: no answer, the connection closed, the port serving.
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTPS_PORT/0015654aa937.cfg")" "000" \
	"plain HTTP sent to the TLS port: closed without an answer"
is "$(curl -s --cacert "$P/ca.pem" -o /dev/null -w '%{http_code}' "$S/0015654aa937.cfg")" 200 "and the port still serves"
is "$(conv "$G$G")" "200 $len $len 200 $len $len open" "while the plain port is still the own listener's"
stop_sipprovd
own -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key" -o tls_resumption=no
for v in TLSv1_2 TLSv1_3; do
	vv=$(echo "$v" | tr _ .)
	is "$(resumed $v)" "$vv 200 False, $vv 200 False" "tls_resumption = no: every handshake a full one ($vv)"
done
is "$(metric 'sipprov_tls_handshakes_total{resumed="no"}') $(metric 'sipprov_tls_handshakes_total{resumed="yes"}')" \
	"4 0" "and /metrics counts them all full"

# The loops share one listening socket; a second daemon of the same user
# must find the port taken, not take half the phones.
timeout 10 "$SIPPROVD" -d -f "$SIPPROV_CONF" -o database="$DB" -o templates="$ROOT/templates" -o phone_server=own \
	-o threads=2 -o http_listen=127.0.0.1:$PORT -o admin_listen=127.0.0.1:0 -o hep_listen= >"$T/second.log" 2>&1
rc=$?
ok $((rc == 0 || rc == 124)) "a second sipprovd on the own listener's port does not start (exit $rc)"
like "$(cat "$T/second.log")" "cannot listen on http_listen: Address already in use" "and says the port is in use"
n=0
for _ in 1 2 3 4 5 6 7 8; do [ "$(conv "$G")" = "200 $len $len open" ] && n=$((n + 1)); done
is "$n" 8 "the first daemon still answers every connection"
# Nor can any other process of this user join it with SO_REUSEPORT (per-loop
# SO_REUSEPORT sockets let it into the group the kernel spreads connections
# over).
is "$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); print("joined")
except OSError as e:
    print("refused", e.errno)
PY
)" "refused 98" "another process cannot join the port with SO_REUSEPORT (EADDRINUSE)"
is "$(ss -Htln "sport = :$PORT" | wc -l)" 1 "the listener's loops (threads = 0: one per CPU) share one listening socket"
# Kept-alive connections spread over the loops.  One loop's wake-up can
# accept a whole burst; before the handoff (phone_listen.c, loop_pick) one
# loop often kept nearly all of them and one CPU did the work while the
# other idled: over 3 runs of this test, a loop did 78-100% of the work in
# 5 of 9 HTTP bursts, and 91-100% in all 9 HTTPS ones (their handshakes
# come one after the other, each accepted by the loop idle first).  Three bursts of 40
# connections, 30 requests on each, over HTTP and over HTTPS: each loop
# thread does at least 30% of the loops' work (its CPU time, schedstat).
stop_sipprovd
own -o threads=2 -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key"
burst() { # burst PORT THREAD-PREFIX [CA]: the loops' shares of the CPU, "0/1" in percent
	python3 - "$1" "$SIPPROVD_PID" "$2" "${3:-}" <<'PY'
import glob, socket, ssl, sys
port, pid, prefix, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def cpu():
    r = {}
    for t in glob.glob("/proc/%s/task/*" % pid):
        name = open(t + "/comm").read().strip()
        if name.startswith(prefix + "/"):
            r[name] = int(open(t + "/schedstat").read().split()[0])
    return r
req = b"GET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\n\r\n"
ss = []
for _ in range(40):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    ss.append(s)
for i, s in enumerate(ss):
    s.setblocking(True); s.settimeout(20)
    if ca:
        ss[i] = s = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost")
    s.sendall(req)
def resp(s):
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(65536)
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "): sys.exit("not 200: %r" % head[:40])
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < n: body += s.recv(65536)
for s in ss: resp(s)
a = cpu()
for _ in range(30):
    for s in ss: s.sendall(req)
    for s in ss: resp(s)
b = cpu()
d = [b[k] - a[k] for k in sorted(b)]
print("/".join(str(round(100 * x / max(1, sum(d)))) for x in d))
PY
}
for proto in http https; do
	p=$PORT ca=
	[ $proto = https ] && p=$HTTPS_PORT ca=$P/ca.pem
	shares="" low=0
	for _ in 1 2 3; do
		sh=$(burst "$p" "sp-$proto" "$ca")
		shares="$shares $sh"
		case $sh in [0-9]*/[0-9]*) [ "${sh%/*}" -ge 30 ] && [ "${sh#*/}" -ge 30 ] || low=1 ;; *) low=1 ;; esac
	done
	ok $low "$proto: 40 kept-alive connections at once spread over both loops (CPU %:$shares)"
done
done_testing
