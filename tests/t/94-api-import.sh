#!/bin/sh
# POST /api/v1/import and GET /api/v1/export against a running sipprovd:
# JSON and CSV bodies through the CLI's importer (same messages), dry run,
# atomic (any row error and the database is byte for byte as it was),
# errors by row, generate_credentials (then a real digest fetch and a
# token-URL fetch on the phone listener with what the answer carried),
# Idempotency-Key (same body: the first answer again, nothing written
# twice; other body: 409), export round trip, scope (another tenant's
# token gets 404, read-only 403, revoked 401), hostile bodies, and every
# response validated against openapi/sipprov-v1.json.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/api_lib.sh"
need curl sqlite3 python3

sp init >/dev/null
sp tenant add acme --device-auth digest --device-auth token >/dev/null
sp tenant add other >/dev/null
sp template set acme main registrar=sip.acme.test >/dev/null
ROOT_T=$(sp api-token add root 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
ACME_T=$(sp api-token add acme-admin --tenant acme 2>/dev/null)
OTHER_T=$(sp api-token add other-admin --tenant other 2>/dev/null)
OLD_T=$(sp api-token add old 2>/dev/null)
sp api-token revoke old >/dev/null
start_sipprovd

GOOD='{"tenant":"acme","generate_credentials":true,"devices":[
 {"mac":"00:04:f2:00:00:01","layout":"yealink","template":"main","label":"Desk 1","accounts":[{"line":1,"username":"201","auth_username":"a201","password":"pw-201"},{"line":2,"username":"202","auth_username":"a202","password":"pw-202"}]},
 {"mac":"020000000001","layout":"linphone","template":"main","overrides":{"port":"5070"},"accounts":[{"username":"203","auth_username":"a203","password":"pw-203"}]},
 {"mac":"0004f2000003","layout":"polycom","template":"main"}]}'

# ---- refused imports: nothing written ----
dump before
BAD='{"tenant":"acme","devices":[{"mac":"0004f2000011","layout":"yealink"},{"mac":"0004f2000012","layout":"yealnk"},{"mac":"0004f2000013","layout":"yealink","accounts":[{"username":"sip:x@y","auth_username":"a1","password":"p"}]}]}'
api "$ROOT_T" POST /api/v1/import "$BAD"
is "$st:$(jf "d['error']['code']")" "422:invalid" "row errors: 422"
is "$(jf "' '.join('%s/%s' % (e['row'], e.get('field')) for e in d['errors'])")" "2/layout 3/username" \
	"every error by row (the JSON device) and field"
like "$(jf "d['error']['message']")" "^2 errors, nothing written; first: unknown layout 'yealnk'" "the first in error, counted"
printf 'mac,layout,line,username,auth_username,password\n0004f2000011,yealink,1,211,a211,p\n0004f2000012,yealnk,1,212,a212,p\n' > "$T/bad.csv"
CT=text/csv api "$ROOT_T" POST '/api/v1/import?tenant=acme' "@$T/bad.csv"
is "$st:$(jf "d['errors'][0]['row']"):$(jf "d['errors'][0]['field']")" "422:2:layout" "a CSV body: the CSV row and column"
cli=$(sp import --tenant acme "$T/bad.csv" 2>&1)
like "$cli" "$(jf "d['errors'][0]['message']" | sed 's/[][().*]/./g')" "the CLI's importer says the same"
api "$ROOT_T" POST /api/v1/import '{"tenant":"acme","devices":[{"mac":"0004f2000011","layout":"yealink","colour":"red"}]}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field'] + ' ' + str(d['error']['row'])")" "400:unknown_field colour 1" \
	"an unknown device field: 400 naming it and its row"
api "$ROOT_T" POST /api/v1/import '{"tenant":"acme","devices":[{"mac":"0004f2000011","layout":"yealink","accounts":[{"line":"1"}]}]}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:wrong_type line" "a wrong type in an account: 400 naming it"
api "$ROOT_T" POST /api/v1/import '{"tenant":"acme","devices":[{"layout":"yealink"}]}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:missing_field mac" "a device without mac: 400"
api "$ROOT_T" POST /api/v1/import '{"tenant":"acme"}'
is "$st:$(jf "d['error']['field']")" "400:devices" "no devices: 400"
api "$ROOT_T" POST /api/v1/import '{"devices":[]}'
is "$st:$(jf "d['error']['field']")" "400:tenant" "no tenant: 400 naming it"
api "$ROOT_T" POST '/api/v1/import?tenant=acme&dry_run=maybe' "$GOOD"
is "$st:$(jf "d['error']['field']")" "400:dry_run" "dry_run=maybe: 400"
CT=text/plain api "$ROOT_T" POST '/api/v1/import?tenant=acme' "@$T/bad.csv"
is "$st:$(jf "d['error']['field']")" "400:Content-Type" "neither CSV nor JSON: 400"
printf 'mac,layout,line,username,auth_username,password\n"0004f2000011,yealink,1,211,a211,p\n' > "$T/quote.csv"
CT=text/csv api "$ROOT_T" POST '/api/v1/import?tenant=acme' "@$T/quote.csv"
is "$st" 422 "an unterminated quote: 422"
printf 'mac,layout,line,username,auth_username,password,colour\n' > "$T/col.csv"
CT=text/csv api "$ROOT_T" POST '/api/v1/import?tenant=acme' "@$T/col.csv"
like "$st:$(jf "d['error']['message']")" "^422:.*colour" "an unknown CSV column: 422 naming it"
"$PY" -c 'import json; print(json.dumps({"tenant":"acme","devices":[{"mac":"%012x" % i,"layout":"yealink","label":"x"*200} for i in range(6000)]}))' > "$T/big.json"
api "$ROOT_T" POST /api/v1/import "@$T/big.json"
is "$st:$(jf "d['error']['code']")" "413:too_large" "a body over 1 MiB: 413"
api "$RO_T" POST /api/v1/import "$GOOD"
is "$st" 403 "read-only cannot import"
api "$OLD_T" POST /api/v1/import "$GOOD"
is "$st" 401 "a revoked token cannot import"
api "$OTHER_T" POST /api/v1/import "$GOOD"
is "$st:$(jf "d['error']['code']")" "404:not_found" "another tenant's token importing into acme: 404"
n404=$(printf '%s' "$body" | sed 's/acme/X/')
api "$OTHER_T" POST /api/v1/import "$(printf '%s' "$GOOD" | sed 's/"acme"/"nosuch"/')"
is "$(printf '%s' "$body" | sed 's/nosuch/X/')" "$n404" "the same answer as for no such tenant"
api "$ROOT_T" POST '/api/v1/import?dry_run=true' "$GOOD"
is "$st:$(jf "d['dry_run']"):$(jf "d['devices_new']"):$(jf "len(d['devices'])")" "200:True:3:0" \
	"a dry run: counted, no credentials"
same_db "refused imports and the dry run"

# ---- the import: credentials and token URLs once ----
api "$ACME_T" POST /api/v1/import "$GOOD" -H 'Idempotency-Key: day-1'
is "$st" 200 "a tenant token imports into its tenant"
is "$(jf "d['devices_new'], d['accounts_new'], d['rows']")" "3 3 4" "3 devices, 3 accounts, 4 rows"
cp "$T/r$i.b" "$T/first.json"
is "$(jf "' '.join(x['mac'] for x in d['devices'])")" "0004f2000001 020000000001 0004f2000003" "every device, in file order"
P1=$(jf "d['devices'][0]['http_credentials']['password']")
like "$P1" '^[0-9a-f]{32}$' "with its generated HTTP password"
code=$(curl -s -o "$T/cfg" -w '%{http_code}' --digest -u "0004f2000001:$P1" "$URL/0004f2000001.cfg")
is "$code" 200 "which fetches the phone's config with digest"
grep -q 'pw-202' "$T/cfg"; ok $? "and the config carries line 2's SIP password"
TURL=$(jf "d['devices'][1]['accounts'][0]['token_url']")
code=$(curl -s -o "$T/soft" -w '%{http_code}' "$TURL")
is "$code" 200 "the softphone's token URL from the answer works as given"
grep -q 'pw-203' "$T/soft"; ok $? "with its SIP password"
is "$(sql "select actor || ' ' || detail from audit_log where action = 'import'")" \
	"acme-admin rows=4 devices_new=3 devices_updated=0 accounts_new=3 accounts_updated=0 credentials=generated" \
	"one audit row under the token's name"
db_grep -q "$P1"; ok $((! $?)) "no generated password in the database, kept answer included"

# ---- Idempotency-Key ----
# The two devices fetched above (the softphone's fetch is the last one).
fetches_recorded "select count(*) from device join device_fetch on device_id = id where mac in ('0004f2000001', '020000000001') and fetched_at > 0" 2
dump before
api "$ACME_T" POST /api/v1/import "$GOOD" -H 'Idempotency-Key: day-1'
is "$st:$(jf "d['replayed']")" "200:True" "a retry with the same key and body: the first answer"
is "$(jf "d['devices'][0]['http_credentials']['password']")" "$P1" "with the same credentials (none rotated)"
same_db "the retry"
api "$ACME_T" POST /api/v1/import "$(printf '%s' "$GOOD" | sed 's/Desk 1/Desk 9/')" -H 'Idempotency-Key: day-1'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "409:conflict Idempotency-Key" "the same key, another body: 409"
api "$ROOT_T" POST /api/v1/import "$(printf '%s' "$GOOD" | sed 's/Desk 1/Desk 9/')" -H "Idempotency-Key: $(head -c 300 /dev/zero | tr '\0' k)"
is "$st:$(jf "d['error']['field']")" "400:Idempotency-Key" "a key over 255 characters: 400"
same_db "a conflicting key"
# A key is kept 24 hours: an older answer is neither replayed nor kept.
sql "update api_idempotency set created = created - 86401 where idem_key = 'day-1'"
api "$ACME_T" POST /api/v1/import "$(printf '%s' "$GOOD" | sed 's/Desk 1/Desk 9/')" -H 'Idempotency-Key: day-1'
is "$st:$(jf "d.get('replayed', False)")" "200:False" "the same key after 24 hours: a new import, not the old answer"
is "$(sql "select count(*) from api_idempotency where created < $(($(date +%s) - 86400))")" 0 \
	"and the expired answer is gone"
is "$(sql "select label from device where label = 'Desk 9'")" "Desk 9" "the new body was applied"
P1=$(jf "d['devices'][0]['http_credentials']['password']")   # generated again

# ---- export, and importing it back changes nothing ----
api "$ACME_T" GET '/api/v1/export?tenant=acme'
is "$st:$(jf "len(d['devices'])")" "200:3" "export JSON"
unlike "$body" 'pw-20' "without a password"
cp "$T/r$i.b" "$T/export.json"
api "$ACME_T" GET '/api/v1/export?tenant=acme&format=csv'
like "$(printf '%s' "$hdr" | grep -i '^content-type')" 'text/csv' "export CSV"
sp export --tenant acme > "$T/cli.csv" 2>/dev/null
cmp -s "$T/r$i.b" "$T/cli.csv"; ok $? "byte for byte what 'sipprov export' writes"
sed -i '$d' "$LOG"     # a CSV body: checked against the CLI above, not as JSON
api "$ACME_T" POST /api/v1/import "@$T/export.json"
is "$st:$(jf "d['devices_updated'], d['accounts_updated']")" "200:3 3" "the export imports back"
code=$(curl -s -o "$T/cfg" -w '%{http_code}' --digest -u "0004f2000001:$P1" "$URL/0004f2000001.cfg")
grep -q 'pw-202' "$T/cfg"; ok $? "passwords and credentials kept"
api "$OTHER_T" GET '/api/v1/export?tenant=acme'
is "$st" 404 "another tenant's token exporting acme: 404"
api "$ROOT_T" GET '/api/v1/export?tenant=acme&format=xml'
is "$st:$(jf "d['error']['field']")" "400:format" "an unknown format: 400"
grep -q "$P1\|pw-20" "$SIPPROVD_LOG" "$T/access.log"; ok $((! $?)) "no secret in any log"

openapi_valid
done_testing
