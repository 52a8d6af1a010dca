#!/bin/sh
# The admin API's write side for devices and their accounts, driven with
# curl against a running sipprovd: create (Location, ETag), PATCH with
# If-Match (412 on a stale one), DELETE, HTTP credentials rotated and
# shown once (then a real digest fetch on the phone listener with them),
# accounts create / read / update / delete and token rotate / revoke (the
# URL shown once and working on the phone listener), the CLI seeing what
# the API wrote (same core rules and messages), scope (another tenant's
# token gets 404 and the same answer as for nothing), read-only 403,
# revoked 401, hostile bodies leaving the database byte for byte as it
# was, and every response validated against openapi/sipprov-v1.json.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/api_lib.sh"
need curl sqlite3 python3

sp init >/dev/null
sp tenant add acme --device-auth digest --device-auth token >/dev/null
sp tenant add other >/dev/null
sp template set acme main registrar=sip.acme.test >/dev/null
sp device add 0004f2000009 --tenant other --layout yealink >/dev/null
ROOT_T=$(sp api-token add root 2>/dev/null)
OP_T=$(sp api-token add ops --role operator 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
ACME_T=$(sp api-token add acme-admin --tenant acme 2>/dev/null)
OTHER_T=$(sp api-token add other-admin --tenant other 2>/dev/null)
OLD_T=$(sp api-token add old 2>/dev/null)
sp api-token revoke old >/dev/null
start_sipprovd

# ---- device create ----
api "$ACME_T" POST /api/v1/devices '{"mac":"00:04:F2:00:00:01","tenant":"acme","layout":"yealink","template":"main","label":"Front desk","overrides":{"port":"5070"}}'
is "$st" 201 "a tenant token creates a device in its tenant: 201"
like "$hdr" 'Location: /api/v1/devices/0004f2000001' "Location of the new device, MAC canonical"
like "$hdr" 'ETag: "[0-9a-f]{64}"' "with an ETag"
is "$(jf "d['label'] + ' ' + d['template'] + ' ' + d['overrides']['port'] + ' ' + d['tenant']")" \
	"Front desk main 5070 acme" "the answer is the stored device"
is "$(sp device show 0004f2000001 --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["label"], d["overrides"])')" \
	"Front desk {'port': '5070'}" "the CLI sees it"
is "$(sql "select actor from audit_log where action = 'device add' and object = '0004f2000001'")" acme-admin \
	"audited under the token's name"
api "$ROOT_T" POST /api/v1/devices '{"tenant":"acme","layout":"linphone"}'
is "$st" 201 "no MAC: a softphone id is generated"
SOFT=$(jf "d['mac']")
like "$SOFT" '^02[0-9a-f]{10}$' "a locally administered 02... id"

# ---- refused creates: field named, nothing written ----
dump before
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000001","tenant":"acme","layout":"yealink"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "409:exists mac" "an existing MAC: 409 naming mac"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealnk"}'
is "$st:$(jf "d['error']['field']")" "422:layout" "an unknown layout: 422 naming layout"
cli_err=$(sp device add 0004f2000002 --tenant acme --layout yealnk 2>&1)
is "error: $(jf "d['error']['message']")" "$cli_err" "the API's message is the CLI's, word for word"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink","template":"nosuch"}'
is "$st:$(jf "d['error']['field']")" "422:template" "a template the tenant lacks: 422 naming template"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink","overrides":{"port":"99999"}}'
is "$st:$(jf "d['error']['field']")" "422:overrides" "a bad override: 422 naming overrides"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink","overrides":{"port":5070}}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:wrong_type overrides" "an override that is no string: 400"
api "$ROOT_T" POST /api/v1/devices '{"mac":"not-a-mac","tenant":"acme","layout":"yealink"}'
is "$st:$(jf "d['error']['field']")" "422:mac" "not a MAC: 422 naming mac"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink","colour":"red"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:unknown_field colour" "an unknown field: 400 naming it"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":7}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:wrong_type layout" "a wrong type: 400 naming it"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000002","layout":"yealink"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:missing_field tenant" "no tenant: 400 naming it"
api "$ROOT_T" POST /api/v1/devices "{\"mac\":\"0004f2000002\",\"tenant\":\"acme\",\"layout\":\"yealink\",\"label\":\"$(head -c 600 /dev/zero | tr '\0' x)\"}"
is "$st:$(jf "d['error']['field']")" "422:label" "an over-long label: 422 naming label"
head -c 1100000 /dev/zero | tr '\0' ' ' > "$T/big.json"
api "$ROOT_T" POST /api/v1/devices "@$T/big.json"
is "$st:$(jf "d['error']['code']")" "413:too_large" "an oversized body: 413"
api "$RO_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink"}'
is "$st" 403 "read-only cannot create"
api "$OLD_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink"}'
is "$st" 401 "a revoked token cannot create"
api "$OTHER_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"acme","layout":"yealink"}'
is "$st:$(jf "d['error']['code']")" "404:not_found" "another tenant's token creating in acme: 404"
o404=$(printf '%s' "$body" | sed 's/acme/X/')
api "$OTHER_T" POST /api/v1/devices '{"mac":"0004f2000002","tenant":"nosuch","layout":"yealink"}'
is "$(printf '%s' "$body" | sed 's/nosuch/X/')" "$o404" "the same answer as for a tenant that does not exist"
same_db "refused device creates"

# ---- PATCH, If-Match, scope ----
api "$ROOT_T" GET /api/v1/devices/0004f2000001
E1=$(etag)
api "$ROOT_T" PATCH /api/v1/devices/0004f2000001 '{"label":"Lobby","overrides":{"port":""}}' -H "If-Match: $E1"
is "$st:$(jf "d['label'] + ' ' + str(d['overrides'])")" "200:Lobby {}" "PATCH with the current ETag: label set, override removed"
E2=$(etag)
unlike "$E2" "^$E1\$" "a new ETag"
is "$(sql "select count(*) from audit_log where action = 'device set' and object = '0004f2000001' and actor = 'root'")" 1 \
	"audited once under the token's name"
dump before
api "$OP_T" PATCH /api/v1/devices/0004f2000001 '{"label":"Stale"}' -H "If-Match: $E1"
is "$st:$(jf "d['error']['code']")" "412:precondition_failed" "PATCH with a stale ETag: 412"
api "$ROOT_T" PATCH /api/v1/devices/0004f2000001 '{"tenant":"other"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:unknown_field tenant" "the tenant is not PATCHed (tenant move is)"
api "$ROOT_T" PATCH /api/v1/devices/0004f2000001 '{"layout":"nosuch"}'
is "$st:$(jf "d['error']['field']")" "422:layout" "PATCH to an unknown layout: 422"
api "$RO_T" PATCH /api/v1/devices/0004f2000001 '{"label":"x"}'
is "$st" 403 "read-only cannot PATCH"
api "$OTHER_T" PATCH /api/v1/devices/0004f2000001 '{"label":"x"}'
is "$st" 404 "another tenant's token PATCHing: 404"
od404=$(printf '%s' "$body" | sed 's/0004f2000001/X/')
api "$OTHER_T" PATCH /api/v1/devices/0004f2000077 '{"label":"x"}'
is "$(printf '%s' "$body" | sed 's/0004f2000077/X/')" "$od404" "the same answer as for no such device"
api "$OTHER_T" DELETE /api/v1/devices/0004f2000001
is "$st" 404 "another tenant's token deleting: 404"
api "$OTHER_T" POST /api/v1/devices/0004f2000001/credentials
is "$st" 404 "another tenant's token rotating credentials: 404"
api "$RO_T" POST /api/v1/devices/0004f2000001/credentials
is "$st" 403 "read-only cannot rotate credentials"
api "$ROOT_T" DELETE /api/v1/devices/0004f2000001 '' -H 'If-Match: "stale"'
is "$st" 412 "DELETE with a stale ETag: 412"
same_db "refused PATCH, DELETE and credentials"

# ---- HTTP credentials: shown once, good for a digest fetch ----
api "$OP_T" POST /api/v1/devices/0004f2000001/credentials
is "$st" 200 "an operator rotates the HTTP credentials"
USER=$(jf "d['username']") PASS=$(jf "d['password']")
is "$USER:$(jf "d['realm']")" "0004f2000001:sipprov" "username is the MAC, realm sipprov"
like "$PASS" '^[0-9a-f]{32}$' "a 128-bit password"
db_grep -q "$PASS"; ok $((! $?)) "the password is not in the database"
api "$ROOT_T" GET /api/v1/devices/0004f2000001
is "$(jf "d['http_credentials']")" True "the device now has credentials, never shown again"
unlike "$body" "$PASS" "no password in a read"
code=$(curl -s -o "$T/cfg" -w '%{http_code}' --digest -u "$USER:$PASS" "$URL/0004f2000001.cfg")
is "$code" 200 "the phone listener serves the config to a digest fetch with them"
code=$(curl -s -o /dev/null -w '%{http_code}' --digest -u "$USER:wrong" "$URL/0004f2000001.cfg")
is "$code" 401 "a wrong password is refused"

# ---- accounts ----
api "$ACME_T" POST /api/v1/devices/0004f2000001/accounts '{"line":1,"username":"201","auth_username":"a201xyz","password":"s3cret-201","display_name":"Desk"}'
is "$st" 201 "create an account: 201"
like "$hdr" 'Location: /api/v1/devices/0004f2000001/accounts/1' "Location of the line"
unlike "$body" 's3cret-201' "the password is not in the answer"
code=$(curl -s -o "$T/cfg" -w '%{http_code}' --digest -u "$USER:$PASS" "$URL/0004f2000001.cfg")
grep -q 's3cret-201' "$T/cfg"; ok $? "the phone's config carries the SIP password"
grep -q 'sip.acme.test' "$T/cfg"; ok $? "and the template's registrar"
api "$ROOT_T" POST "/api/v1/devices/$SOFT/accounts" '{"username":"202","auth_username":"a202xyz","password":"s3cret-202"}'
is "$st" 201 "an account on the softphone (line 1 by default)"
TURL=$(jf "d.get('token_url','')")
like "$TURL" '^http://127\.0\.0\.1:[0-9]+/s/[0-9a-f]{32}$' "its token URL, shown once"
tpath="/${TURL#http://*/}"
code=$(curl -s -o "$T/soft" -w '%{http_code}' "$URL$tpath")
is "$code" 200 "the token URL fetches the softphone's config"
grep -q 's3cret-202' "$T/soft"; ok $? "with its SIP password"
api "$ROOT_T" GET "/api/v1/devices/$SOFT/accounts/1"
unlike "$body" 'token_url' "a read never shows the token URL again"
A1=$(etag)

# The softphone's fetch is the last one above.
fetches_recorded "select count(*) from device join device_fetch on device_id = id where mac = '$SOFT' and fetched_at > 0" 1
dump before
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":1,"username":"203","auth_username":"a203xyz","password":"p"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "409:exists line" "a line already taken: 409 naming line"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":2,"username":"sip:204@x","auth_username":"a204xyz","password":"p"}'
is "$st:$(jf "d['error']['field']")" "422:username" "a SIP URI as username: 422 naming username"
cli_err=$(sp account add 0004f2000001 --line 2 --username 'sip:204@x' --auth-username a204xyz --password p 2>&1)
is "error: $(jf "d['error']['message']")" "$cli_err" "the API's message is the CLI's, word for word"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":2,"username":"a201xyz","auth_username":"201","password":"p"}'
is "$st:$(jf "d['error']['field']")" "422:auth_username" "names swapped with another account's: 422"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":17,"username":"205","auth_username":"a205xyz","password":"p"}'
is "$st:$(jf "d['error']['field']")" "422:line" "line 17: 422 naming line"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":2,"username":"205","password":"p"}'
is "$st:$(jf "d['error']['field']")" "400:auth_username" "no auth_username: 400 naming it"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":"2","username":"205","auth_username":"a205xyz","password":"p"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:wrong_type line" "line as a string: 400"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/accounts '{"line":2,"username":"205","auth_username":"a205xyz","password":"p","secret":1}'
is "$st:$(jf "d['error']['field']")" "400:secret" "an unknown field: 400 naming it"
api "$RO_T" POST /api/v1/devices/0004f2000001/accounts '{"line":2,"username":"205","auth_username":"a205xyz","password":"p"}'
is "$st" 403 "read-only cannot add an account"
api "$OTHER_T" GET /api/v1/devices/0004f2000001/accounts
is "$st" 404 "another tenant's token listing accounts: 404"
api "$OTHER_T" PATCH /api/v1/devices/0004f2000001/accounts/1 '{"display_name":"x"}'
is "$st" 404 "another tenant's token PATCHing an account: 404"
api "$OTHER_T" POST /api/v1/devices/0004f2000001/accounts/1/token
is "$st" 404 "another tenant's token rotating an account token: 404"
api "$ROOT_T" PATCH "/api/v1/devices/$SOFT/accounts/1" '{"display_name":"x"}' -H 'If-Match: "stale"'
is "$st" 412 "PATCH an account with a stale ETag: 412"
api "$ROOT_T" GET /api/v1/devices/0004f2000001/accounts/9
is "$st" 404 "a line that does not exist: 404"
same_db "refused account writes"

api "$ROOT_T" GET /api/v1/devices/0004f2000001/accounts
is "$(jf "' '.join(a['username'] for a in d['items'])")" 201 "list the device's accounts"
api "$ROOT_T" PATCH "/api/v1/devices/$SOFT/accounts/1" '{"display_name":"Soft","password":"n3w-pass"}' -H "If-Match: $A1"
is "$st:$(jf "d['display_name']")" "200:Soft" "PATCH an account with its ETag"
curl -s -o "$T/soft" "$URL$tpath"
grep -q 'n3w-pass' "$T/soft"; ok $? "the new password reaches the phone"
api "$ROOT_T" POST "/api/v1/devices/$SOFT/accounts/1/token"
is "$st:$(jf "d['token']")" "200:active" "rotate the token"
TURL2=$(jf "d['token_url']")
unlike "$TURL2" "^$TURL\$" "a new URL"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL$tpath")" 401 "the old URL no longer works"
tpath2="/${TURL2#http://*/}"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL$tpath2")" 200 "the new one does"
api "$ROOT_T" DELETE "/api/v1/devices/$SOFT/accounts/1/token"
is "$st:$(jf "d['token']")" "200:revoked" "revoke the token"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL$tpath2")" 401 "the revoked URL no longer works"
is "$(sql "select action from audit_log where actor = 'root' and action like 'account.%' order by id" | paste -sd' ')" \
	"account.add account.set account.token.rotate account.token.revoke" "every account write audited under the token's name"
api "$ACME_T" DELETE /api/v1/devices/0004f2000001/accounts/1
is "$st" 204 "delete an account: 204"
is "$(sp account list 0004f2000001 --json)" "[]" "the CLI sees it gone"

# ---- device delete ----
api "$ROOT_T" GET "/api/v1/devices/$SOFT"
api "$ACME_T" DELETE "/api/v1/devices/$SOFT" '' -H "If-Match: $(etag)"
is "$st" 204 "delete a device with its ETag: 204"
api "$ROOT_T" GET "/api/v1/devices/$SOFT"
is "$st" 404 "it is gone"
is "$(sql "select actor from audit_log where action = 'device rm' and object = '$SOFT'")" acme-admin "audited"
grep -q "$PASS\|s3cret\|n3w-pass" "$SIPPROVD_LOG" "$T/access.log"; ok $((! $?)) "no secret in any log"

# ---- SIGHUP: the admin listener reloads layouts as the phone listener does ----
stop_sipprovd
mkdir "$T/tpl"
cp "$ROOT"/templates/* "$T/tpl/"
start_sipprovd -o templates="$T/tpl"
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000055","tenant":"acme","layout":"deskphone"}'
is "$st:$(jf "d['error']['field']")" "422:layout" "a layout that is not there yet: 422"
# its own name and file names, so no route is answered twice
sed -e 's/^name: .*/name: deskphone/' -e 's/^\(route[a-z ]*: *\)/\1dp-/' "$ROOT/templates/yealink.cfg" > "$T/tpl/deskphone.cfg"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do grep -q 'reloaded configuration' "$SIPPROVD_LOG" && break; sleep 0.05; done
api "$ROOT_T" POST /api/v1/devices '{"mac":"0004f2000055","tenant":"acme","layout":"deskphone"}'
is "$st:$(jf "d.get('layout') or d['error']['message']")" "201:deskphone" "after SIGHUP the API knows the new layout"

openapi_valid
done_testing
