#!/bin/sh
# The web console in a real browser: Debian's chromium driven by
# puppeteer-core (tests/console/browse.js), axe-core for accessibility,
# both from npm in the cache tools/install-deps.sh --test fills.  Log in;
# the overview's numbers equal the API's for the same tenant (and what the
# device list says independently); find a device by its user; paging; a
# hostile label, display name and User-Agent show as text with no element
# injected and no dialog; no console error on any page; no serious or
# critical axe violation; a tenant user cannot see another tenant's device
# by page or request; read-only has no button and its write is refused; a
# write without the CSRF token is refused.  Screenshots go to $T/shots.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 jq node chromium
console_deps

LABEL='<script>alert("label")</script>'
DNAME="\"><img src=x onerror=alert('name')>"
UA='<img src=x onerror=alert(3)><script>alert(4)</script>'
RUA='<svg onload=alert(5)></svg><iframe src=javascript:alert(6)>'
sp init >/dev/null
sp tenant add acme --device-auth none >/dev/null
sp template set acme main registrar=sip.acme.test >/dev/null
sp tenant set acme --default-template main >/dev/null
sp tenant add other --device-auth none >/dev/null
sp device add 0004f2990001 --tenant other --layout yealink --label 'other tenant' >/dev/null 2>&1
# 30 devices in acme, so the list has a second page (25 a page).
i=10
while [ $i -lt 40 ]; do
	sp device add "0004f21000$i" --tenant acme --layout yealink --model T46S --label "desk $i" >/dev/null 2>&1
	i=$((i + 1))
done
sp device add 0004f2000002 --tenant acme --layout yealink --model T54W --label "$LABEL" \
	x.admin_password=hunter2-secret >/dev/null 2>&1
sp account add 0004f2000002 --username 2002 --auth-username a2002x --password pw2002pw --display-name "$DNAME" >/dev/null
sp account add 0004f2100011 --username 3011 --auth-username a3011x --password pw3011pw --display-name 'Ann Lee' >/dev/null
sp device disable 0004f2100012 >/dev/null
PW='correct horse battery'
printf '%s\n' "$PW" > "$T/pw"
sp user add root --role admin --password-file "$T/pw" >/dev/null
sp user add acme-ops --role operator --tenant acme --password-file "$T/pw" >/dev/null
sp user add reader --role read-only --password-file "$T/pw" >/dev/null
TOK=$(sp api-token add checker --role read-only 2>/dev/null)

start_sipprovd -o fail_threshold=100 -o insecure_loopback=yes -o api_token=hook-token-1
# Registrations through the webhook: 2002 refused (403, hostile
# User-Agent), 3011 registered; the registrar differs from the template's,
# which is drift.
hook() {
	curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer hook-token-1' -H 'Content-Type: application/json' \
		--data-binary "$1" "$URL/api/v1/registrations"
}
is "$(hook "$(jq -cn --arg ua "$RUA" '{username: "2002", registrar: "sip.elsewhere.test", code: 403,
	reason: "Forbidden", user_agent: $ua, src_ip: "192.0.2.10"}')")" 202 "a refused registration with a hostile User-Agent is recorded"
is "$(hook '{"username":"3011","registrar":"sip2.acme.test","code":200,"reason":"OK","src_ip":"192.0.2.11"}')" 202 \
	"a good one too"
# Fetches: the hostile device with a hostile User-Agent and two others at
# template version 1; then version 2 and one more fetch: 3 current, 0 stale...
for m in 0004f2000002 0004f2100010 0004f2100013; do
	curl -s -o /dev/null -A "$UA" "$URL/$m.cfg"
done
sp template set acme main registrar=sip2.acme.test >/dev/null
curl -s -o /dev/null "$URL/0004f2100014.cfg"
# ...so two fetched version 1 (stale) and two version 2 (current).
curl -s -o /dev/null -A "$UA" "$URL/0004f2000002.cfg"

# Fetch records are written behind the responses: wait until all five are
# in (the device rows and fetch_log) before any number is read.
for _ in $(seq 1 400); do
	[ "$(sql "select (select count(*) from fetch_log) || '/' ||
		(select count(*) from device_fetch where fetched_at > 0)")" = 5/4 ] && break
	sleep 0.05
done
# The API's numbers for acme, read before the browser changes anything.
api=$(curl -s -H "Authorization: Bearer $TOK" "$ADMIN_URL/api/v1/fleet/summary?tenant=acme")
# The same numbers from the plain device list, by another path.
curl -s -H "Authorization: Bearer $TOK" "$ADMIN_URL/api/v1/devices?tenant=acme&limit=500" > "$T/devices.json"
want=$(jq -c '.items | {total: length,
	disabled: map(select(.status == "disabled")) | length,
	never_fetched: map(select(.status == "active" and .last_fetch.at == 0)) | length,
	stale: map(select(.status == "active" and .last_fetch.at > 0 and .last_fetch.version != 2)) | length,
	current: map(select(.status == "active" and .last_fetch.version == 2)) | length}' "$T/devices.json")

mkdir -p "$T/shots"
diag "screenshots: $T/shots (KEEP_TEST_DIR=1 keeps them)"
NODE_PATH=$NM ADMIN_URL=$ADMIN_URL CONSOLE_PW=$PW SHOTS="$T/shots" AXE_JS="$NM/axe-core/axe.min.js" \
	HOSTILE=$(jq -cn --arg a "$LABEL" --arg b "$DNAME" --arg c "$UA" --arg d "$RUA" '[$a, $b, $c, $d]') \
	MAC_ACME=0004f2100010 MAC_OTHER=0004f2990001 MAC_HOSTILE=0004f2000002 FIND_USER=3011 \
	SECRET_SETTING=hunter2-secret timeout 240 node "$ROOT/tests/console/browse.js" > "$T/browse.out" 2> "$T/browse.err"
rc=$?
[ -s "$T/browse.err" ] && sed 's/^/# browse.js: /' "$T/browse.err" | head -20
ok $rc "the browser run finished (exit $rc)"
browser_tap "$T/browse.out"

# ---- the overview against the API, for tenant acme ----
page=$(value overview_acme)
is "$(printf '%s' "$page" | jq -c '[.total, .states]')" "$(printf '%s' "$api" | jq -c '[.devices, .states]')" \
	"the overview's device states are the API's (fleet/summary)"
is "$(printf '%s' "$page" | jq -Sc .registrations)" "$(printf '%s' "$api" | jq -Sc .registrations)" \
	"and its registrations by code"
is "$(printf '%s' "$page" | jq -c '{total, disabled: .states.disabled, never_fetched: .states.never_fetched,
	stale: .states.stale, current: .states.current}')" "$want" "and what /api/v1/devices says for acme"
is "$(printf '%s' "$page" | jq -Sc .drift)" "$(printf '%s' "$api" | jq -Sc .drift_open)" "and its open drift by kind"
is "$(printf '%s' "$api" | jq -c '[.registrations["200"], .registrations["403"], .registrations.none]')" '[1,1,29]' \
	"(registrations: one 200, one 403, 29 never seen)"
is "$want" '{"total":31,"disabled":1,"never_fetched":26,"stale":2,"current":2}' \
	"(31 devices, 1 disabled, 26 never fetched, 2 stale, 2 current)"
served=$(sql "select count(*) from fetch_log f join device d on d.id = f.device_id join tenant t on t.id = d.tenant_id
	where t.slug = 'acme' and f.status between 200 and 399 and f.at >= $(($(date +%s) - 86400))")
is "$(printf '%s' "$page" | jq -c '[.served24, .rows24, .served7d]')" "[$served,24,$served]" \
	"the fetch charts: $served served in the last 24 hours (as fetch_log holds), 24 hourly rows, the same in 7 days"
is "$(printf '%s' "$api" | jq '[.fetches.hours[].served] | add')" "$served" "and so does the API"
regs=$(sql "select sum(CASE WHEN r.code between 200 and 299 THEN 1 ELSE 0 END) || ',' ||
	sum(CASE WHEN r.code = 0 or (r.code >= 300 and r.code not in (401, 407)) THEN 1 ELSE 0 END)
	from registration r join device d on d.id = r.device_id join tenant t on t.id = d.tenant_id
	where t.slug = 'acme' and r.at >= $(($(date +%s) - 86400))")
is "$(printf '%s' "$page" | jq -c '[.reg24, .reg7d, .regrows]')" "[[$regs],[$regs],[24,7]]" \
	"the registration charts: $regs registered,failed in 24 hours and 7 days, as the registration table holds"
is "$regs" "1,1" "(the webhook's 200 and its 403)"
is "$(printf '%s' "$api" | jq -c '[([.registration_history.hours[].registered] | add), ([.registration_history.days[].failed] | add)]')" \
	"[1,1]" "and the API's registration_history says the same"
is "$(value timeline | jq -r 'map(.[1] + " " + .[2] + " " + .[4]) | join(",")')" \
	"$(sql "select status || ' ' || path || ' ' || user_agent from fetch_log
	where device_id = (select id from device where mac = '0004f2000002') order by at desc, id desc" | paste -sd,)" \
	"the device page's fetch timeline is the device's fetch_log, newest first, hostile User-Agent as text"
is "$(value find_user)" '["0004f2100011"]' "searching the user 3011 finds its device, only it"
is "$(value pages | jq -r '.[0:2] | join(" ")')" "25 6" "the list pages by 25 (31 devices: 25, then 6)"
is "$(sql "select actor || ' ' || status from audit_log, device where action='device disable'
	and object='0004f2100010' and mac='0004f2100010'")" "root disabled" \
	"the admin's click disabled the device, audited with the user's name"
is "$(sql "select status from device where mac='0004f2100010'") $(sql \
	"select count(*) from audit_log where action like 'device %' and actor in ('reader', 'acme-ops')")" "disabled 0" \
	"nothing written by the read-only or tenant user"
n=$(ls "$T/shots"/*.png 2>/dev/null | wc -l)
ok $((n < 8)) "screenshots of each page kept ($n in $T/shots)"
done_testing
