#!/bin/sh
# The console's device page operations in a real browser (Debian chromium,
# puppeteer-core, axe-core; tests/console/device-ops.js) against a running
# sipprovd and a real Kamailio on loopback: the config preview is masked;
# an admin's Reveal secrets shows the password and is audited with the
# user's name; read-only has no Reveal button and its request is refused;
# Diagnose shows each step and the verdict, the same as `sipprov ticket
# --probe --json` (403 for a wrong password); the ticket is read-only text
# with a Copy button; hostile label, display name and User-Agent stay text;
# no console errors; no serious or critical axe violation.  Screenshots are
# kept in $T/shots.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 jq node chromium kamailio
console_deps

start_kamailio
add_subscriber a1xyzauth example.test alicepw
STD=$(free_port)
export SIPPROV_DIAG_STD_PORTS="udp:$STD,tcp:$STD,tls:$STD"
LABEL='<script>alert("label")</script>'
DNAME="\"><img src=x onerror=alert('name')>"
UA='<img src=x onerror=alert(3)><script>alert(4)</script>'
MAC=001565000002
sp init >/dev/null
sp tenant add acme --device-auth none >/dev/null
sp template set acme main registrar=example.test server=127.0.0.1 port=$KAM_PORT transport=udp >/dev/null
sp device add $MAC --tenant acme --layout yealink --template main --model T46G --label "$LABEL" >/dev/null
sp account add $MAC --line 1 --username 1001 --auth-username a1xyzauth --password wrongpw-9b \
	--display-name "$DNAME" >/dev/null
PW='correct horse battery'
printf '%s\n' "$PW" > "$T/pw"
sp user add root --role admin --password-file "$T/pw" >/dev/null
sp user add reader --role read-only --password-file "$T/pw" >/dev/null

start_sipprovd -o fail_threshold=100 -o insecure_loopback=yes
curl -s -o /dev/null -A "$UA" "$URL/$MAC.cfg"
for _ in $(seq 1 200); do
	[ "$(sql "select count(*) from fetch_log")" = 1 ] && break
	sleep 0.05
done
sp render $MAC > "$T/render.txt"

mkdir -p "$T/shots"
diag "screenshots: $T/shots (KEEP_TEST_DIR=1 keeps them)"
NODE_PATH=$NM ADMIN_URL=$ADMIN_URL CONSOLE_PW=$PW SHOTS="$T/shots" AXE_JS="$NM/axe-core/axe.min.js" \
	HOSTILE=$(jq -cn --arg a "$LABEL" --arg b "$DNAME" --arg c "$UA" '[$a, $b, $c]') \
	MAC_BAD=$MAC SIP_PW=wrongpw-9b timeout 240 node "$ROOT/tests/console/device-ops.js" > "$T/browse.out" 2> "$T/browse.err"
rc=$?
[ -s "$T/browse.err" ] && sed 's/^/# device-ops.js: /' "$T/browse.err" | head -20
ok $rc "the browser run finished (exit $rc)"
browser_tap "$T/browse.out"

# ---- what the page showed against the CLI and the database ----
is "$(value preview_revealed | jq -r .)" "$(cat "$T/render.txt")" "the revealed preview is exactly sipprov render"
is "$(value preview_masked | jq -r .)" "$(sed 's/wrongpw-9b/********/g' "$T/render.txt")" \
	"the masked preview is sipprov render with the password masked"
is "$(sql "select actor || ' ' || object from audit_log where action = 'render.secrets'")" "root $MAC" \
	"the one reveal is audited with the admin's name (read-only's refused request wrote nothing)"
sp --json ticket $MAC --probe --timeout 2 > "$T/cli.json"
is "$(value verdict | jq -r '.[0]')" "$(jq -r .bucket "$T/cli.json")" "the verdict shown is the CLI's bucket"
is "$(jq -r .bucket "$T/cli.json")" 403 "(a wrong password: 403)"
is "$(value verdict | jq -r '.[1]')" "$(jq -r '.causes[0].title' "$T/cli.json")" "the most likely cause shown is the CLI's first"
is "$(value steps | jq -c 'map([.[0], .[1], .[2]])')" "$(jq -c '.steps | map([(.step | tostring), .name, .verdict])' "$T/cli.json")" \
	"each step with its verdict, as the CLI's"
value steps | jq -r '.[6][3]' | grep -q "403 Forbidden Wrong Password"
ok $? "the REGISTER step's evidence is Kamailio's own 403"
value ticket | jq -r . > "$T/ticket.txt"
grep -q "^escalation summary for $MAC line 1 (tenant acme)" "$T/ticket.txt" && grep -q "^verdict: 403" "$T/ticket.txt"
ok $? "the ticket names the device and the verdict"
grep -q wrongpw-9b "$T/ticket.txt"; ok $([ $? = 0 ] && echo 1 || echo 0) "no password in the ticket"
n=$(ls "$T/shots"/*.png 2>/dev/null | wc -l)
ok $([ "$n" -ge 2 ] && echo 0 || echo 1) "screenshots kept ($n in $T/shots)"
done_testing
