#!/bin/sh
# Ambiguous request framing (RFC 9112 6.3) over raw sockets: repeated or
# differing Content-Length, Content-Length with Transfer-Encoding, a
# transfer coding other than chunked.  Each gets 400 at once and the
# connection closes, so no second request can be smuggled after it.
# Plain requests and chunked bodies keep working.
. "$(dirname "$0")/../lib.sh"
need python3
HTTP="python3 $ROOT/tests/peers/sp_http.py"

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 0015654aa937 --tenant open --layout yealink >/dev/null
start_sipprovd -o insecure_loopback=yes -o api_token=t0ken-for-framing-test

# raw gives up after 4 s and then prints "none", not the status: every
# "400 closed" below was answered before that, so not after one of the
# daemon's timeouts (header_timeout 10 s, conn_timeout 15 s).
raw() { $HTTP raw 127.0.0.1 "$PORT" "$1" --timeout 4; }
W='POST /api/v1/registrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken-for-framing-test\r\nContent-Type: application/json\r\n'
G='GET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\n'

is "$(raw "$G\r\n")" "200 open" "plain GET: 200, keep-alive"
is "$(raw "${W}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x")" "400 closed" "differing Content-Length: 400, closed"
is "$(raw "${W}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")" "400 closed" "repeated equal Content-Length: 400, closed"
is "$(raw "${W}Content-Length: 2, 2\r\n\r\n{}")" "400 closed" "Content-Length list: 400, closed"
is "$(raw "${W}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")" "400 closed" \
	"Content-Length with Transfer-Encoding: 400, closed"
is "$(raw "${G}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")" "400 closed" \
	"GET with Content-Length and Transfer-Encoding: 400, closed"
s=$(date +%s)
is "$(raw "${W}Transfer-Encoding: gzip\r\n\r\nxxxx")" "400 closed" "Transfer-Encoding: gzip: 400, closed"
is "$(raw "${W}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")" "400 closed" "Transfer-Encoding: gzip, chunked: 400, closed"
is "$(raw "${W}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")" "400 closed" \
	"two Transfer-Encoding headers: 400, closed"
diag "three refusals in $(( $(date +%s) - s )) s, python's start-up included"
# A smuggling attempt: the second request must never be answered.
is "$(raw "${G}Content-Length: 0\r\nContent-Length: 40\r\n\r\nGET /0015654aa937.cfg HTTP/1.1\r\nHost: x\r\n\r\n")" "400 closed" \
	"a request hidden behind two Content-Lengths is not served"
like "$(raw "${W}Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")" "^(202|4[0-9][0-9]) open$" \
	"a chunked body alone is framed fine (the webhook judges the body; the connection stays open)"
is "$(raw "$G\r\n")" "200 open" "and the server still serves"
done_testing
