#!/bin/sh
# The console's templates, pending-devices and import pages in a real
# browser (Debian's chromium, puppeteer-core, axe-core; driver
# tests/console/pages.js): diff two template versions side by side and roll
# back after a preview that lists the devices that change (the API then
# serves the new version); claim a pending phone made by a real unknown-MAC
# fetch, with the layout its User-Agent suggested; import a CSV with a bad
# row: the row's error is shown and nothing is written (export and
# database before and after), then a clean one is imported.  Hostile values
# stay text with no dialog; no console errors; axe no serious/critical; a
# tenant user reaches neither other tenants nor pending phones; read-only
# changes nothing; 200% zoom.  Screenshots go to $T/shots.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 jq node chromium
console_deps

HUA='<script>alert("ua")</script>"><img src=x onerror=alert(1)>'
HLAYOUT='<img src=x onerror=alert(2)>'
sp init >/dev/null
sp tenant add acme --device-auth none >/dev/null
sp tenant add other --device-auth none >/dev/null
sp template set acme main registrar=sip.acme.test >/dev/null
sp template set acme main registrar=sip2.acme.test expires=600 >/dev/null
sp template set other main registrar=sip.other.test >/dev/null
sp device add 0004f2100001 --tenant acme --layout yealink --label 'desk 1' >/dev/null
sp device add 0004f2100002 --tenant acme --layout yealink --label 'desk 2' >/dev/null
sp device add 0004f2100003 --tenant acme --layout yealink registrar=own.acme.test expires=300 >/dev/null
sp device add 0004f2100004 --tenant acme --layout yealink >/dev/null
sp template pin 0004f2100004 1 >/dev/null
sp device add 0004f2990001 --tenant other --layout yealink >/dev/null
PW='correct horse battery'
printf '%s\n' "$PW" > "$T/pw"
sp user add root --role admin --password-file "$T/pw" >/dev/null
sp user add acme-ops --role operator --tenant acme --password-file "$T/pw" >/dev/null
sp user add reader --role read-only --password-file "$T/pw" >/dev/null
TOK=$(sp api-token add checker --role read-only 2>/dev/null)
start_sipprovd
get() { curl -s -H "Authorization: Bearer $TOK" "$ADMIN_URL$1"; }

# Pending phones, made the way phones make them: unknown-MAC fetches.
curl -s -o /dev/null -A "Yealink SIP-T46S 66.86.0.15 00:15:65:11:22:33" "$URL/001565112233.cfg"
curl -s -o /dev/null -A "$HUA" "$URL/001565aaaaaa.cfg"
for _ in $(seq 1 100); do
	[ "$(sql 'SELECT count(*) FROM pending_device')" = 2 ] && break
	sleep 0.1
done
is "$(get /api/v1/pending | jq -c '[.items[].mac] | sort')" '["001565112233","001565aaaaaa"]' "two phones are pending"

BAD_CSV=$(printf 'mac,layout,label,line,username,auth_username,password\n0004f2200001,yealink,new one,1,301,a301x,pw-301-secret\n0004f2200002,%s,new two,1,302,a302x,pw-302-secret' "$HLAYOUT")
GOOD_CSV=$(printf 'mac,layout,label,line,username,auth_username,password\n0004f2200001,yealink,new one,1,301,a301x,pw-301-secret\n0004f2200002,yealink,new two,1,302,a302x,pw-302-secret')
# The API's own preview, before the browser (the page must show the same).
want_preview=$(curl -s -X POST -H "Authorization: Bearer $(sp api-token add prev 2>/dev/null)" -H 'Content-Type: application/json' \
	--data-binary '{"version":1}' "$ADMIN_URL/api/v1/tenants/acme/templates/main/rollback?dry_run=true")
is "$(printf '%s' "$want_preview" | jq -c '[.devices, .macs, .pinned]')" '[2,["0004f2100001","0004f2100002"],1]' \
	"(the API's preview: two devices change, one pinned)"

mkdir -p "$T/shots"
diag "screenshots: $T/shots (KEEP_TEST_DIR=1 keeps them)"
NODE_PATH=$NM ADMIN_URL=$ADMIN_URL CONSOLE_PW=$PW SHOTS="$T/shots" AXE_JS="$NM/axe-core/axe.min.js" \
	HOSTILE=$(jq -cn --arg a "$HUA" --arg b "$HLAYOUT" '[$a, $b]') CLAIM_MAC=001565112233 OTHER_PENDING=001565aaaaaa \
	BAD_CSV=$BAD_CSV GOOD_CSV=$GOOD_CSV \
	timeout 300 node "$ROOT/tests/console/pages.js" > "$T/pages.out" 2> "$T/pages.err"
rc=$?
[ -s "$T/pages.err" ] && sed 's/^/# pages.js: /' "$T/pages.err" | head -20
ok $rc "the browser run finished (exit $rc)"
browser_tap "$T/pages.out"

# ---- templates ----
is "$(value templates | jq -c '.[0][0:2]')" '["main","v2"]' "templates: main at v2 listed"
is "$(value versions | jq -c 'map(.[0])')" '["v2","v1"]' "versions: v2 and v1, newest first"
is "$(value diff_changed)" '["expires","registrar"]' "the diff marks exactly the settings /diff names"
is "$(value diff | jq -c '.[1:]')" \
	'[["expires","(unset)","600","added in B"],["registrar","sip.acme.test","sip2.acme.test","changed"]]' \
	"side by side: each setting with version A's and B's value"
is "$(value preview | jq -c '.macs')" "$(printf '%s' "$want_preview" | jq -c .macs)" \
	"the rollback preview lists the devices the API says change"
like "$(value preview | jq -r .summary)" 'from v2 to the settings of v1 changes the configuration of 2 devices; 1 pinned' \
	"and says how many, and that the pinned one keeps its version"
is "$(value preview | jq -r .focus)" rb-confirm "the confirmation has the focus (keyboard)"
is "$(value version_after_preview)" 2 "the preview wrote nothing: still v2"
like "$(value rolled | jq -r .)" 'main is now at v3 \(rollback to v1\)' "confirmed: the page says v3"
is "$(get /api/v1/tenants/acme/templates/main | jq -c '[.version, .settings]')" '[3,{"registrar":"sip.acme.test"}]' \
	"the API serves v3 with v1's settings"
is "$(sql "SELECT actor FROM audit_log WHERE action='template.rollback'")" root "audited under the user's name"

# ---- pending ----
like "$(value pending | jq -r '.[] | select(.[0] == "001565aaaaaa") | .[3]')" 'alert\("ua"\)' \
	"the hostile User-Agent is a cell's text"
is "$(value claim_form | jq -c '[.focus, .layout]')" '["claim-tenant","yealink"]' \
	"the claim form opens focused, the suggested layout chosen"
like "$(value claimed | jq -r .)" '^Device 001565112233 added to tenant acme \(layout yealink\)\.$' "claimed: the page says so"
is "$(get /api/v1/devices/001565112233 | jq -c '[.tenant, .layout, .model]')" '["acme","yealink","T46S"]' \
	"the API has the device in acme, layout and model from the phone"
is "$(value pending_after | jq -c 'map(.[0])')" '["001565aaaaaa"]' "and the list no longer shows it"

# ---- import ----
is "$(value import_errors | jq -c 'map(.[0:2])')" '[["2","layout"]]' "the bad row's error: row 2, column layout"
like "$(value import_errors | jq -r '.[0][2]')" "unknown layout '<img src=x onerror=alert\\(2\\)>'" "its message, as text"
is "$(value import_errors | jq -r '.[0][3]')" "0004f2200002,$HLAYOUT,new two,1,302,a302x,********" \
	"with the row itself, its password masked"
like "$(value imported | jq -r .)" '^Imported into acme: 2 rows: 2 new devices' "the clean CSV imported through the button"
is "$(get '/api/v1/devices?tenant=acme&limit=500' | jq -c '[.items[].mac | select(startswith("0004f22"))]')" \
	'["0004f2200001","0004f2200002"]' "the API lists the two imported devices"
# The failed dry run wrote nothing (pages.js compared the export before
# and after it); in the database, one import is audited: the clean one.
is "$(sql "SELECT count(*) || ' ' || min(actor) FROM audit_log WHERE action = 'import'")" "1 root" \
	"one import audited, the clean one (the dry runs wrote none)"
is "$(sql "SELECT label FROM device WHERE mac LIKE '0004f22%' ORDER BY mac" | paste -sd,)" \
	"new one,new two" "the imported devices hold the clean CSV's values"

# ---- tenant user, read-only ----
is "$(value tenant_pending | jq -c '[.rows, .api, .claim]')" '[0,403,403]' \
	"tenant user: no pending phone on the page; the API refuses list and claim (403)"
like "$(value tenant_pending | jq -r .msg)" 'belong to no tenant' "the page says why"
is "$(value tenant_templates | jq -c '[.tenants, .other, .other_rb, .other_import]')" '[["acme"],404,404,404]' \
	"tenant user: only its tenant; another tenant's templates, rollback and import are 404"
is "$(value ro_templates | jq -c '[.rollback_form, .dry]')" '[false,403]' "read-only: no rollback form; its preview is refused"
is "$(value ro_pending | jq -c '[.rows, .buttons, .forget]')" '[1,0,403]' "read-only: sees the pending phone, no buttons, forget refused"
is "$(value ro_import | jq -c '[.check, .post]')" '[true,403]' "read-only: import disabled and refused"
is "$(sql "SELECT count(*) FROM audit_log WHERE actor IN ('acme-ops', 'reader') AND action <> 'console login'")" 0 \
	"nothing written by the tenant or read-only user"
is "$(sql "SELECT count(*) FROM pending_device WHERE mac = '001565aaaaaa'")" 1 "the pending phone read-only tried to forget is still there"
n=$(ls "$T/shots"/*.png 2>/dev/null | wc -l)
is "$n" 11 "screenshots of each page kept ($T/shots)"
done_testing
