#!/bin/sh
# The web console's accounts and sessions, driven with curl against a real
# sipprovd: `sipprov user` (scrypt hashes, password rules, nothing written
# on bad input), POST /ui/login (JSON and form), the cookie's attributes
# (HttpOnly, SameSite=Strict, expiry; Secure on HTTPS), a session used on
# /api/v1/ with the same role and tenant checks as a token, CSRF on every
# write, failed logins toward the lockout, audit lines naming the user,
# logout and password change ending sessions, and /ui/ response headers.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 jq openssl

sp init >/dev/null
sp tenant add acme >/dev/null
sp tenant add other >/dev/null
sp device add 0004f2000001 --tenant acme --layout yealink --label 'front desk' >/dev/null
sp device add 0004f2000009 --tenant other --layout yealink >/dev/null
PW='correct horse battery'
printf '%s\n' "$PW" > "$T/pw"
sp user add root --role admin --password-file "$T/pw" >/dev/null
sp user add ops --role operator --password-file "$T/pw" >/dev/null
sp user add reader --role read-only --password-file "$T/pw" >/dev/null
sp user add acme-ops --role operator --tenant acme --password-file "$T/pw" >/dev/null

# ---- the CLI ----
is "$(sp user list | awk '{print $1 ":" $2 ":" $3}' | tr '\n' ' ')" \
	"acme-ops:operator:acme ops:operator:* reader:read-only:* root:admin:* " "user list: name, role, tenant"
is "$(sp user list --json | jq -r '.[] | select(.name=="acme-ops") | .tenant')" acme "user list --json"
like "$(sql "select pw_hash from console_user where name='root'")" \
	'^scrypt\$32768\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}$' "stored as scrypt with a per-user salt"
is "$(sql "select count(distinct pw_hash) from console_user")" 4 "same password, four different hashes"
db_grep -q "$PW"; ok $((! $?)) "the password itself is nowhere in the database"
sql_dump > "$T/before.sql"
printf 'short\n' > "$T/short"
out=$(sp user add x --role admin --password-file "$T/short" 2>&1); rc=$?
is "$rc:$out" "1:error: user x: password must be 10 to 255 bytes long" "a short password is refused"
out=$(sp user add x --role boss --password-file "$T/pw" 2>&1); rc=$?
is "$rc:$out" "1:error: user x: role 'boss' is not one of admin, operator, read-only" "an unknown role is refused"
out=$(sp user add x --role admin --tenant nosuch --password-file "$T/pw" 2>&1); rc=$?
like "$rc:$out" "^1:.*nosuch" "an unknown tenant is refused, naming it"
out=$(sp user add root --role admin --password-file "$T/pw" 2>&1); rc=$?
is "$rc:$out" "1:error: user 'root' exists" "a taken name is refused"
out=$(sp user add x --role admin </dev/null 2>&1); rc=$?
like "$rc:$out" "^1:.*--password-file" "no terminal and no --password-file: refused, saying how"
out=$(sp user add 'Bad Name' --role admin --password-file "$T/pw" 2>&1); rc=$?
like "$rc:$out" "^1:error: user name 'Bad Name' is not valid" "a bad name is refused"
sql_dump > "$T/after.sql"
cmp -s "$T/before.sql" "$T/after.sql"; ok $? "bad input: nothing written"
out=$(sp user rm nosuch 2>&1); rc=$?
is "$rc:$out" "1:error: no user 'nosuch' (see 'sipprov user list')" "user rm of an unknown name"

start_sipprovd -o fail_threshold=100
A=$ADMIN_URL
login() { # login NAME PASSWORD [curl args]: $st, $body, $hdr; cookie jar $T/NAME.jar
	n=$1 p=$2; shift 2
	st=$(curl -s -o "$T/l.b" -D "$T/l.h" -w '%{http_code}' -c "$T/$n.jar" -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg n "$n" --arg p "$p" '{name:$n, password:$p}')" "$@" "$A/ui/login")
	body=$(cat "$T/l.b"); hdr=$(tr -d '\r' < "$T/l.h")
}
qn=0
: > "$T/responses.tsv"
req() { # req JAR METHOD PATH [curl args]: $st, $body; /api/v1/ answers logged for openapi_check.py
	j=$1 m=$2 p=$3; shift 3
	qn=$((qn + 1))
	st=$(curl -s -o "$T/q$qn.b" -w '%{http_code}' -b "$T/$j.jar" -X "$m" "$@" "$A$p")
	body=$(cat "$T/q$qn.b")
	case $p in /api/v1/*) printf '%s\t%s\t%s\t%s\n' "$m" "$p" "$st" "$T/q$qn.b" >> "$T/responses.tsv" ;; esac
}
csrf() { curl -s -b "$T/$1.jar" "$A/ui/session" | jq -r .csrf; }

# ---- pages and their headers ----
hdr=$(curl -s -D - -o "$T/index.html" "$A/ui/" | tr -d '\r')
like "$hdr" '^HTTP/1.1 200' "/ui/ is served without a session (the page asks for one)"
like "$hdr" "Content-Security-Policy: default-src 'none'; script-src 'self';" "CSP: scripts only from this origin"
like "$hdr" "frame-ancestors 'none'" "CSP: no framing"
like "$hdr" 'X-Frame-Options: DENY' "X-Frame-Options: DENY"
like "$hdr" 'X-Content-Type-Options: nosniff' "nosniff"
cmp -s "$T/index.html" "$ROOT/web/index.html"; ok $? "the page is the file in web/, compiled in"
grep -l '<script>\|<script [^s]*>\| on[a-z]*=' "$ROOT"/web/*.html; ok $((! $?)) "no inline script or handler in any page"
is "$(curl -s -o /dev/null -w '%{http_code}' "$A/ui/nosuch.html")" 404 "an unknown page is 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$A/ui/../etc/passwd" --path-as-is)" 404 "no path outside the pages"

# ---- login ----
login root wrong-password-1
is "$st:$(printf '%s' "$body" | jq -r .error.code)" "401:unauthorized" "a wrong password: 401"
unlike "$hdr" 'Set-Cookie' "and no cookie"
login root "$PW"
is "$st" 200 "the right password: 200"
like "$hdr" 'Set-Cookie: sp_session=[0-9a-f]{64}; Path=/; Max-Age=28800; HttpOnly; SameSite=Strict$' \
	"cookie: HttpOnly, SameSite=Strict, expiring in 8 hours, not Secure on plain HTTP"
is "$(printf '%s' "$body" | jq -r '.user + " " + .role')" "root admin" "the body names the user and role"
sid=$(sed -n 's/^Set-Cookie: sp_session=\([0-9a-f]*\);.*/\1/p' "$T/l.h" | tr -d '\r')
is "$(sql "select count(*) from console_session where sid_hash = '$sid'")" 0 \
	"the database holds no session id, only its keyed hash"
is "$(sql "select count(*) from console_session")" 1 "one session stored"
st=$(curl -s -o /dev/null -D "$T/f.h" -w '%{http_code}' -d "name=ops&password=$(printf '%s' "$PW" | sed 's/ /+/g')" \
	"$A/ui/login")
is "$st" 303 "a form post logs in too (303 to the overview)"
like "$(tr -d '\r' < "$T/f.h")" 'Location: /ui/' "to /ui/"
st=$(curl -s -o "$T/f.b" -w '%{http_code}' --data-binary 'name=ops&password=%+1' "$A/ui/login")
is "$st:$(jq -r .error.code "$T/f.b")" "400:invalid" "a form with a broken %-escape is refused, not guessed at"
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' -H 'Content-Type: application/json' \
	-d "{\"name\":\"root\",\"password\":\"$PW\"}" "$A/ui/login")
is "$st" 403 "a login posted from another origin is refused"

# ---- the session on the API: same roles and scope as tokens ----
req root GET /api/v1/devices
is "$st:$(printf '%s' "$body" | jq -r '[.items[].mac] | join(" ")')" "200:0004f2000001 0004f2000009" \
	"the session reads the API"
req root POST /api/v1/devices/0004f2000001/disable
is "$st:$(printf '%s' "$body" | jq -r .error.code)" "403:csrf" "a write without the CSRF token is refused"
req root POST /api/v1/devices/0004f2000001/disable -H "X-CSRF-Token: $(printf '%064d' 0)"
is "$st:$(printf '%s' "$body" | jq -r .error.code)" "403:csrf" "a write with a wrong CSRF token is refused"
is "$(sql "select status from device where mac='0004f2000001'")" active "nothing changed"
login ops "$PW"
req ops POST /api/v1/devices/0004f2000001/disable -H "X-CSRF-Token: $(csrf root)"
is "$st" 403 "another session's CSRF token does not fit"
req root POST /api/v1/devices/0004f2000001/disable -H "X-CSRF-Token: $(csrf root)"
is "$st:$(printf '%s' "$body" | jq -r .status)" "200:disabled" "with the session's CSRF token the write is done"
is "$(sql "select actor from audit_log where action='device disable' and object='0004f2000001'")" root \
	"the audit line names the user"
is "$(sql "select count(*) from audit_log where action='console login' and actor='root'")" 1 \
	"the login is audited"
login reader "$PW"
req reader POST /api/v1/devices/0004f2000001/enable -H "X-CSRF-Token: $(csrf reader)"
is "$st:$(printf '%s' "$body" | jq -r .error.code)" "403:forbidden" "read-only: the write is refused"
login acme-ops "$PW"
is "$(printf '%s' "$body" | jq -r .tenant)" acme "a tenant user's session names its tenant"
req acme-ops GET /api/v1/devices
is "$(printf '%s' "$body" | jq -r '[.items[].mac] | join(" ")')" 0004f2000001 "a tenant user lists only its tenant"
req acme-ops GET /api/v1/devices/0004f2000009
is "$st" 404 "another tenant's device is 404"
req acme-ops GET /api/v1/fleet/devices/0004f2000009
is "$st" 404 "and 404 on the console's device view"
req acme-ops GET '/api/v1/fleet/devices?tenant=other'
is "$st" 404 "and another tenant's list is 404"
req acme-ops POST /api/v1/devices/0004f2000009/disable -H "X-CSRF-Token: $(csrf acme-ops)"
is "$st" 404 "and writing it is 404"
req acme-ops GET /api/v1/fleet/summary
is "$(printf '%s' "$body" | jq -c .states)" '{"current":0,"stale":0,"never_fetched":0,"disabled":1}' \
	"the summary counts only its tenant"

req root GET '/api/v1/fleet/summary?tenant=acme'
is "$st:$(printf '%s' "$body" | jq -c '[.devices, .states.disabled]')" "200:[1,1]" "fleet summary for acme"
req root GET '/api/v1/fleet/devices?q=FRONT'
is "$(printf '%s' "$body" | jq -c '[.total, .items[0].mac, .items[0].state]')" '[1,"0004f2000001","disabled"]' \
	"fleet device search, any case"
req root GET '/api/v1/fleet/devices?state=bogus'
is "$st:$(printf '%s' "$body" | jq -r .error.field)" "400:state" "a bad state filter is 400 naming the field"
req root GET /api/v1/fleet/devices/00-04-f2-00-00-09
is "$st:$(printf '%s' "$body" | jq -r .mac)" "200:0004f2000009" "one device, any MAC spelling"
out=$(/usr/bin/python3 "$ROOT/tests/openapi_check.py" "$ROOT/openapi/sipprov-v1.json" "$T/responses.tsv"); rc=$?
printf '%s\n' "$out" | grep -v '^ok' | head
ok $rc "every /api/v1/ answer in this test validates against the OpenAPI document ($(wc -l < "$T/responses.tsv"))"

# ---- expiry, logout, password change ----
sql "update console_session set expires = $(($(date +%s) - 1)) where user_id = (select id from console_user where name='ops')"
req ops GET /api/v1/devices
is "$st" 401 "an expired session is refused"
C=$(csrf root)
req root POST /ui/logout
is "$st" 403 "logout needs the CSRF token"
req root POST /ui/logout -H "X-CSRF-Token: $C"
is "$st" 200 "logout"
req root GET /api/v1/devices
is "$st" 401 "after logout the cookie is worthless"
login root "$PW"
sp user passwd root --password-file "$T/pw" >/dev/null
req root GET /api/v1/devices
is "$st" 401 "user passwd ends the user's sessions"
login reader "$PW"
sp user rm reader >/dev/null
req reader GET /api/v1/devices
is "$st" 401 "user rm ends them too"

# ---- password checks run beside the listener, two at a time ----
# 16 wrong-password logins at once: scrypt (32 MiB, tens of ms each) runs
# on at most two workers; the others are told to come back (503 +
# Retry-After) instead of queueing behind each other on the one thread
# that answers every admin request, which keeps answering meanwhile.
login root "$PW"
curl -s -Z --parallel-immediate --parallel-max 16 -H 'Content-Type: application/json' --interface 127.0.0.4 \
	--data-binary '{"name":"root","password":"flood"}' -o "$T/fl_#1" -D "$T/fh" -w '%{http_code}\n' \
	"$A/ui/login?n=[1-16]" > "$T/flood" &
flood=$!
req root GET /api/v1/devices
is "$st" 200 "the API answers a session while the logins are checked"
wait "$flood"
n401=$(grep -c '^401$' "$T/flood"); n503=$(grep -c '^503$' "$T/flood")
is "$((n401 + n503))" 16 "each of the 16 logins got 401 or 503 ($n401 and $n503)"
ok $((n503 < 1)) "some were told to retry: at most two checks run at once"
ok $((n401 < 2)) "at least two were checked"
is "$(tr -d '\r' < "$T/fh" | grep -c '^Retry-After: 1$')" "$n503" "each 503 carries Retry-After: 1"
is "$(cat "$T"/fl_* | grep -o '"code":"busy"' | wc -l)" "$n503" "and error code busy"
m=$(curl -s "$A/metrics" | sed -n 's/^sipprov_console_login_busy_total \([0-9]*\)$/\1/p')
is "$m" "$n503" "each is counted (sipprov_console_login_busy_total)"
login root "$PW" --interface 127.0.0.4
is "$st" 200 "afterwards the right password logs in from that address (503s are not failures)"

# ---- failed logins count toward the lockout ----
stop_sipprovd
start_sipprovd -o fail_threshold=3
A=$ADMIN_URL
for n in 1 2 3; do login root "bad-password-$n" --interface 127.0.0.3; done
login root "$PW" --interface 127.0.0.3
is "$st:$(printf '%s' "$body" | jq -r .error.code)" "429:locked_out" "3 failed logins lock the address out, right password or not"
login root "$PW" --interface 127.0.0.1
is "$st" 200 "other addresses are not locked out"
grep -q 'lockout 127.0.0.3: too many failed console logins' "$SIPPROVD_LOG"; ok $? "the lockout is logged"
grep -q "$PW\|bad-password" "$SIPPROVD_LOG" "$T/access.log"; ok $((! $?)) "no password in any log"
stop_sipprovd

# ---- HTTPS: the cookie is Secure ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$T/a.key" -out "$T/a.pem" 2>/dev/null
start_sipprovd -o admin_tls_cert="$T/a.pem" -o admin_tls_key="$T/a.key" -o console_session_seconds=600
A="https://localhost:$ADMIN_PORT"
login root "$PW" --cacert "$T/a.pem"
is "$st" 200 "login over HTTPS"
like "$hdr" 'Set-Cookie: sp_session=[0-9a-f]{64}; Path=/; Max-Age=600; HttpOnly; SameSite=Strict; Secure$' \
	"the cookie is Secure, and lasts console_session_seconds"
is "$(sql "select expires - created from console_session order by id desc limit 1")" 600 "so does the session"
stop_sipprovd
out=$("$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o console_session_seconds=10 2>&1); rc=$?
ok $((rc == 0)) "console_session_seconds=10 is refused (exit $rc)"
like "$out" "console_session_seconds" "naming the key"
done_testing
