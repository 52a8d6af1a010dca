#!/bin/sh
# An MSP's day through the admin API alone, against a running sipprovd:
# a tenant, its template and 500 phones (490 Yealink desk phones by MAC,
# 10 Linphone softphones by token URL) with their SIP accounts and
# generated HTTP credentials in three requests; then phones fetch on the
# phone listener with only what that answer carried (curl --digest; the
# token URL as given), a template change and its diff reach them, a pin,
# a rollback; then a tenant move (preview, apply), a reprovision job whose
# NOTIFYs reach sipp phones (Contacts from the registration webhook), drift
# and status.  Template, move, job, drift and status routes get their scope (another tenant's token:
# 404, the same answer as for nothing; read-only 403; revoked 401) and
# hostile-body checks.  Every response is validated against the OpenAPI
# document.  Prints the requests and wall time of the 500-phone setup.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/api_lib.sh"
need curl sqlite3 python3 sipp

sp init >/dev/null
sp tenant add rival >/dev/null
sp template set rival main registrar=sip.rival.test >/dev/null
ROOT_T=$(sp api-token add msp-psa 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
RIVAL_T=$(sp api-token add rival-admin --tenant rival 2>/dev/null)
OLD_T=$(sp api-token add old 2>/dev/null)
sp api-token revoke old >/dev/null
start_sipprovd -o api_token=msp-hook-1
day0=$(date +%s.%N)

"$PY" - "$T/import.json" <<'PYEOF'
import json, sys
devs = []
for n in range(500):
    soft = n >= 490
    devs.append({
        "mac": ("02%010x" if soft else "0004f2%06x") % (0xa000 + n),
        "layout": "linphone" if soft else "yealink",
        "label": "Phone %d" % n,
        "accounts": [{"line": 1, "username": str(1000 + n), "auth_username": "u%04dx" % n,
                      "password": "sip-pw-%04d" % n, "display_name": "User %d" % n}],
    })
json.dump({"tenant": "msp", "generate_credentials": True, "devices": devs}, open(sys.argv[1], "w"))
PYEOF

# ---- the 500-phone setup: three requests ----
t0=$(date +%s.%N)
api "$ROOT_T" POST /api/v1/tenants '{"slug":"msp","name":"MSP Customer","device_auth":"digest,token"}'
s1=$st
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"registrar":"sip.msp.test","port":"5060","transport":"udp"},"comment":"day one"}'
s2=$st
api "$ROOT_T" POST /api/v1/import "@$T/import.json" -H 'Idempotency-Key: msp-day-1'
s3=$st
t1=$(date +%s.%N)
is "$s1 $s2 $s3" "201 201 200" "tenant, template, import of 500 phones: three requests"
cp "$T/r$i.b" "$T/answer.json"
wall=$("$PY" -c "print('%.2f' % ($t1 - $t0))")
diag "500-phone setup: 3 requests, ${wall}s wall time ($(wc -c < "$T/import.json") bytes of JSON in, $(wc -c < "$T/answer.json") out)"
is "$(jf "d['devices_new'], d['accounts_new'], len(d['devices'])")" "500 500 500" "500 devices and accounts, each in the answer"
is "$(jf "sum(1 for x in d['devices'] if len(x['http_credentials']['password']) == 32)")" 500 \
	"every device's HTTP password, once"
is "$(jf "sum(1 for x in d['devices'] for a in x['accounts'] if 'token_url' in a)")" 10 \
	"and a token URL for each softphone"
is "$(sp tenant show msp --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["default_template"])')" main \
	"the first template became the tenant's default"

fetch() { # fetch N FILE: phone N's config with only the answer's credentials
	m=$("$PY" -c "import json; print(json.load(open('$T/answer.json'))['devices'][$1]['mac'])")
	p=$("$PY" -c "import json; print(json.load(open('$T/answer.json'))['devices'][$1]['http_credentials']['password'])")
	curl -s -o "$2" -w '%{http_code}' --digest -u "$m:$p" "$URL/$m.cfg"
}
for n in 0 249 489; do
	is "$(fetch $n "$T/p$n.cfg")" 200 "desk phone $n fetches its config with digest credentials from the answer"
	grep -q "sip-pw-$(printf %04d $n)" "$T/p$n.cfg"; ok $? "with its SIP password"
done
grep -q 'sip.msp.test' "$T/p0.cfg"; ok $? "and the template's registrar"
TURL=$("$PY" -c "import json; print(json.load(open('$T/answer.json'))['devices'][499]['accounts'][0]['token_url'])")
is "$(curl -s -o "$T/soft.xml" -w '%{http_code}' "$TURL")" 200 "the last softphone fetches by its token URL"
grep -q 'sip-pw-0499' "$T/soft.xml"; ok $? "with its SIP password"
m0=$("$PY" -c "import json; print(json.load(open('$T/answer.json'))['devices'][0]['mac'])")
is "$(curl -s -o /dev/null -w '%{http_code}' --digest -u "$m0:$(printf '%032d' 0)" "$URL/$m0.cfg")" 401 \
	"a wrong password is refused"

# ---- template change, diff, pin, rollback ----
api "$ROOT_T" GET /api/v1/tenants/msp/templates/main
E1=$(etag)
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"registrar":"sip.msp.test","port":"5070","transport":"tcp"},"comment":"move to tcp"}' -H "If-Match: $E1"
is "$st:$(jf "d['version']"):$(jf "d['changed']")" "200:2:True" "a template change: version 2"
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"registrar":"x.msp.test"}}' -H "If-Match: $E1"
is "$st:$(jf "d['error']['code']")" "412:precondition_failed" "a change on a stale ETag: 412"
api "$ROOT_T" GET '/api/v1/tenants/msp/templates/main/diff?from=1&to=2'
is "$(jf "' '.join('%s:%s>%s' % (c['key'], c['old'], c['new']) for c in d['changes'])")" "port:5060>5070 transport:udp>tcp" \
	"the diff names each change"
is "$(sp template diff msp main 1 2 --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["changes"])')" \
	"$(jf "d['changes']")" "the same as the CLI's diff"
fetch 0 "$T/p0.cfg" >/dev/null
grep -q '5070' "$T/p0.cfg"; ok $? "the phone's next fetch carries the new port"
api "$ROOT_T" POST "/api/v1/devices/$m0/pin" '{"version":1}'
is "$st:$(jf "d['pinned_version']")" "200:1" "pin one phone to version 1"
fetch 0 "$T/p0.cfg" >/dev/null
grep -q '5070' "$T/p0.cfg"; ok $((! $?)) "it is served version 1 again"
api "$ROOT_T" POST "/api/v1/devices/$m0/unpin"
is "$st:$(jf "d['pinned_version']")" "200:0" "unpin it"
api "$ROOT_T" GET /api/v1/tenants/msp/templates/main/versions
is "$(jf "' '.join('%d%s' % (v['version'], '*' if v['current'] else '') for v in d['items'])")" "1 2*" "two versions, 2 current"
api "$ROOT_T" POST /api/v1/tenants/msp/templates/main/rollback '{"version":1}'
is "$st:$(jf "d['version']"):$(jf "d['settings']['port']"):$(jf "d['comment']")" "200:3:5060:rollback to v1" \
	"rollback to 1 writes version 3 with version 1's settings"
fetch 249 "$T/p249.cfg" >/dev/null
m249=$m
grep -q '5070' "$T/p249.cfg"; ok $((! $?)) "phones get the rolled-back settings"
api "$ROOT_T" GET /api/v1/tenants/msp/templates/main/versions/v2
is "$st:$(jf "d['settings']['transport']")" "200:tcp" "one old version by number"
api "$ROOT_T" GET /api/v1/tenants/msp/templates
is "$(jf "[(t['name'], t['version'], t['default']) for t in d['items']]")" "[('main', 3, True)]" "the template list"
is "$(sql "select action from audit_log where actor = 'msp-psa' and action like 'template.%' order by id" |
	paste -sd' ')" \
	"template.set template.set template.pin template.unpin template.rollback" "every template write audited under the token's name"

# ---- tenant move, a reprovision job to sipp phones, drift and status ----
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/branch '{"settings":{"registrar":"sip2.msp.test","port":"5060","transport":"udp"},"comment":"new site"}'
is "$st" 201 "a second template for the move"
# Phone 249's second fetch is the last one above.
fetches_recorded "select count(*) from fetch_log f join device d on d.id = f.device_id
	where d.mac = '$m249' and f.status = 200" 2
dump before
api "$ROOT_T" POST /api/v1/tenants/msp/move '{"template":"branch","dry_run":true}'
is "$st:$(jf "d['summary']['devices'], d['summary']['changing'], d['summary']['fields'].get('registrar'), d['devices_listed']")" \
	"200:500 500 500 100" "move preview: 500 devices change registrar, the first 100 listed"
is "$(jf "[c['after'] for c in d['devices'][0]['changes'] if c['field'] == 'registrar']")" "['sip2.msp.test']" \
	"per device: the registrar after the move"
same_db "the move preview"
api "$ROOT_T" POST /api/v1/tenants/msp/move '{"template":"branch"}'
is "$st:$(jf "d['dry_run'], d['summary']['devices']")" "200:False 500" "move applied"
is "$(sql "select count(*) from device where template = 'branch'")" 500 "every phone on the new template"
fetch 0 "$T/p0.cfg" >/dev/null
grep -q 'sip2.msp.test' "$T/p0.cfg"; ok $? "the next fetch carries the new registrar"

reg() { # reg N PORT LISTEN_PORT: phone N registers (webhook) with its Contact at LISTEN_PORT
	u=$((1000 + $1)); a=$(printf 'u%04dx' "$1")
	curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer msp-hook-1' -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"$u\",\"auth_username\":\"$a\",\"registrar\":\"sip2.msp.test\",\"port\":$2,\"transport\":\"udp\",\"code\":200,\"src_ip\":\"127.0.0.1\",\"expires\":300,\"contact\":\"<sip:$u@127.0.0.1:$3;transport=udp>\"}" \
		"$URL/api/v1/registrations"
}
pids=""
for n in 0 249 489; do
	pt=$(free_port)
	sipp -sf "$ROOT/tests/peers/notify_uas.xml" -i 127.0.0.1 -p "$pt" -t u1 -m 1 -nostdin -timeout 60s -timeout_error \
		-trace_logs -log_file "$T/sipp$n.log" >"$T/sipp$n.out" 2>&1 &
	track_pid $!; pids="$pids $!"
	port=5060; [ "$n" = 249 ] && port=5070     # phone 249 registers against other settings
	is "$(reg $n $port "$pt")" 202 "phone $n registers (webhook), Contact on a sipp phone"
done
sleep 0.5
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"msp","rate":200,"timeout":5}' -H 'Idempotency-Key: msp-day-notify'
is "$st" 202 "a reprovision job: 202"
JOB=$(jf "d['id']")
for _ in $(seq 1 300); do
	api "$ROOT_T" GET "/api/v1/jobs/$JOB?limit=500"
	[ "$(jf "d['status']")" = done ] && break
	sleep 0.1
done
is "$(jf "d['status'], d['counts'].get('200'), d['counts'].get('no_contact'), d['counts']['total']")" "done 3 497 500" \
	"polled to done: the three registered phones answered 200, the 497 never registered have no contact"
is "$(jf "sorted(i['mac'] for i in d['items'] if i['result'] == '200')")" "$("$PY" -c "import json; a=json.load(open('$T/answer.json'))['devices']; print(sorted(a[n]['mac'] for n in (0, 249, 489)))")" \
	"the 200s are those three phones"
k=0
for p in $pids; do wait "$p"; [ $? -eq 0 ] && k=$((k + 1)); done
is "$k" 3 "each sipp phone answered one NOTIFY"
grep -q 'Event=|check-sync;reboot=false|' "$T/sipp249.log"; ok $? "with the Yealink event"

m249=$("$PY" -c "import json; print(json.load(open('$T/answer.json'))['devices'][249]['mac'])")
api "$ROOT_T" GET '/api/v1/drift?tenant=msp&kind=port&state=open'
is "$st:$(jf "[(e['mac'], e['expected'], e['observed']) for e in d['items']]")" "200:[('$m249', '5060', '5070')]" \
	"drift: phone 249 registered on 5070, its config says 5060"
api "$ROOT_T" GET "/api/v1/status?tenant=msp&limit=500"
is "$(jf "d['summary']['devices'], len(d['items'])")" "500 500" "status: all 500 phones"
is "$(jf "[(x['open_drift'] > 0, x['last_registration']['port']) for x in d['items'] if x['mac'] == '$m249']")" "[(True, 5070)]" \
	"phone 249: open drift, last registered on 5070"
is "$(jf "d['items']")" "$(sp status --tenant msp --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin))')" \
	"the same records as 'sipprov status --json'"

# ---- scope and roles on template routes ----
dump before
for r in "GET /api/v1/tenants/msp/templates" "GET /api/v1/tenants/msp/templates/main" \
	"GET /api/v1/tenants/msp/templates/main/versions" "GET /api/v1/tenants/msp/templates/main/diff?from=1&to=2"; do
	api "$RIVAL_T" $r
	is "$st" 404 "another tenant's token: $r is 404"
done
api "$RIVAL_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"port":"1"}}'
is "$st" 404 "another tenant's token cannot PUT a template: 404"
x404=$(printf '%s' "$body" | sed 's/msp/X/')
api "$RIVAL_T" PUT /api/v1/tenants/nosuch/templates/main '{"settings":{"port":"1"}}'
is "$(printf '%s' "$body" | sed 's/nosuch/X/')" "$x404" "the same answer as for no such tenant"
api "$RIVAL_T" POST /api/v1/tenants/msp/templates/main/rollback '{"version":1}'
is "$st" 404 "another tenant's token cannot roll back: 404"
api "$RIVAL_T" POST "/api/v1/devices/$m0/pin" '{"version":1}'
is "$st" 404 "another tenant's token cannot pin: 404"
api "$RIVAL_T" GET /api/v1/tenants/rival/templates/main
is "$st" 200 "but reads its own"
api "$RO_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"port":"1"}}'
is "$st" 403 "read-only cannot PUT a template"
api "$RO_T" POST /api/v1/tenants/msp/templates/main/rollback '{"version":1}'
is "$st" 403 "read-only cannot roll back"
api "$RO_T" POST "/api/v1/devices/$m0/pin" '{"version":1}'
is "$st" 403 "read-only cannot pin"
api "$OLD_T" GET /api/v1/tenants/msp/templates
is "$st" 401 "a revoked token: 401"
api "$RIVAL_T" POST /api/v1/tenants/msp/move '{"template":"main","dry_run":true}'
is "$st" 404 "another tenant's token cannot move msp: 404"
api "$RIVAL_T" GET "/api/v1/jobs/$JOB"
is "$st" 404 "nor see its job"
api "$RIVAL_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"msp"}'
is "$st" 404 "nor start one"
api "$RIVAL_T" GET '/api/v1/drift?tenant=msp'
is "$st" 404 "nor read its drift"
api "$RIVAL_T" GET /api/v1/status
is "$(jf "d['summary']['devices']")" 0 "and its status shows none of msp's phones"
api "$RO_T" POST /api/v1/tenants/msp/move '{"template":"main"}'
is "$st" 403 "read-only cannot move"
api "$RO_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"msp"}'
is "$st" 403 "read-only cannot start a job"
api "$RO_T" GET "/api/v1/jobs/$JOB"
is "$st" 200 "but reads it"
for r in "GET /api/v1/jobs" "GET /api/v1/drift" "GET /api/v1/status"; do
	api "$OLD_T" $r
	is "$st" 401 "a revoked token: $r is 401"
done

# ---- hostile bodies ----
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"port":"99999"}}'
is "$st:$(jf "d['error']['field']")" "422:settings" "an out-of-range port: 422 naming settings"
cli=$(sp template set msp main port=99999 2>&1)
is "$cli" "error: $(jf "d['error']['message']")" "the CLI's message, word for word"
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"transport":"tls","port":"5060"}}'
is "$st:$(jf "d['error']['field']")" "422:settings" "a transport/port contradiction: 422"
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{"port":5060}}'
is "$st:$(jf "d['error']['code']")" "400:wrong_type" "a number for a setting: 400"
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"settings":{},"colour":"red"}'
is "$st:$(jf "d['error']['field']")" "400:colour" "an unknown field: 400 naming it"
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main '{"comment":"no settings"}'
is "$st:$(jf "d['error']['field']")" "400:settings" "no settings: 400 naming it"
api "$ROOT_T" PUT '/api/v1/tenants/msp/templates/Bad%20Name' '{"settings":{}}'
is "$st:$(jf "d['error']['field']")" "422:name" "a bad template name: 422"
api "$ROOT_T" POST /api/v1/tenants/msp/templates/main/rollback '{"version":9}'
is "$st" 404 "rollback to a version that does not exist: 404"
api "$ROOT_T" POST /api/v1/tenants/msp/templates/main/rollback '{"version":"1"}'
is "$st:$(jf "d['error']['code']")" "400:wrong_type" "a version as a string: 400"
api "$ROOT_T" GET '/api/v1/tenants/msp/templates/main/diff?from=1&to=x'
is "$st:$(jf "d['error']['field']")" "400:to" "a diff to no version number: 400 naming to"
api "$ROOT_T" POST "/api/v1/devices/$m0/pin" '{"version":7}'
is "$st:$(jf "d['error']['field']")" "422:version" "pin to a version that does not exist: 422"
head -c 1100000 /dev/zero | tr '\0' ' ' > "$T/big.json"
api "$ROOT_T" PUT /api/v1/tenants/msp/templates/main "@$T/big.json"
is "$st" 413 "an oversized body: 413"
api "$ROOT_T" POST /api/v1/tenants/msp/move '{"template":"main","when":"now"}'
is "$st:$(jf "d['error']['field']")" "400:when" "move: an unknown field named"
api "$ROOT_T" POST /api/v1/tenants/msp/move '{"template":7}'
is "$st:$(jf "d['error']['code']")" "400:wrong_type" "move: a number for the template: 400"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"msp","drifted":"yes"}'
is "$st:$(jf "d['error']['field']")" "400:drifted" "job: drifted as a string: 400"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"msp"}' -H 'Idempotency-Key: msp-day-notify'
is "$st:$(jf "d['error']['code']")" "409:conflict" "job: a used Idempotency-Key with another body: 409"
api "$ROOT_T" POST /api/v1/jobs "@$T/big.json"
is "$st" 413 "job: an oversized body: 413"
same_db "refused template writes"
grep -q 'sip-pw-\|http_credentials' "$SIPPROVD_LOG" "$T/access.log"; ok $((! $?)) "no secret in any log"

day1=$(date +%s.%N)
diag "the MSP's day: $i API requests, $("$PY" -c "print('%.1f' % ($day1 - $day0))")s wall time"
openapi_valid
done_testing
