#!/bin/sh
# The admin API on its own listener (admin_listen), driven with curl:
# tokens (unknown, revoked, roles, tenant scope: another tenant's objects
# are 404, never 403), every error code as data naming the field, hostile
# bodies (deep nesting, invalid UTF-8, oversized by Content-Length and by
# chunks, wrong types, unknown fields) leaving the database byte for byte
# as it was, cursor pagination, ETag / If-Match, Location, the audit log's
# "who", failed tokens counted toward lockout, HTTPS, and every response
# body validated against openapi/sipprov-v1.json (tests/openapi_check.py).
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 python3 openssl
# Debian's python3 (python3-jsonschema), not whatever python3 is first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

sp init >/dev/null
sp tenant add acme >/dev/null
sp tenant add other >/dev/null
sp device add 0004f2000001 --tenant acme --layout yealink >/dev/null
sp device add 0004f2000002 --tenant acme --layout polycom >/dev/null
sp device add 0004f2000009 --tenant other --layout yealink >/dev/null
ROOT_T=$(sp api-token add root 2>/dev/null)
OP_T=$(sp api-token add ops --role operator 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
ACME_T=$(sp api-token add acme-admin --tenant acme 2>/dev/null)
ACMERO_T=$(sp api-token add acme-ro --tenant acme --role read-only 2>/dev/null)
OLD_T=$(sp api-token add old 2>/dev/null)
sp api-token revoke old >/dev/null
like "$ROOT_T" '^spk_[0-9a-f]{64}$' "api-token add prints the token once"
is "$(sql "select count(*) from api_token where lower(token_hash) like lower('%${ROOT_T#spk_}%')")" 0 \
	"the database holds no token, only its keyed hash"

start_sipprovd
LOG="$T/responses.tsv"
: > "$LOG"
i=0
api() { # api TOKEN METHOD PATH [BODY|@FILE] [curl args...]: $st, $body, $hdr
	tok=$1 m=$2 p=$3; shift 3
	b=""
	[ $# -gt 0 ] && { b=$1; shift; }
	i=$((i + 1))
	[ -n "$tok" ] && set -- "$@" -H "Authorization: Bearer $tok"
	[ -n "$b" ] && set -- "$@" -H 'Content-Type: application/json' --data-binary "$b"
	st=$(curl -s -o "$T/r$i.b" -D "$T/r$i.h" -w '%{http_code}' -X "$m" "$@" "$ADMIN_URL$p")
	body=$(cat "$T/r$i.b")
	hdr=$(tr -d '\r' < "$T/r$i.h")
	printf '%s\t%s\t%s\t%s\n' "$m" "$p" "$st" "$T/r$i.b" >> "$LOG"
}
dump() { sql_dump > "$T/$1.sql"; }
same_db() { dump after; cmp -s "$T/before.sql" "$T/after.sql"; ok $? "$1: nothing written"; }
jf() { printf '%s' "$body" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- tokens ----
api "" GET /api/v1/tenants
is "$st" 401 "no token: 401"
is "$(jf "d['error']['code']")" unauthorized "as data: error.code unauthorized"
like "$hdr" 'WWW-Authenticate: Bearer' "with a Bearer challenge"
api "spk_$(printf '%064d' 0)" GET /api/v1/tenants
is "$st" 401 "unknown token: 401"
api "$OLD_T" GET /api/v1/tenants
is "$st" 401 "revoked token: 401"
api "$ROOT_T" GET /api/v1/tenants
is "$st" 200 "admin token lists tenants"
is "$(jf "' '.join(t['slug'] for t in d['items'])")" "acme other" "every tenant, slug order"
curl -s "$URL/api/v1/tenants" -H "Authorization: Bearer $ROOT_T" -o "$T/phone.b" -w '%{http_code}' > "$T/phone.st"
is "$(cat "$T/phone.st")" 404 "the phone listener does not serve the API"

# ---- tenant scope: other tenants' objects are 404, never 403 ----
api "$ACME_T" GET /api/v1/tenants
is "$(jf "' '.join(t['slug'] for t in d['items'])")" acme "tenant token lists only its tenant"
api "$ACME_T" GET /api/v1/tenants/other
is "$st" 404 "tenant token: another tenant is 404"
other404=$(printf '%s' "$body" | sed 's/other/X/')
api "$ACME_T" GET /api/v1/tenants/nosuch
is "$(printf '%s' "$body" | sed 's/nosuch/X/')" "$other404" "the same answer as a tenant that does not exist"
api "$ACMERO_T" PATCH /api/v1/tenants/other '{"name":"x"}'
is "$st" 404 "read-only tenant token writing another tenant: 404, not 403"
api "$ACME_T" GET /api/v1/devices/00:04:f2:00:00:09
is "$st" 404 "tenant token: another tenant's device is 404"
d404=$(printf '%s' "$body" | sed 's/00:04:f2:00:00:09/X/')
api "$ACME_T" GET /api/v1/devices/00:04:f2:00:00:77
is "$(printf '%s' "$body" | sed 's/00:04:f2:00:00:77/X/')" "$d404" "the same answer as a device that does not exist"
api "$ACME_T" GET "/api/v1/devices"
is "$(jf "' '.join(x['mac'] for x in d['items'])")" "0004f2000001 0004f2000002" "tenant token lists only its devices"
api "$ACME_T" GET "/api/v1/devices?tenant=other"
is "$st" 404 "and filtering on another tenant is 404"
api "$ROOT_T" GET "/api/v1/devices?tenant=acme&layout=polycom"
is "$(jf "' '.join(x['mac'] for x in d['items'])")" "0004f2000002" "filters: tenant and layout"
api "$ROOT_T" GET /api/v1/devices/0004F2000001
is "$st" 200 "a device by MAC, any spelling"
like "$hdr" 'ETag: "[0-9a-f]{64}"' "with an ETag"

# ---- device enable / disable: roles, scope, If-Match, audit ----
dump before
api "$RO_T" POST /api/v1/devices/0004f2000001/disable
is "$st" 403 "read-only cannot disable a device"
api "$ACME_T" POST /api/v1/devices/0004f2000009/disable
is "$st" 404 "a tenant token cannot disable another tenant's device: 404"
api "$ROOT_T" POST /api/v1/devices/0004f2000001/disable "" -H 'If-Match: "stale"'
is "$st:$(jf "d['error']['code']")" "412:precondition_failed" "disable with a stale ETag: 412"
api "$ROOT_T" POST /api/v1/devices/00:04:f2:00:00:01XXXXXXXX/disable
is "$st" 404 "an over-long MAC is not truncated into a real one: 404"
same_db "refused device writes"
api "$ROOT_T" GET /api/v1/devices/0004f2000001
detag=$(printf '%s' "$hdr" | sed -n 's/^ETag: //p')
api "$OP_T" POST /api/v1/devices/0004f2000001/disable "" -H "If-Match: $detag"
is "$st:$(jf "d['status']")" "200:disabled" "an operator disables a device with its current ETag"
unlike "$(printf '%s' "$hdr" | sed -n 's/^ETag: //p')" "$detag" "and gets the new ETag"
is "$(sp device show 0004f2000001 --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" disabled \
	"the CLI sees it disabled"
is "$(sql "select actor from audit_log where action = 'device disable' and object = '0004f2000001'")" ops \
	"audited under the token's name"
api "$ACME_T" POST /api/v1/devices/0004f2000001/enable
is "$st:$(jf "d['status']")" "200:active" "a tenant token enables its own device"

# ---- roles ----
dump before
api "$RO_T" PATCH /api/v1/tenants/acme '{"name":"ACME"}'
is "$st:$(jf "d['error']['code']")" "403:forbidden" "read-only cannot write"
api "$OP_T" PATCH /api/v1/tenants/acme '{"device_auth":"none"}'
is "$st" 403 "operator cannot change tenant policy"
api "$OP_T" POST /api/v1/tenants '{"slug":"opco"}'
is "$st" 403 "operator cannot create tenants"
api "$ACME_T" POST /api/v1/tenants '{"slug":"mine"}'
is "$st" 403 "a tenant token cannot create tenants"
same_db "refused writes"

# ---- create, conflict, validation ----
api "$ROOT_T" POST /api/v1/tenants '{"slug":"beta","name":"Beta Ltd","device_auth":"token,digest","allow":"192.0.2.0/24","max_per_user":3,"defaults":{"registrar":"sip.beta.test"}}'
is "$st" 201 "create a tenant: 201"
like "$hdr" 'Location: /api/v1/tenants/beta' "Location of the new tenant"
is "$(jf "d['device_auth'] + ' ' + d['defaults']['registrar']")" "digest,token sip.beta.test" "stored canonical, as the CLI stores it"
is "$(sp tenant show beta --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["name"])')" "Beta Ltd" "the CLI sees it"
is "$(sql "select actor from audit_log where action = 'tenant add' and object = 'beta'")" root \
	"the audit log's who is the token's name"
dump before
api "$ROOT_T" POST /api/v1/tenants '{"slug":"beta"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "409:exists slug" "an existing slug: 409 naming slug"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"Bad Slug"}'
is "$st:$(jf "d['error']['field']")" "422:slug" "an invalid slug: 422 naming slug"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","device_auth":"password"}'
is "$st:$(jf "d['error']['field']")" "422:device_auth" "an unknown auth mode: 422 naming device_auth"
like "$(jf "d['error']['message']")" "password" "the message names the value"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","allow":"10.0.0.0/33"}'
is "$st:$(jf "d['error']['field']")" "422:allow" "a bad CIDR: 422 naming allow"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","username_pattern":"(["}'
is "$st:$(jf "d['error']['field']")" "422:username_pattern" "a bad regular expression: 422 naming username_pattern"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","defaults":{"sip_port":"99999"}}'
is "$st:$(jf "d['error']['field']")" "422:defaults" "a bad default setting: 422 naming defaults"
api "$ROOT_T" POST /api/v1/tenants '{"name":"no slug"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:missing_field slug" "no slug: 400 naming it"

# ---- hostile bodies ----
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","colour":"red"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:unknown_field colour" "unknown field: 400 naming it"
like "$(jf "d['error']['message']")" "known: slug, name" "and listing the known ones"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","max_per_user":"5"}'
is "$st:$(jf "d['error']['code'] + ' ' + d['error']['field']")" "400:wrong_type max_per_user" "wrong type: 400 naming the field"
api "$ROOT_T" POST /api/v1/tenants '{"slug":["gamma"]}'
is "$st:$(jf "d['error']['field']")" "400:slug" "an array for a string: 400 naming slug"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma",'
is "$st:$(jf "d['error']['code']")" "400:bad_json" "malformed JSON: 400"
like "$(jf "d['error']['message']")" "line 1 column" "saying where"
api "$ROOT_T" POST /api/v1/tenants '[1,2]'
is "$st:$(jf "d['error']['code']")" "400:bad_json" "not an object: 400"
api "$ROOT_T" POST /api/v1/tenants '{"slug":"gamma","slug":"delta"}'
is "$st:$(jf "d['error']['code']")" "400:bad_json" "a duplicate key: 400"
printf '{"slug":"gam\377ma"}' > "$T/utf8.json"
api "$ROOT_T" POST /api/v1/tenants "@$T/utf8.json"
is "$st:$(jf "d['error']['code']")" "400:bad_json" "invalid UTF-8: 400"
printf '{"slug":"gam\\u0000ma"}' > "$T/nul.json"
api "$ROOT_T" POST /api/v1/tenants "@$T/nul.json"
is "$st" 400 "a NUL escaped in a string: 400"
"$PY" -c 'print("{\"slug\":\"gamma\",\"defaults\":" + "{\"a\":" * 5000 + "1" + "}" * 5001)' > "$T/deep.json"
api "$ROOT_T" POST /api/v1/tenants "@$T/deep.json"
is "$st:$(jf "d['error']['code']")" "400:too_deep" "5000 levels of nesting: 400 too_deep"
head -c 2000000 /dev/zero | tr '\0' ' ' > "$T/big.json"
api "$ROOT_T" POST /api/v1/tenants "@$T/big.json"
is "$st:$(jf "d['error']['code']")" "413:too_large" "a 2 MB body: 413, refused on its Content-Length"
api "$ROOT_T" POST /api/v1/tenants "@$T/big.json" -H 'Transfer-Encoding: chunked'
is "$st:$(jf "d['error']['code']")" "413:too_large" "the same sent in chunks: 413, never buffered past the cap"
api "$ROOT_T" POST /api/v1/tenants ''
is "$st:$(jf "d['error']['code']")" "400:bad_json" "an empty body: 400"
same_db "every refused create and hostile body"

# ---- ETag / If-Match, update, suspend, resume ----
api "$ROOT_T" GET /api/v1/tenants/beta
etag=$(printf '%s' "$hdr" | sed -n 's/^ETag: //p')
like "$etag" '^"[0-9a-f]{64}"$' "GET tenant: ETag"
api "$ROOT_T" PATCH /api/v1/tenants/beta '{"name":"Beta One"}' -H "If-Match: $etag"
is "$st:$(jf "d['name']")" "200:Beta One" "PATCH with the current ETag: 200"
dump before
api "$ROOT_T" PATCH /api/v1/tenants/beta '{"name":"Beta Two"}' -H "If-Match: $etag"
is "$st:$(jf "d['error']['code']")" "412:precondition_failed" "PATCH with a stale ETag: 412"
api "$ROOT_T" PATCH /api/v1/tenants/beta '{"default_template":"nosuch"}'
is "$st:$(jf "d['error']['field']")" "422:default_template" "a default template that does not exist: 422 naming it"
api "$ROOT_T" PATCH /api/v1/tenants/beta '{"slug":"gamma"}'
is "$st:$(jf "d['error']['field']")" "400:slug" "the slug cannot change"
same_db "412 and refused updates"
api "$ACME_T" POST /api/v1/tenants/acme/suspend
is "$st:$(jf "d['status']")" "200:suspended" "a tenant admin token suspends its tenant"
is "$(sp tenant show acme --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" suspended "the CLI sees it"
is "$(sql "select actor from audit_log where action = 'tenant suspend' and object = 'acme'")" acme-admin \
	"audited under the token's name"
api "$ACME_T" POST /api/v1/tenants/acme/resume
is "$st:$(jf "d['status']")" "200:active" "and resumes it"
api "$ROOT_T" DELETE /api/v1/tenants/acme
is "$st" 405 "a method the resource does not have: 405"
api "$ROOT_T" GET /api/v1/nothing
is "$st:$(jf "d['error']['code']")" "404:not_found" "an unknown resource: 404"

# ---- cursor pagination ----
for s in t1 t2 t3 t4 t5; do sp tenant add $s >/dev/null; done
seen="" cur="" pages=0
while :; do
	api "$ROOT_T" GET "/api/v1/tenants?limit=3${cur:+&cursor=$cur}"
	seen="$seen $(jf "' '.join(t['slug'] for t in d['items'])")"
	pages=$((pages + 1))
	cur=$(jf "d['next_cursor'] or ''")
	[ -z "$cur" ] || [ $pages -gt 5 ] && break
done
is "$seen" " acme beta other t1 t2 t3 t4 t5" "limit=3 pages walk every tenant once, in order"
is "$pages" 3 "in 3 pages"
api "$ROOT_T" GET "/api/v1/tenants?limit=0"
is "$st:$(jf "d['error']['field']")" "400:limit" "limit=0: 400 naming limit"
api "$ROOT_T" GET "/api/v1/tenants?status=suspended"
is "$(jf "len(d['items'])")" 0 "status filter"

# ---- the OpenAPI document ----
api "" GET /api/v1/openapi.json
is "$st" 200 "the OpenAPI document needs no token"
cmp -s "$T/r$i.b" "$ROOT/openapi/sipprov-v1.json"; ok $? "and is the file in the repository"
out=$("$PY" "$ROOT/tests/openapi_check.py" "$ROOT/openapi/sipprov-v1.json" "$LOG"); rc=$?
printf '%s\n' "$out"
ok $rc "every response body of this test validates against the OpenAPI document"

# ---- failed tokens count toward the lockout ----
stop_sipprovd
start_sipprovd -o fail_threshold=3
for n in 1 2 3; do api "spk_bad$n" GET /api/v1/tenants "" --interface 127.0.0.3; done
api "$ROOT_T" GET /api/v1/tenants "" --interface 127.0.0.3
is "$st:$(jf "d['error']['code']")" "429:locked_out" "3 bad tokens lock the address out, good token or not"
api "$ROOT_T" GET /api/v1/tenants "" --interface 127.0.0.1
is "$st" 200 "other addresses are not locked out"
grep -q 'lockout 127.0.0.3: too many failed admin API tokens' "$SIPPROVD_LOG"; ok $? "the lockout is logged"
grep -q "$ROOT_T\|${OP_T#spk_}" "$SIPPROVD_LOG" "$T/access.log"; ok $((! $?)) "no token in any log"
stop_sipprovd

# ---- HTTPS on the admin listener ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$T/a.key" -out "$T/a.pem" 2>/dev/null
start_sipprovd -o admin_tls_cert="$T/a.pem" -o admin_tls_key="$T/a.key"
like "$ADMIN_URL" '^https://' "admin_tls_cert and admin_tls_key: the admin listener speaks HTTPS"
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/a.pem" -H "Authorization: Bearer $ROOT_T" \
	"https://localhost:$ADMIN_PORT/api/v1/tenants/beta")
is "$st" 200 "and the API answers over it, the certificate verified"
stop_sipprovd
out=$("$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o admin_tls_cert="$T/a.pem" 2>&1); rc=$?
ok $((rc == 0)) "admin_tls_cert without admin_tls_key is refused (exit $rc)"
like "$out" "admin_tls_key" "naming the missing key"
done_testing
