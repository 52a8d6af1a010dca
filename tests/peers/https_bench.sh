#!/bin/sh
# tests/peers/https_bench.sh: HTTPS fetches per second with a full TLS
# handshake per request (wrk -H "Connection: close"), without digest (a
# softphone token URL) and with digest (pre-computed Authorization headers,
# tests/peers/wrk_digest.lua).  Not part of `make test`: run by hand
#   SP_BUILD=$PWD/build sh tests/peers/https_bench.sh [SECONDS]
# Prints two "bench:" lines.  PKI_SERVER_KEY=ec uses an ECDSA P-256 server key.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need wrk curl openssl python3
D=${1:-10}
P="$T/pki"
make_pki "$P"
sp init >/dev/null
for t in soft dig; do
	sp tenant add $t --device-auth $([ $t = soft ] && echo token || echo digest) >/dev/null
	sp template set $t main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null
	sp tenant set $t --default-template main >/dev/null
done
mac=$(sp device add --tenant soft --layout linphone | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
tok=$(sp account add "$mac" --username s1 --auth-username a1 --password benchpw1 | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
for m in 001565000001 001565000002; do
	sp device add $m --tenant dig --layout yealink >/dev/null
	sp account add $m --username u$m --auth-username a$m --password benchpw2 >/dev/null
	sp device credentials $m | sed -n 's/^  password: *//p' > "$T/$m.pw"
done
start_sipprovd -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key" \
	-o access_log= -o per_ip_conn_limit=0 -o fail_threshold=1000000
S="https://127.0.0.1:$HTTPS_PORT"
curl -sk -o /dev/null -w '%{http_code}\n' "$S/s/$tok" | grep -q 200 || bail "token fetch failed"
wrk -t2 -c32 -d2s -H "Connection: close" "$S/s/$tok" >/dev/null 2>&1   # warm-up, not counted
wrk -t2 -c32 -d"${D}s" -H "Connection: close" "$S/s/$tok" > "$T/wrk1" 2>&1
cat "$T/wrk1" | sed 's/^/# /'
N=$((D * 6000))
args=""
for m in 001565000001 001565000002; do
	python3 "$ROOT/tests/peers/sp_http.py" wrkauth "$S" "/$m.cfg" "$m" "$(cat "$T/$m.pw")" "$N" "$T/$m.hdr"
	args="$args /$m.cfg $T/$m.hdr"
done
wrk -t2 -c32 -d"${D}s" -s "$ROOT/tests/peers/wrk_digest.lua" "$S" -- $args > "$T/wrk2" 2>&1
cat "$T/wrk2" | sed 's/^/# /'
r1=$(sed -n 's/^Requests\/sec: *//p' "$T/wrk1"); r2=$(sed -n 's/^Requests\/sec: *//p' "$T/wrk2")
e1=$(grep -c 'Non-2xx' "$T/wrk1"); e2=$(grep -c 'Non-2xx' "$T/wrk2")
echo "bench: https full handshake (${PKI_SERVER_KEY:-rsa} server key), no digest (token URL): $r1 fetches/s (non-2xx lines: $e1)"
echo "bench: https full handshake (${PKI_SERVER_KEY:-rsa} server key), digest MD5 (pre-computed nc): $r2 fetches/s (non-2xx lines: $e2)"
