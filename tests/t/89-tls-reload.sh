#!/bin/sh
# SIGHUP reloads the HTTPS certificate (renewals) without dropping a
# connection: curl fetches over new connections in a loop and one
# keep-alive connection fetches across the reload; none fails, the
# keep-alive one is never reconnected, and a new handshake (openssl
# s_client) sees the renewed certificate's serial.  A bad renewal (a key
# that does not match, a file that is not PEM) is refused with a log line
# and the certificate being served stays.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need curl openssl
P="$T/pki"
make_pki "$P"

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 001565000089 --tenant open --layout yealink >/dev/null

# Served files are copies: the test replaces them the way a renewal does.
cp "$P/server.pem" "$T/cert.pem"; cp "$P/server.key" "$T/key.pem"
start_sipprovd -o https_listen=127.0.0.1:0 -o tls_cert="$T/cert.pem" -o tls_key="$T/key.pem"
[ -n "$HTTPS_PORT" ] || bail "no https listener"
S="https://localhost:$HTTPS_PORT"

served_serial() { # the serial a new handshake sees
	echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -servername localhost 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null
}
old=$(openssl x509 -in "$P/server.pem" -noout -serial)
is "$(served_serial)" "$old" "before the reload: the first certificate is served"

# A renewal: new key, new certificate from the same CA (new serial).
openssl req -newkey rsa:2048 -nodes -keyout "$T/new.key" -out "$T/new.csr" -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$T/new.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -out "$T/new.pem" \
	-days 3 -extfile "$P/server.ext" 2>/dev/null || bail "openssl: renewed certificate"
new=$(openssl x509 -in "$T/new.pem" -noout -serial)
[ "$new" != "$old" ]; ok $? "the renewed certificate has another serial ($new)"

# Fetch loop, each fetch a new connection (new handshake), until told to stop.
( while [ ! -e "$T/stop" ]; do
	curl -s -o /dev/null -w '%{http_code}\n' --cacert "$P/ca.pem" "$S/001565000089.cfg"
done > "$T/loop.codes" ) &
track_pid $!
loop=$!
# One keep-alive connection: 100 fetches, 20 a second, spanning the reload.
urls=""
for i in $(seq 1 100); do urls="$urls -o /dev/null $S/001565000089.cfg"; done
curl -s --rate 20/s --cacert "$P/ca.pem" -w '%{http_code} %{num_connects}\n' $urls > "$T/ka.out" &
track_pid $!
ka=$!
sleep 2

# Replace the files as a renewal tool does (rename over), then SIGHUP.
cp "$T/new.key" "$T/key.tmp" && mv "$T/key.tmp" "$T/key.pem"
cp "$T/new.pem" "$T/cert.tmp" && mv "$T/cert.tmp" "$T/cert.pem"
n_before=$(wc -l < "$T/loop.codes")
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do grep -q 'reloaded configuration' "$SIPPROVD_LOG" && break; sleep 0.05; done
grep -q "tls: serving certificate serial=" "$SIPPROVD_LOG"; ok $? "the reload logs the certificate it now serves"
is "$(served_serial)" "$new" "after SIGHUP: a new connection sees the renewed certificate"
na=$(date -d "$(openssl x509 -in "$T/new.pem" -noout -enddate | cut -d= -f2)" +%s)
is "$(curl -s "$ADMIN_URL/metrics" | sed -n 's/^sipprov_tls_cert_not_after_seconds //p')" "$na" \
	"sipprov_tls_cert_not_after_seconds follows the renewal"
sleep 2
touch "$T/stop"
wait "$loop"
wait "$ka"

n=$(wc -l < "$T/loop.codes")
bad=$(grep -vc '^200$' "$T/loop.codes")
[ "$n_before" -ge 1 ] && [ "$n" -gt "$n_before" ]
ok $? "fetch loop over new connections ran across the reload ($n_before fetches before, $n in all)"
is "$bad" 0 "none of the $n fetches over new connections failed"
is "$(wc -l < "$T/ka.out" | tr -d ' ')" 100 "the keep-alive connection made all 100 fetches"
is "$(grep -vc '^200 ' "$T/ka.out")" 0 "every keep-alive fetch answered 200"
# num_connects is 1 for the first transfer, 0 while the connection is reused.
is "$(awk '{s += $2} END {print s}' "$T/ka.out")" 1 "the keep-alive connection was never dropped and reopened"

# Bad renewals: refused, logged, the renewed certificate stays.
openssl req -newkey rsa:2048 -nodes -keyout "$T/other.key" -out /dev/null -subj "/CN=x" 2>/dev/null
cp "$T/other.key" "$T/key.pem"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'reloaded configuration' "$SIPPROVD_LOG")" -ge 2 ] && break; sleep 0.05; done
grep -q "TLS certificate refused, still serving the previous one: .*does not match" "$SIPPROVD_LOG"
ok $? "a key that does not match the certificate: refused with a log line"
is "$(served_serial)" "$new" "and the renewed certificate is still served"
cp "$T/new.key" "$T/key.pem"
echo "not a certificate" > "$T/cert.pem"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'reloaded configuration' "$SIPPROVD_LOG")" -ge 3 ] && break; sleep 0.05; done
is "$(grep -c 'TLS certificate refused' "$SIPPROVD_LOG")" 2 "a file that is no certificate: refused with a log line"
is "$(served_serial)" "$new" "and the renewed certificate is still served"
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" "$S/001565000089.cfg")
is "$st" 200 "fetches still succeed"
kill -0 "$SIPPROVD_PID"; ok $? "sipprovd still running"
stop_sipprovd

# The admin listener's certificate is renewed the same way.
cp "$P/server.pem" "$T/acert.pem"; cp "$P/server.key" "$T/akey.pem"
start_sipprovd -o admin_tls_cert="$T/acert.pem" -o admin_tls_key="$T/akey.pem"
admin_serial() {
	echo | openssl s_client -connect "127.0.0.1:$ADMIN_PORT" -servername localhost 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null
}
is "$(admin_serial)" "$old" "admin listener: the first certificate is served"
cp "$T/new.key" "$T/akey.tmp" && mv "$T/akey.tmp" "$T/akey.pem"
cp "$T/new.pem" "$T/acert.tmp" && mv "$T/acert.tmp" "$T/acert.pem"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do grep -q 'reloaded configuration' "$SIPPROVD_LOG" && break; sleep 0.05; done
is "$(admin_serial)" "$new" "admin listener: after SIGHUP a new connection sees the renewed certificate"
grep -q "tls: admin listener serving certificate serial=" "$SIPPROVD_LOG"; ok $? "and the reload logs it"
m=$(curl -s --cacert "$P/ca.pem" "$ADMIN_URL/metrics" |
	sed -n 's/^sipprov_tls_cert_not_after_seconds{listener="admin"} //p')
is "$m" "$na" "sipprov_tls_cert_not_after_seconds{listener=\"admin\"} follows the renewal"
cp "$T/other.key" "$T/akey.pem"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'reloaded configuration' "$SIPPROVD_LOG")" -ge 2 ] && break; sleep 0.05; done
grep -q "admin TLS certificate refused, still serving the previous one: admin_tls_key .*does not match" "$SIPPROVD_LOG"
ok $? "admin listener: a key that does not match is refused with a log line"
is "$(admin_serial)" "$new" "and the renewed certificate is still served"
stop_sipprovd

# sipprovd -n checks the pair a start (or a reload) would load.
chk() { "$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o hep_listen= -o http_listen=127.0.0.1:0 \
	-o admin_listen=127.0.0.1:0 -o https_listen=127.0.0.1:0 -o tls_cert="$1" -o tls_key="$2" 2>&1; }
out=$(chk "$T/new.pem" "$T/new.key"); is "$?:$out" "0:configuration OK" "-n: a matching pair is OK"
out=$(chk "$T/new.pem" "$T/other.key"); rc=$?
like "$rc:$out" "^1:.*tls_key '.*other.key' does not match the certificate in" "-n: a key that does not match is refused, named"
done_testing
