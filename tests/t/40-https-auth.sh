#!/bin/sh
# Device authentication over real HTTPS (certificates made here with the
# openssl CLI): per-device digest (MD5 with curl --digest, SHA-256 with
# tests/peers/sp_http.py), mutual TLS (right MAC, wrong MAC, generic vendor
# certificate, untrusted CA, expired, none), token revocation and rotation
# through the render cache, CIDR allowlist, Polycom log uploads.  Every
# refusal is checked for its status, for the uniform body and for the
# absence of the SIP password; the daemon log must name each reason (in
# OpenSSL's words on phone_server = own, GnuTLS's on mhd).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need curl openssl python3 sqlite3
HTTP="python3 $ROOT/tests/peers/sp_http.py"
P="$T/pki"
make_pki "$P"
client_cert "$P" good "/O=Yealink/CN=001565000020"
client_cert "$P" wrongmac "/O=Yealink/CN=001565000021"
client_cert "$P" generic "/O=Yealink/CN=Yealink Device"
client_cert "$P" otherca "/O=Yealink/CN=001565000020" other
expired_cert "$P" expired "/O=Yealink/CN=001565000020"

PW_DIG='Dig3st-SIP-pw!'
PW_MT='Mtls-SIP-pw#7'
PW_TOK='Tok3n-SIP-pw%'
PW_LAN='Lan-SIP-pw&9'
PW_POLY='Poly-SIP-pw*4'

sp init >/dev/null
tpl() { sp template set "$1" main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null &&
	sp tenant set "$1" --default-template main >/dev/null; }
sp tenant add dig --device-auth digest >/dev/null && tpl dig
sp tenant add mt --device-auth mtls >/dev/null && tpl mt
sp tenant add soft --device-auth token >/dev/null && tpl soft
sp tenant add lan --device-auth digest --allow 10.0.0.0/8 >/dev/null && tpl lan
sp device add 001565000010 --tenant dig --layout yealink >/dev/null
sp device add 001565000011 --tenant dig --layout yealink >/dev/null
sp device add 0004f2000012 --tenant dig --layout polycom >/dev/null
sp device add 001565000020 --tenant mt --layout yealink >/dev/null
sp device add 001565000030 --tenant lan --layout yealink >/dev/null
soft=$(sp device add --tenant soft --layout linphone | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
sp account add 001565000010 --username u10 --auth-username a10 --password "$PW_DIG" >/dev/null
sp account add 001565000011 --username u11 --auth-username a11 --password "$PW_DIG" >/dev/null
sp account add 0004f2000012 --username u12 --auth-username a12 --password "$PW_POLY" >/dev/null
sp account add 001565000020 --username u20 --auth-username a20 --password "$PW_MT" >/dev/null
sp account add 001565000030 --username u30 --auth-username a30 --password "$PW_LAN" >/dev/null
tok=$(sp account add "$soft" --username u40 --auth-username a40 --password "$PW_TOK" | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
cred() { sp device credentials "$1" | sed -n 's/^  password: *//p'; }
H10=$(cred 001565000010); H11=$(cred 001565000011); H12=$(cred 0004f2000012); H30=$(cred 001565000030)
like "$H10" '^[0-9a-f]{32}$' "device credentials prints a random HTTP password once"

start_sipprovd -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key" \
	-o tls_client_ca="$P/vendor.pem" -o fail_threshold=1000
[ -n "$HTTPS_PORT" ] || bail "no https listener"
S="https://localhost:$HTTPS_PORT"
C="curl -s --cacert $P/ca.pem"
# get NAME URL [curl args]: status into $st, body into $T/NAME
get() { n=$1; u=$2; shift 2; st=$($C -o "$T/$n" -w '%{http_code}' "$@" "$u"); }
nopw() { ! grep -qF -e "$PW_DIG" -e "$PW_MT" -e "$PW_TOK" -e "$PW_LAN" -e "$PW_POLY" "$T/$1"; }
refused() { # refused NAME DESCRIPTION: 401, the uniform body, no password
	is "$st" 401 "$2: 401"
	is "$(cat "$T/$1")" "unauthorized" "$2: the uniform body"
	nopw "$1"; ok $? "$2: no SIP password in the body"
}

# ---- digest ----
get d1 "$S/001565000010.cfg" --digest -u "001565000010:$H10"
is "$st" 200 "digest MD5 (curl --digest) over HTTPS: 200"
grep -qF "$PW_DIG" "$T/d1"; ok $? "digest MD5: the config carries the SIP password"
st=$($HTTP get "$S/001565000010.cfg" --cacert "$P/ca.pem" --user 001565000010 --password "$H10" --algo SHA-256 -o "$T/d2")
is "$st" 200 "digest SHA-256 over HTTPS: 200"
cmp -s "$T/d1" "$T/d2"; ok $? "digest SHA-256 serves the same bytes"
get d3 "$S/001565000010.cfg" --digest -u "001565000010:wrongpassword"
refused d3 "digest MD5, wrong password"
st=$($HTTP get "$S/001565000010.cfg" --cacert "$P/ca.pem" --user 001565000010 --password nope --algo SHA-256 -o "$T/d4")
refused d4 "digest SHA-256, wrong password"
get d5 "$S/001565000010.cfg" --digest -u "001565000011:$H11"
refused d5 "another device's valid credentials"
get d6 "$S/001565000010.cfg"
refused d6 "no credentials"
get d7 "$S/00156500ffff.cfg" --digest -u "00156500ffff:$H10"
refused d7 "unknown MAC with credentials"
# Unknown and unauthorized: same challenges too.
chal() { $C -D - -o /dev/null "$1" | tr -d '\r' | sed -n 's/^WWW-Authenticate: Digest .*algorithm=\(.*\)$/\1/ip' | sort | tr '\n' ' '; }
known=$(chal "$S/001565000010.cfg"); unknown=$(chal "$S/00156500ffff.cfg")
is "$known" "md5 sha-256 " "a refused known device gets MD5 and SHA-256 challenges"
is "$unknown" "$known" "an unknown MAC gets the same challenges"
# A forged nonce: stale=true for a known and an unknown MAC alike.
stale() { $C -D - -o /dev/null -H "Authorization: Digest username=\"$1\", realm=\"sipprov\", nonce=\"c01b70bd102cf4f6ab56c160b7c9bc1000000000\", uri=\"/$1.cfg\", cnonce=\"abc\", nc=00000001, qop=auth, response=\"e9d23b1ea4f193bb7a3a429110a465b5\", algorithm=MD5" \
	"$S/$1.cfg" | tr -d '\r' | sed -n 's/nonce="[0-9a-f]*"/nonce=N/; s/^WWW-Authenticate: //ip'; }
sk=$(stale 001565000011); su=$(stale 00156500eeee)
like "$sk" 'algorithm=md5,stale="true"' "a forged nonce for a known device: challenge with stale=true"
is "$su" "$sk" "a forged nonce for an unknown MAC: the same challenges"
curl -s -o /dev/null -w '%{http_code}' --digest -u "001565000010:$H10" "$URL/001565000010.cfg" >"$T/plain"
is "$(cat "$T/plain")" 200 "digest works on the plain HTTP listener too (policy is per tenant)"

# ---- mutual TLS ----
get m1 "$S/001565000020.cfg" --cert "$P/good.pem" --key "$P/good.key"
is "$st" 200 "mTLS: vendor certificate with the device's MAC in CN: 200"
grep -qF "$PW_MT" "$T/m1"; ok $? "mTLS: the config carries the SIP password"
get m2 "$S/001565000020.cfg" --cert "$P/wrongmac.pem" --key "$P/wrongmac.key"
refused m2 "mTLS: certificate of another MAC"
get m3 "$S/001565000020.cfg" --cert "$P/generic.pem" --key "$P/generic.key"
refused m3 "mTLS: generic vendor certificate (no MAC)"
get m4 "$S/001565000020.cfg" --cert "$P/otherca.pem" --key "$P/otherca.key"
refused m4 "mTLS: right MAC, untrusted CA"
get m5 "$S/001565000020.cfg" --cert "$P/expired.pem" --key "$P/expired.key"
refused m5 "mTLS: right MAC, expired certificate"
get m6 "$S/001565000020.cfg"
refused m6 "mTLS: no certificate"
get m7 "$URL/001565000020.cfg"
refused m7 "mTLS tenant over plain HTTP"
get m8 "$S/001565000010.cfg" --cert "$P/good.pem" --key "$P/good.key"
refused m8 "a valid certificate does not open a digest-only tenant"

# ---- tokens ----
get t1 "$S/s/$tok"
is "$st" 200 "token URL: 200"
grep -qF "$PW_TOK" "$T/t1"; ok $? "token URL: the config carries the SIP password"
sp account token "$soft" --line 1 --revoke >/dev/null
sleep 0.1
get t2 "$S/s/$tok"
refused t2 "revoked token (cached before the revocation)"
new=$(sp account token "$soft" --line 1 --rotate | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
like "$new" '^[0-9a-f]{32}$' "rotate prints a new 128-bit token"
sleep 0.1
get t3 "$S/s/$new"
is "$st" 200 "rotated token: 200"
get t4 "$S/s/$tok"
refused t4 "the old token after rotation"
get t5 "$S/s/00000000000000000000000000000000"
refused t5 "unknown token"

# ---- CIDR allowlist ----
get c1 "$S/001565000030.cfg" --digest -u "001565000030:$H30"
refused c1 "right credentials from outside the tenant's allowlist"
sp tenant set lan --allow 127.0.0.2/32 >/dev/null
sleep 0.1
get c2 "$S/001565000030.cfg" --digest -u "001565000030:$H30"
refused c2 "allowlist 127.0.0.2/32, request from 127.0.0.1"
get c3 "$S/001565000030.cfg" --digest -u "001565000030:$H30" --interface 127.0.0.2
is "$st" 200 "allowlist 127.0.0.2/32, request from 127.0.0.2 with credentials: 200"

# ---- Polycom uploads ----
printf 'boot log line 1\nline 2\n' > "$T/boot.log"
st=$($C -o /dev/null -w '%{http_code}' --digest -u "0004f2000012:$H12" -T "$T/boot.log" "$S/0004f2000012-boot.log")
is "$st" 204 "PUT {mac}-boot.log from the authenticated device: 204"
sp device show 0004f2000012 > "$T/show"
grep -q 'boot log line 1' "$T/show"; ok $? "sipprov device show prints the uploaded log"
st=$($C -o "$T/u1" -w '%{http_code}' -T "$T/boot.log" "$S/0004f2000012-app.log")
refused u1 "PUT without credentials"
st=$($C -o "$T/u2" -w '%{http_code}' --digest -u "0004f2000012:wrong" -T "$T/boot.log" "$S/0004f2000012-app.log")
refused u2 "PUT with a wrong password"
st=$($C -o "$T/u3" -w '%{http_code}' -T "$T/boot.log" "$S/00156500ffff-app.log")
refused u3 "PUT for an unknown MAC"
st=$($C -o /dev/null -w '%{http_code}' --digest -u "0004f2000012:$H12" -T "$T/boot.log" "$S/0004f2000012.cfg")
is "$st" 405 "PUT to a config file name: 405"
st=$($C -o /dev/null -w '%{http_code}' -X DELETE "$S/0004f2000012.cfg")
is "$st" 405 "DELETE to a device route: 405"
st=$($C -o /dev/null -w '%{http_code}' -X POST --data x "$S/0004f2000012-boot.log")
is "$st" 405 "POST to an upload route: 405"
head -c 70000 /dev/zero | tr '\0' 'x' > "$T/big.log"
st=$($C -o /dev/null -w '%{http_code}' --digest -u "0004f2000012:$H12" -T "$T/big.log" "$S/0004f2000012-app.log")
is "$st" 413 "an upload over 64 KiB: 413"
for i in $(seq 1 22); do
	printf 'upload %d\n' "$i" > "$T/n.log"
	$C -o /dev/null --digest -u "0004f2000012:$H12" -T "$T/n.log" "$S/0004f2000012-app.log"
done
n=$(sp --json device show 0004f2000012 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["device_log"]))')
is "$n" 20 "only the newest 20 uploads are kept"
sp --json device show 0004f2000012 | grep -q '"upload 22' ; ok $? "the newest upload is among them"

# ---- secrets at rest and in logs ----
sleep 0.2
found=0
if backend_is sqlite; then
	for f in "$DB" "$DB-wal"; do
		[ -f "$f" ] || continue
		for pw in "$PW_DIG" "$PW_MT" "$PW_TOK" "$PW_LAN" "$PW_POLY" "$H10" "$H12"; do
			grep -qaF -- "$pw" "$f" && { diag "$pw in $f"; found=1; }
		done
	done
else
	# No file of ours: what a pg_dump of the database holds.
	sql_dump > "$T/db.dump"
	for pw in "$PW_DIG" "$PW_MT" "$PW_TOK" "$PW_LAN" "$PW_POLY" "$H10" "$H12"; do
		grep -qaF -- "$pw" "$T/db.dump" && { diag "$pw in the dump"; found=1; }
	done
fi
is "$found" 0 "no SIP or HTTP password in plain text in the .db or -wal file"
cat "$SIPPROVD_LOG" "$T/access.log" > "$T/alllogs"
! grep -qF -e "$PW_DIG" -e "$PW_MT" -e "$PW_TOK" -e "$H10" -e "$H12" "$T/alllogs"
ok $? "no password in the daemon or access log"
! grep -qF -e "$tok" -e "$new" "$T/alllogs"
ok $? "no token URL in the daemon or access log"

# ---- each refusal is logged with its own reason ----
L="$SIPPROVD_LOG"
for re in "wrong digest response for user '001565000010' \\(MD5\\)" "wrong digest response for user '001565000010' \\(SHA-256\\)" \
	"digest user '001565000011' is not device 001565000010" "digest: no credentials" "unknown device ip=[^ ]+ method=GET path=/00156500ffff.cfg" \
	"certificate names MAC 001565000021, not 001565000020" "names no MAC \\(generic vendor certificate\\)" \
	"rejected: .*(issuer is unknown|issuer is not in tls_client_ca)" "expired" "mtls: no client certificate" "mtls: plain HTTP" "token revoked" \
	"unknown token ip=[^ ]+ method=GET path=/s/<redacted>" "outside tenant 'lan' allowlist" "no credentials.* method=PUT path=/0004f2000012-app.log"; do
	grep -Eq -- "$re" "$L"; ok $? "log names the reason: $re"
done
done_testing
