#!/bin/sh
# Source CIDR allowlist over IPv6 and v4-mapped IPv6: an HTTPS listener on
# [::]:0 (dual stack) sees ::1 as IPv6 and 127.0.0.1 as ::ffff:127.0.0.1;
# IPv4 entries must match the v4-mapped form, IPv6 entries the IPv6 one.
# Right digest credentials every time: only the source decides.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need curl openssl
python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
	bail "this host has no IPv6 loopback (::1)"
P="$T/pki"
make_pki "$P"
PW='V6-SIP-pw!44'
sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp template set acme main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null
sp tenant set acme --default-template main >/dev/null
sp device add 001565000001 --tenant acme --layout yealink >/dev/null
sp account add 001565000001 --username u1 --auth-username a1 --password "$PW" >/dev/null
HP=$(sp device credentials 001565000001 | sed -n 's/^  password: *//p')
start_sipprovd -o https_listen='[::]:0' -o tls_cert="$P/server.pem" -o tls_key="$P/server.key" -o fail_threshold=1000
[ -n "$HTTPS_PORT" ] || bail "no https listener on [::]"

fetch() { # fetch HOST: status; body in $T/b
	curl -s -g --cacert "$P/ca.pem" -o "$T/b" -w '%{http_code}' --digest -u "001565000001:$HP" \
		"https://$1:$HTTPS_PORT/001565000001.cfg"
}
allow() { sp tenant set acme --allow "$1" >/dev/null; sleep 0.1; }
check() { # check ALLOW HOST WANT DESCRIPTION
	allow "$1"
	st=$(fetch "$2")
	is "$st" "$3" "$4"
	if [ "$3" != 200 ]; then ! grep -qF "$PW" "$T/b"; ok $? "$4: no password in the body"; fi
}
check "::1/128"          "[::1]"     200 "allow ::1/128, from ::1"
check "2001:db8::/32"    "[::1]"     401 "allow 2001:db8::/32, from ::1"
check "127.0.0.0/8"      "[::1]"     401 "allow 127.0.0.0/8 (IPv4), from ::1"
check "127.0.0.0/8"      "127.0.0.1" 200 "allow 127.0.0.0/8, from 127.0.0.1 arriving v4-mapped"
check "10.0.0.0/8"       "127.0.0.1" 401 "allow 10.0.0.0/8, from 127.0.0.1 arriving v4-mapped"
check "::1/128"          "127.0.0.1" 401 "allow ::1/128, from v4-mapped 127.0.0.1"
check "10.0.0.0/8,::/0"  "[::1]"     200 "allow 10.0.0.0/8 and ::/0, from ::1"
grep -q "source ::ffff:127.0.0.1 outside tenant 'acme' allowlist" "$SIPPROVD_LOG"
ok $? "the log names the v4-mapped source it refused"
grep -q "source ::1 outside tenant 'acme' allowlist" "$SIPPROVD_LOG"; ok $? "the log names the IPv6 source it refused"
done_testing
