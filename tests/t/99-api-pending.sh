#!/bin/sh
# Pending (unknown) phones over the admin API: GET /api/v1/pending (paged,
# the CLI's --json rows plus the layouts that answer), POST
# /pending/{mac}/claim (the rule and messages of `sipprov device claim`),
# DELETE /pending/{mac}.  Pending phones have no tenant: a tenant token is
# refused whatever its role; read-only lists but cannot write; hostile
# bodies leave the database byte for byte as it was.  Then the template
# rollback preview (?dry_run=true): which devices' effective config would
# change, nothing written.  Every response validated against the OpenAPI
# document.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/api_lib.sh"
need curl sqlite3 python3 jq

sp init >/dev/null
sp tenant add acme --device-auth none >/dev/null
sp tenant add other --device-auth none >/dev/null
sp template set acme main registrar=sip.acme.test >/dev/null
sp device add 00:15:65:4a:a9:37 --tenant acme --layout yealink >/dev/null
ROOT_T=$(sp api-token add root 2>/dev/null)
OP_T=$(sp api-token add ops --role operator 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
ACME_T=$(sp api-token add acme-admin --tenant acme 2>/dev/null)
start_sipprovd
wait_rows() {
	for _ in $(seq 1 100); do
		[ "$(sql 'SELECT count(*) FROM pending_device')" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
HUA='<script>alert(1)</script>"><img src=x onerror=alert(2)>'
curl -s -o /dev/null -A "Yealink SIP-T46S 66.86.0.15 00:15:65:11:22:33" "$URL/001565112233.cfg"
curl -s -o /dev/null "$URL/001565aaaaaa.cfg"
curl -s -o /dev/null -A "$HUA" "$URL/cfg000b82dddddd.xml"
wait_rows 3
ok $? "three unknown phones asked and are pending"

# ---- list ----
api "$ROOT_T" GET /api/v1/pending
is "$st $(jf "d['total'], len(d['items']), d['offset'], d['limit']")" "200 3 3 0 100" "GET /pending: 3 of 3"
is "$(printf '%s' "$body" | jq -c '[.items[] | del(.candidates)]')" "$(sp --json device pending | jq -c .)" \
	"each row is the CLI's --json row (same suggestion, same fields)"
is "$(printf '%s' "$body" | jq -r '.items[] | select(.mac == "001565112233") | .layout + " " + .model')" "yealink T46S" \
	"the Yealink's layout is suggested from its User-Agent"
is "$(printf '%s' "$body" | jq -c '.items[] | select(.mac == "001565aaaaaa") | [.layout, (.candidates | length > 1),
	(.candidates | index("yealink") != null)]')" '[null,true,true]' \
	"a file several layouts answer: no suggestion, the candidates listed"
is "$(printf '%s' "$body" | jq -r '.items[] | select(.mac == "000b82dddddd") | .user_agent')" "$HUA" \
	"a hostile User-Agent comes back as the string it was (JSON, not markup)"
api "$RO_T" GET '/api/v1/pending?limit=2'
p1=$(printf '%s' "$body" | jq -r '[.items[].mac] | join(" ")')
is "$st $(jf "d['total'], len(d['items'])")" "200 3 2" "read-only lists too; limit=2 gives 2 of 3"
api "$RO_T" GET '/api/v1/pending?limit=2&offset=2'
p2=$(printf '%s' "$body" | jq -r '[.items[].mac] | join(" ")')
is "$(printf '%s %s\n' "$p1" "$p2" | tr ' ' '\n' | sort -u | wc -l)" 3 "offset=2 gives the third; the pages do not overlap"
api "$ROOT_T" GET '/api/v1/pending?limit=0'
is "$st:$(jf "d['error']['field']")" "400:limit" "limit=0: 400 naming limit"
api "$ROOT_T" GET '/api/v1/pending?offset=-1'
is "$st:$(jf "d['error']['field']")" "400:offset" "offset=-1: 400 naming offset"

# ---- a tenant token, read-only, hostile input: refused, nothing written ----
dump before
api "$ACME_T" GET /api/v1/pending
is "$st:$(jf "d['error']['code']")" "403:forbidden" "a tenant token cannot list pending phones (they have no tenant)"
api "$ACME_T" POST /api/v1/pending/001565112233/claim '{"tenant":"acme"}'
is "$st" 403 "nor claim one into its own tenant"
api "$ACME_T" DELETE /api/v1/pending/001565112233
is "$st" 403 "nor forget one"
api "$RO_T" POST /api/v1/pending/001565112233/claim '{"tenant":"acme"}'
is "$st:$(jf "d['error']['code']")" "403:forbidden" "read-only cannot claim"
api "$RO_T" DELETE /api/v1/pending/001565112233
is "$st" 403 "read-only cannot forget"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim 'not json'
is "$st:$(jf "d['error']['code']")" "400:bad_json" "a body that is not JSON: 400"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"tenant":"acme","label":"x"}'
is "$st:$(jf "d['error']['field']")" "400:label" "an unknown field: 400 naming it"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"layout":"yealink"}'
is "$st:$(jf "d['error']['field']")" "400:tenant" "no tenant: 400 naming tenant"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"tenant":7}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:wrong_type tenant" "a tenant that is no string: 400"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"tenant":"nosuch"}'
is "$st" 404 "an unknown tenant: 404"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"tenant":"acme","layout":"yealnk"}'
is "$st:$(jf "d['error']['field']")" "422:layout" "an unknown layout: 422 naming layout"
is "error: $(jf "d['error']['message']")" "$(sp device claim 001565112233 --tenant acme --layout yealnk 2>&1)" \
	"the message is the CLI's, word for word"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"tenant":"acme","template":"nosuch"}'
is "$st:$(jf "d['error']['field']")" "422:template" "a template the tenant lacks: 422 naming template"
api "$ROOT_T" POST /api/v1/pending/001565aaaaaa/claim '{"tenant":"acme"}'
is "$st:$(jf "d['error']['field']")" "422:layout" "a phone whose layout cannot be told: 422 naming layout"
is "error: $(jf "d['error']['message']" | sed 's/give "layout"$/give --layout/')" \
	"$(sp device claim 001565aaaaaa --tenant acme 2>&1)" "the CLI's message, asking for the body's field"
api "$ROOT_T" POST /api/v1/pending/001565bbbbbb/claim '{"tenant":"acme"}'
is "$st" 404 "a MAC that never asked: 404"
is "error: $(jf "d['error']['message']")" "$(sp device claim 001565bbbbbb --tenant acme 2>&1)" "with the CLI's message"
api "$ROOT_T" POST '/api/v1/pending/<script>/claim' '{"tenant":"acme"}'
is "$st" 404 "not a MAC: 404"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim/x '{"tenant":"acme"}'
is "$st" 404 "a path below claim: 404"
api "$ROOT_T" GET /api/v1/pending/001565112233
is "$st" 405 "GET on one pending phone: 405"
api "$ROOT_T" DELETE /api/v1/pending/001565112233 '{"x":1}'
is "$st" 400 "DELETE with a body: 400"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim "$(printf '{"tenant":"acme","layout":"yealink\\u0000"}')"
is "$st" 400 "a NUL in a string: 400"
same_db "every refused request"

# ---- claim and forget ----
api "$OP_T" POST /api/v1/pending/00-15-65-11-22-33/claim '{"tenant":"acme"}'
is "$st" 201 "an operator claims the Yealink (any MAC spelling): 201"
like "$hdr" 'Location: /api/v1/devices/001565112233' "Location of the new device"
is "$(jf "d['mac'] + ' ' + d['tenant'] + ' ' + d['layout'] + ' ' + d['model']")" "001565112233 acme yealink T46S" \
	"entered with the suggested layout and the model its User-Agent gave"
is "$(sql "SELECT count(*) FROM pending_device WHERE mac='001565112233'")" 0 "no longer pending"
is "$(sql "SELECT actor FROM audit_log WHERE action='device add' AND object='001565112233'")" ops \
	"audited as a device add under the token's name"
like "$(sp device show 001565112233)" 'layout: +yealink' "the CLI sees the device"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/001565112233.cfg")" 200 "and the phone's next fetch is served"
api "$ROOT_T" POST /api/v1/pending/001565112233/claim '{"tenant":"acme"}'
is "$st" 404 "claiming it again: 404 (not pending any more)"
api "$ROOT_T" POST /api/v1/pending/001565aaaaaa/claim '{"tenant":"other","layout":"polycom"}'
is "$st:$(jf "d['layout'] + ' ' + d['tenant']")" "201:polycom other" "the ambiguous one with the layout given"
api "$ROOT_T" DELETE /api/v1/pending/000b82dddddd
is "$st" 204 "DELETE forgets a pending phone: 204"
is "$(sql "SELECT count(*) FROM pending_device")" 0 "the list is empty"
is "$(sql "SELECT actor FROM audit_log WHERE action='device pending rm' AND object='000b82dddddd'")" root \
	"audited under the token's name"
api "$ROOT_T" DELETE /api/v1/pending/000b82dddddd
is "$st" 404 "forgetting it again: 404"
is "error: $(jf "d['error']['message']")" "$(sp device pending rm 000b82dddddd 2>&1)" "with the CLI's message"
api "$ROOT_T" GET /api/v1/pending
is "$st $(jf "d['total'], d['items']")" "200 0 []" "an empty list"
# ---- template rollback preview ----
# main v1 registrar=sip.acme.test; v2 another registrar and expires.  Of
# acme's devices on main: two follow it, one overrides both keys (its
# config does not change), one is pinned to v1, one uses another template.
sp template set acme main registrar=sip2.acme.test expires=600 >/dev/null
sp template set acme spare registrar=spare.acme.test >/dev/null
sp device add 001565000003 --tenant acme --layout yealink registrar=own.acme.test expires=300 >/dev/null
sp device add 001565000004 --tenant acme --layout yealink >/dev/null
sp template pin 001565000004 1 >/dev/null
sp device add 001565000005 --tenant acme --layout yealink --template spare >/dev/null
n=0
for m in 0015654aa937 001565112233 001565000003 001565000004 001565000005; do
	n=$((n + 1))
	sp account add $m --username 20$n --auth-username a20${n}x --password "pw-20$n-secret" >/dev/null
done
TPL=/api/v1/tenants/acme/templates/main
api "$ROOT_T" GET "$TPL"
cur_etag=$(etag)
render_all() {
	for m in $(sql "SELECT mac FROM device WHERE tenant_id=(SELECT id FROM tenant WHERE slug='acme') ORDER BY mac"); do
		# The version label changes for every device on the template:
		# what matters is the configuration around it.
		echo "$m $(sp render "$m" | grep -v '@v[0-9]' | sha256sum | cut -c1-16)"
	done
}
render_all > "$T/render.before"
dump before
api "$ROOT_T" POST "$TPL/rollback?dry_run=true" '{"version":1}'
is "$st" 200 "rollback ?dry_run=true: 200"
is "$(jf "d['dry_run'], d['current'], d['version'], d['changed'], d['devices'], d['macs'], d['pinned']")" \
	"True 2 1 True 2 ['001565112233', '0015654aa937'] 1" \
	"the preview: v2 -> v1, two devices change (listed in MAC order), one pinned stays"
pmacs=$(printf '%s' "$body" | jq -r '.macs | join(" ")')
is "$(printf '%s' "$body" | jq -c '.changes')" \
	'[{"key":"expires","old":"600","new":null},{"key":"registrar","old":"sip2.acme.test","new":"sip.acme.test"}]' \
	"and which settings change"
is "$(etag)" "$cur_etag" "its ETag is the current version's (for If-Match)"
same_db "the preview"
api "$RO_T" POST "$TPL/rollback?dry_run=true" '{"version":1}'
is "$st" 403 "read-only cannot preview a rollback (it cannot roll back)"
api "$ACME_T" POST /api/v1/tenants/other/templates/main/rollback?dry_run=true '{"version":1}'
is "$st" 404 "another tenant's template: 404"
api "$ROOT_T" POST "$TPL/rollback?dry_run=maybe" '{"version":1}'
is "$st:$(jf "d['error']['field']")" "400:dry_run" "dry_run=maybe: 400 naming dry_run"
api "$ROOT_T" POST "$TPL/rollback?dry_run=true" '{"version":9}'
is "$st" 404 "a version that does not exist: 404"
api "$ROOT_T" POST "$TPL/rollback?dry_run=true" '{"version":2}'
is "$(jf "d['changed'], d['devices'], d['macs'], d['changes']")" "False 0 [] []" "back to the current version: nothing changes"
api "$ROOT_T" POST "$TPL/rollback?dry_run=true" '{"version":1}' -H 'If-Match: "0000"'
is "$st" 412 "a stale If-Match: 412"
same_db "the refused previews"
# The real rollback; then the devices whose rendered config changed are
# exactly the ones the preview listed.
api "$ACME_T" POST "$TPL/rollback" '{"version":1}' -H "If-Match: $cur_etag"
is "$st:$(jf "d['version']")" "200:3" "the rollback with the preview's ETag: v3"
render_all > "$T/render.after"
is "$(join "$T/render.before" "$T/render.after" | awk '$2 != $3 { print $1 }' | tr '\n' ' ')" "$pmacs " \
	"the devices whose rendered config changed are exactly the preview's"
openapi_valid
done_testing
