#!/bin/bash
# 70-diagnose-kamailio.sh: `sipprov diagnose` and `ticket` end to end against
# real Kamailio registrars on loopback (free ports from the kernel; HEP to a
# port where nothing listens).  Registrar A serves UDP+TCP $PA and TLS $PAT (a
# CA and certificate made here with the openssl CLI); registrar B serves only
# UDP $PB, plus UDP $PBH where it silently drops everything (a blackhole).
# The sweep's standard ports point at unused test ports
# (SIPPROV_DIAG_STD_PORTS), never at the machine's 5060/5061.
# Evidence is produced by the probes themselves (OPTIONS, and contact-less
# REGISTER with and without the stored credentials): no row is faked except
# the swapped account, which the CLI refuses to store and is swapped with
# sqlite3 to stand for legacy data.  Needs: kamailio kamailio-sqlite-modules
# kamailio-tls-modules sqlite3 openssl.  Missing tools FAIL, not skip.
set -u
# Its own harness, not tests/lib.sh, and a SQLite file of its own ($D/sp.db):
# port it to lib.sh (sql, new_db) to run it on PostgreSQL.
if [ "${SP_BACKEND:-sqlite}" != sqlite ]; then
	echo "1..0 # SKIP only on sqlite: its own harness and SQLite file, not tests/lib.sh's \$DB"
	exit 0
fi
SP_BUILD=${SP_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SP="$SP_BUILD/sipprov"
export SIPPROV_TEMPLATES="$ROOT/templates"
KAMCFG=${KAMCFG:-$ROOT/../shared/peers/kamailio.cfg}
[ -f "$KAMCFG" ] || KAMCFG=/work/shared/peers/kamailio.cfg
N=0
FAILED=0
ok() { N=$((N + 1)); if [ "$1" = 0 ]; then echo "ok $N - $2"; else echo "not ok $N - $2"; FAILED=1; fi; }
check() { local d="$1"; shift; if "$@" >/dev/null 2>&1; then ok 0 "$d"; else ok 1 "$d"; fi; }

D=$(mktemp -d /tmp/sp-diag.XXXXXX)
# Nine distinct ports, each free for UDP and TCP: the sweep probes the
# standard ones over both, and picked one call at a time two could be the
# same port (a registrar's port as the "closed" standard one).
set -- $(python3 "$ROOT/tests/free-port.py" udp 9) || { echo "Bail out! no free ports"; exit 1; }
PA=$1 PAT=$2 PB=$3 PBH=$4 PCL=$5 PMM=$6 PHEP=$7 PSTD=$8 PSTDT=$9
export SIPPROV_DIAG_STD_PORTS="udp:$PSTD,tcp:$PSTD,tls:$PSTDT"
PIDS=()
cleanup() {
	for f in "$D"/kam*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	sleep 0.3
	rm -rf "$D"
}
trap cleanup EXIT

need=0
for tool in kamailio sqlite3 openssl; do
	if ! command -v $tool >/dev/null 2>&1 && [ ! -x /usr/sbin/$tool ]; then
		echo "# missing $tool (apt-get install kamailio kamailio-sqlite-modules kamailio-tls-modules sqlite3 openssl)"
		need=1
	fi
done
KAMAILIO=$(command -v kamailio || echo /usr/sbin/kamailio)
ok $need "kamailio, sqlite3 and openssl are installed"
[ -x "$SP" ] || { ok 1 "sipprov built at $SP"; echo "1..$N"; exit 1; }
[ -f "$KAMCFG" ] || { ok 1 "kamailio.cfg found at $KAMCFG"; echo "1..$N"; exit 1; }
[ $need = 0 ] || { echo "1..$N"; exit 1; }

# ---- test CA and server certificate (CN and SAN localhost, 127.0.0.1) ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sipprov test CA" \
	-keyout "$D/ca.key" -out "$D/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$D/srv.key" -out "$D/srv.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$D/san.ext"
openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 2 \
	-extfile "$D/san.ext" -out "$D/srv.pem" >/dev/null 2>&1
check "test CA and server certificate made" test -s "$D/srv.pem"

# ---- registrar database ----
sqlite3 "$D/kam.db" </usr/share/kamailio/db_sqlite/standard-create.sql
sqlite3 "$D/kam.db" </usr/share/kamailio/db_sqlite/auth_db-create.sql
sqlite3 "$D/kam.db" "INSERT INTO subscriber(username,domain,password,ha1,ha1b) VALUES ('a1xyzauth','example.test','alicepw','','')"

# ---- registrar A: udp+tcp $PA, tls $PAT ----
cat >"$D/tls.cfg" <<EOF
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $D/srv.key
certificate = $D/srv.pem
EOF
sed -e "s|/tmp/kam|$D|g" \
    -e "s|^listen=udp:127.0.0.1:5060|listen=udp:127.0.0.1:$PA|" \
    -e "s|^listen=tcp:127.0.0.1:5060|listen=tcp:127.0.0.1:$PA\nlisten=tls:127.0.0.1:$PAT\nenable_tls=yes|" \
    -e "s|kamailio_ctl|kamA_ctl|" \
    -e "s|sip:127.0.0.1:9060|sip:127.0.0.1:$PHEP|" \
    -e "s|^children=2|children=1|" -e "s|^tcp_children=2|tcp_children=1|" \
    -e "s|^loadmodule \"siptrace.so\"|loadmodule \"siptrace.so\"\nloadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"$D/tls.cfg\")|" \
    "$KAMCFG" >"$D/kamA.cfg"
# ---- registrar B: udp $PB only, udp $PBH drops everything ----
sed -e "s|/tmp/kam|$D|g" \
    -e "s|^listen=udp:127.0.0.1:5060|listen=udp:127.0.0.1:$PB\nlisten=udp:127.0.0.1:$PBH|" \
    -e "/^listen=tcp:127.0.0.1:5060/d" \
    -e "s|kamailio_ctl|kamB_ctl|" \
    -e "s|sip:127.0.0.1:9060|sip:127.0.0.1:$PHEP|" \
    -e "s|^children=2|children=1|" -e "s|^tcp_children=2|tcp_children=0|" \
    -e "s|^request_route {|request_route {\n\tif (\$Rp == $PBH) { exit; }|" \
    "$KAMCFG" >"$D/kamB.cfg"
"$KAMAILIO" -f "$D/kamA.cfg" -P "$D/kamA.pid" -E >"$D/kamA.out" 2>"$D/kamA.log"
"$KAMAILIO" -f "$D/kamB.cfg" -P "$D/kamB.pid" -E >"$D/kamB.out" 2>"$D/kamB.log"
for i in $(seq 1 50); do
	[ -s "$D/kamA.pid" ] && [ -s "$D/kamB.pid" ] && break
	sleep 0.1
done
sleep 0.7
check "kamailio A started" kill -0 "$(cat "$D/kamA.pid" 2>/dev/null)"
check "kamailio B started" kill -0 "$(cat "$D/kamB.pid" 2>/dev/null)"
if [ $FAILED = 1 ]; then
	sed 's/^/# /' "$D/kamA.log" | tail -20
	sed 's/^/# /' "$D/kamB.log" | tail -20
	echo "1..$N"
	exit 1
fi

# ---- sipprov database through the real CLI ----
DB="$D/sp.db"
S() { "$SP" -d "$DB" "$@"; }
S init >/dev/null
S tenant add acme --username-pattern '^[0-9]{3,6}$' --auth-username-pattern '^[a-z][a-z0-9]{5,15}$' >/dev/null
tmpl() { local name=$1; shift; S template set acme "$name" "$@" >/dev/null || echo "# template $name refused"; }
tmpl main registrar=example.test server=127.0.0.1 port=$PA transport=udp
tmpl wrongdom registrar=wrong.test server=127.0.0.1 port=$PA transport=udp
tmpl mismatch registrar=example.test server=127.0.0.1 port=$PMM transport=tls tls_verify=off
tmpl closed registrar=example.test server=127.0.0.1 port=$PCL transport=udp
tmpl blackhole registrar=example.test server=127.0.0.1 port=$PBH transport=udp
tmpl nodns registrar=example.test server=nonexistent.invalid port=$PA transport=udp
tmpl tls registrar=example.test server=localhost port=$PAT transport=tls tls_verify=on
dev() { # mac template password [username auth-username]
	S device add "$1" --tenant acme --layout yealink --template "$2" --model T46G >/dev/null &&
	S account add "$1" --line 1 --username "${4:-1001}" --auth-username "${5:-a1xyzauth}" --password "$3" >/dev/null
}
dev 001565000001 main alicepw
dev 001565000002 main wrongpw
dev 001565000003 main alicepw 1003 b3xyzauth
dev 001565000004 wrongdom alicepw
dev 001565000005 mismatch alicepw
dev 001565000006 closed alicepw
dev 001565000007 blackhole alicepw
dev 001565000008 nodns alicepw
dev 001565000009 tls alicepw
check "devices and accounts created with the CLI" test "$(sqlite3 "$DB" 'select count(*) from account')" = 9
# the CLI refuses a swapped account; make one as legacy data would be
sqlite3 "$DB" "UPDATE account SET username='b3xyzauth', auth_username='1003' WHERE device_id=(SELECT id FROM device WHERE mac='001565000003')"

run() { # out-file args...: sets RC and MS
	local out=$1; shift
	local t0 t1
	t0=$(date +%s%N)
	S "$@" >"$out" 2>&1
	RC=$?
	t1=$(date +%s%N)
	MS=$(( (t1 - t0) / 1000000 ))
}
first_cause() { sed -n '/^likely causes/{n;p;q}' "$1"; }
bound() { sed -n 's/.*(bound \([0-9]*\) ms.*/\1/p' "$1"; }
show() { sed 's/^/# /' "$1"; }

# 1 correct account: clean
run "$D/ok.txt" diagnose 00:15:65:00:00:01 --timeout 2
ok $RC "correct account diagnoses clean (exit 0)"
check "OPTIONS answered 200" grep -q "OPTIONS over udp to 127.0.0.1:$PA: 200" "$D/ok.txt"
check "REGISTER probe: 401 challenge then credentials accepted" grep -q "stored credentials are accepted" "$D/ok.txt"
check "verdict: no failure" grep -q "^verdict: no failure found" "$D/ok.txt"
[ $RC = 0 ] || show "$D/ok.txt"

# 2 wrong password: 403, credentials first
run "$D/pw.txt" diagnose 001565000002 --timeout 2
ok $([ $RC = 1 ] && echo 0 || echo 1) "wrong password: exit 1"
check "wrong password: bucket 403" grep -q "^verdict: 403" "$D/pw.txt"
first_cause "$D/pw.txt" | grep -q "1. credentials"; ok $? "wrong password: credentials first"
check "the evidence is Kamailio's own 403 to the stored credentials" grep -q "403 Forbidden Wrong Password" "$D/pw.txt"
grep -q "^verdict: 403" "$D/pw.txt" || show "$D/pw.txt"

# 3 swapped username / auth username: caught at step 2, no network step
run "$D/swap.txt" diagnose 001565000003 --timeout 2
ok $([ $RC = 1 ] && echo 0 || echo 1) "swapped account: exit 1"
check "step 2 fails" grep -Eq "^2\. username / auth username +fail" "$D/swap.txt"
check "evidence names the swap" grep -q "look swapped" "$D/swap.txt"
ok $([ "$(grep -c 'skipped: step 2 failed' "$D/swap.txt")" = 3 ] && echo 0 || echo 1) "steps 5, 6, 7 skipped because of step 2"
first_cause "$D/swap.txt" | grep -q "auth-username mix-up"; ok $? "swap: auth-username mix-up first"
ok $([ $MS -lt 1000 ] && echo 0 || echo 1) "decided without the network ($MS ms)"

# 4 wrong domain: 404
run "$D/dom.txt" diagnose 001565000004 --timeout 2
ok $([ $RC = 1 ] && echo 0 || echo 1) "wrong domain: exit 1"
check "wrong domain: bucket 404" grep -q "^verdict: 404" "$D/dom.txt"
first_cause "$D/dom.txt" | grep -q "registrar/domain"; ok $? "wrong domain: registrar/domain first"
check "Kamailio's 404 is the evidence" grep -q "404 Domain Not Served" "$D/dom.txt"
grep -q "^verdict: 404" "$D/dom.txt" || show "$D/dom.txt"

# 5 transport mismatch: TLS configured, registrar only on UDP
# the registrar's standard UDP port is B's: the sweep finds it there
SIPPROV_DIAG_STD_PORTS="udp:$PB,tcp:$PSTD,tls:$PSTDT" run "$D/mm.txt" diagnose 001565000005 --timeout 2 --error timeout
ok $([ $RC = 1 ] && echo 0 || echo 1) "transport mismatch: exit 1"
check "transport mismatch: bucket 408/timeout" grep -q "^verdict: 408/timeout" "$D/mm.txt"
first_cause "$D/mm.txt" | grep -q "transport/port mismatch"; ok $? "transport/port mismatch first"
check "evidence: udp $PB answers" grep -q "but udp port $PB answers: 200" "$D/mm.txt"
B=$(bound "$D/mm.txt")
ok $([ -n "$B" ] && [ $MS -le $((B + 1000)) ] && echo 0 || echo 1) "within the stated bound ($MS ms, bound ${B:-?} ms)"
grep -q "transport/port mismatch" "$D/mm.txt" || show "$D/mm.txt"

# 6 closed port
run "$D/cl.txt" diagnose 001565000006 --timeout 2
ok $([ $RC = 1 ] && echo 0 || echo 1) "closed port: exit 1"
check "closed port: bucket 408/timeout" grep -q "^verdict: 408/timeout" "$D/cl.txt"
first_cause "$D/cl.txt" | grep -q "server down: nothing listens"; ok $? "closed port, every port swept refused: server down first"
check "closed port: the sweep says every port refused" grep -q "every port tried refused" "$D/cl.txt"
check "closed port: ICMP unreachable reported" grep -q "port unreachable" "$D/cl.txt"
B=$(bound "$D/cl.txt")
ok $([ -n "$B" ] && [ $MS -le $((B + 1000)) ] && echo 0 || echo 1) "closed port within the stated bound ($MS ms, bound ${B:-?} ms)"

# 7 blackholed port: packets dropped
run "$D/bh.txt" diagnose 001565000007 --timeout 2 --error timeout
ok $([ $RC = 1 ] && echo 0 || echo 1) "blackholed port: exit 1"
check "blackhole: no answer after retransmissions" grep -q "no answer to 3 transmissions" "$D/bh.txt"
first_cause "$D/bh.txt" | grep -q "firewall or closed port"; ok $? "blackhole: firewall first"
B=$(bound "$D/bh.txt")
ok $([ -n "$B" ] && [ $MS -ge 2000 ] && [ $MS -le $((B + 1000)) ] && echo 0 || echo 1) "blackhole: waits the timeout and no more ($MS ms, bound ${B:-?} ms)"
grep -q "no answer to 3" "$D/bh.txt" || show "$D/bh.txt"

# 8 host that does not resolve
run "$D/dns.txt" diagnose 001565000008 --timeout 2
ok $([ $RC = 1 ] && echo 0 || echo 1) "unresolvable host: exit 1"
check "unresolvable host: bucket 408/timeout" grep -q "^verdict: 408/timeout" "$D/dns.txt"
first_cause "$D/dns.txt" | grep -q "DNS"; ok $? "unresolvable host: DNS first"
check "resolver message quoted" grep -q "cannot resolve 'nonexistent.invalid'" "$D/dns.txt"

# 9 TLS with the test CA: clean, certificate reported
run "$D/tls.txt" diagnose 001565000009 --timeout 2 --ca "$D/ca.pem"
ok $RC "TLS with the right CA diagnoses clean"
check "certificate subject and verify result reported" grep -q "subject /CN=localhost, issuer /CN=sipprov test CA.*: ok" "$D/tls.txt"
check "REGISTER over TLS accepted" grep -q "stored credentials are accepted" "$D/tls.txt"
[ $RC = 0 ] || show "$D/tls.txt"
# 10 TLS without that CA: the certificate is the cause
run "$D/tls2.txt" diagnose 001565000009 --timeout 2
ok $([ $RC = 1 ] && echo 0 || echo 1) "TLS with an untrusted certificate: exit 1"
first_cause "$D/tls2.txt" | grep -q "TLS certificate"; ok $? "untrusted certificate: TLS certificate first"
check "verify error text reported" grep -q "certificate rejected: unable to get local issuer certificate" "$D/tls2.txt"

# 11 ticket: what a provider asks for, never a password
run "$D/t1.txt" ticket 001565000002
ok $RC "ticket exits 0"
for field in "last error code:" "affected user:       1001" "device model:        T46G" "firmware:" \
	"source network:" "transport / port:    udp / $PA" "registrar:           example.test" \
	"template version:    acme-main@v1" "steps already run (no network probes"; do
	check "ticket has '$field'" grep -qF "$field" "$D/t1.txt"
done
run "$D/t2.txt" ticket 001565000002 --probe --timeout 2
check "ticket --probe runs the probes and names credentials" grep -q "1. credentials" "$D/t2.txt"
run "$D/t3.txt" ticket 001565000002 --json
check "ticket --json is JSON with the bucket field" grep -q '"bucket":' "$D/t3.txt"
ok $(cat "$D"/*.txt | grep -Eq "alicepw|wrongpw" && echo 1 || echo 0) "no password in any output"

# usage errors
S diagnose 001565000001 --error 500 >/dev/null 2>&1
ok $([ $? = 2 ] && echo 0 || echo 1) "--error 500 is a usage error (exit 2)"
S diagnose 00156500ffff >/dev/null 2>&1
ok $([ $? = 1 ] && echo 0 || echo 1) "unknown device is a user error (exit 1)"

echo "1..$N"
exit $FAILED
