#!/bin/sh
# phone_server=own (phone_listen.c, the prototype of issue 18) over raw
# sockets: what libmicrohttpd did for us and the listener now does itself.
# Keep-alive and pipelined requests answered in order on one connection;
# HEAD with the GET's Content-Length and no body; a head over the cap
# (431), an HTTP/2.0 request line (505) and HTTP/1.1 without Host (400)
# answered and closed; a body announced on a GET refused unread and the
# connection closed.  The routes' answers themselves are http.c's, proven
# by running the phone-facing test files with SP_PHONE_SERVER=own.
. "$(dirname "$0")/../lib.sh"
need python3

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 0015654aa937 --tenant open --layout yealink >/dev/null
start_sipprovd -o insecure_loopback=yes -o phone_server=own -o conn_memory_limit=8192
grep -q 'phone_server=own' "$SIPPROVD_LOG" || bail "sipprovd did not start the own listener"

# conv REQUEST-BYTES: send them at once, read until the server closes or
# goes quiet; prints each response's "STATUS LENGTH BODYBYTES" then
# "open" or "closed".
conv() {
	python3 - "$PORT" "$1" <<'PY'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
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
except ConnectionResetError:
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
done_testing
