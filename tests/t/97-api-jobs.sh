#!/bin/sh
# The admin API's tenant move and reprovision jobs against a running
# sipprovd: the move's preview and refusal say what `sipprov tenant move`
# says and write nothing, the apply moves every device; a reprovision job
# (202 + Location) is run by the daemon's worker thread and its NOTIFYs
# reach sipp phones on loopback (contacts from the registration webhook);
# GET shows queued/running/done, counts and paged items; resume retries
# only what did not get a 200; Idempotency-Key replays the same job; a job
# queued while one runs waits; SIGTERM stops a running job at once and the
# next start resumes it.  Scope, roles, hostile bodies; OpenAPI-validated.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/api_lib.sh"
need curl sqlite3 python3 sipp

P=$ROOT/tests/peers
sp init >/dev/null
sp tenant add acme >/dev/null
sp tenant add rival >/dev/null
sp template set acme main registrar=sip.acme.test server=sip.acme.test port=5060 transport=udp >/dev/null
sp template set acme new registrar=new.acme.test server=new.acme.test port=5061 transport=tls >/dev/null
sp --force template set acme bad registrar=new.acme.test server=new.acme.test port=5061 transport=udp >/dev/null 2>&1
sp template set rival main registrar=sip.rival.test >/dev/null
printf 'mac,layout,template,line,username,auth_username,password\n' > "$T/d.csv"
for n in 1 2 3 4; do printf '00156500000%d,yealink,main,1,user%d,auth%d,pw%d\n' $n $n $n $n >> "$T/d.csv"; done
sp import "$T/d.csv" --tenant acme >/dev/null || bail "import failed"
printf 'mac,layout,line,username,auth_username,password\n001565000099,yealink,1,r1,ra1,rpw1\n' > "$T/r.csv"
sp import "$T/r.csv" --tenant rival >/dev/null || bail "rival import failed"
ROOT_T=$(sp api-token add msp 2>/dev/null)
OP_T=$(sp api-token add ops --role operator 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
ACME_T=$(sp api-token add acme-admin --tenant acme 2>/dev/null)
RIVAL_T=$(sp api-token add rival-admin --tenant rival 2>/dev/null)
OLD_T=$(sp api-token add old 2>/dev/null)
sp api-token revoke old >/dev/null
start_sipprovd -o api_token=hook-token-1

# ---- tenant move: preview ----
dump before
api "$ROOT_T" POST /api/v1/tenants/acme/move '{"template":"new","dry_run":true}'
is "$st:$(jf "d['summary']['devices'], d['summary']['changing'], d['summary']['errors']")" "200:4 4 0" \
	"a preview: 4 devices, 4 changing"
cli=$(sp tenant move acme --template new --dry-run --json)
is "$(jf "sorted(d['summary']['fields'].items())")" \
	"$(printf '%s' "$cli" | "$PY" -c 'import json,sys; print(sorted(json.load(sys.stdin)["summary"]["fields"].items()))')" \
	"the same per-field counts as the CLI's preview"
is "$(jf "d['devices'][0]['mac'], [c['field'] + ':' + c['before'] + '>' + c['after'] for c in d['devices'][0]['changes'] if c['field'] in ('port', 'transport')]")" \
	"001565000001 ['port:5060>5061', 'transport:udp>tls']" "per device: each field before and after"
api "$ROOT_T" POST '/api/v1/tenants/acme/move?limit=2' '{"template":"new","dry_run":true}'
is "$(jf "len(d['devices']), d['devices_listed'], d['summary']['devices']")" "2 2 4" \
	"?limit=2 lists two devices; the summary counts all four"
same_db "the preview"

# ---- tenant move: refusals write nothing ----
api "$ROOT_T" POST /api/v1/tenants/acme/move '{"template":"bad"}'
is "$st:$(jf "d['error']['field'], len(d['errors'])")" "422:template 4" "a template giving invalid configs: 422, every device's error"
cli=$(sp tenant move acme --template bad 2>&1 >/dev/null)
is "error: $(jf "d['error']['message']")" "$(printf '%s\n' "$cli" | tail -1)" "the CLI's summary message, word for word"
is "error: $(jf "d['errors'][0]['message']")" "$(printf '%s\n' "$cli" | head -1)" "and its first device message"
api "$ROOT_T" POST /api/v1/tenants/acme/move '{"template":"nosuch"}'
is "$st:$(jf "d['error']['field']")" "422:template" "an unknown template: 422 naming template"
is "error: $(jf "d['error']['message']")" "$(sp tenant move acme --template nosuch 2>&1)" "with the CLI's words"
api "$ROOT_T" POST /api/v1/tenants/acme/move '{"template":"new","colour":"red"}'
is "$st:$(jf "d['error']['field']")" "400:colour" "an unknown field: 400 naming it"
api "$ROOT_T" POST /api/v1/tenants/acme/move '{"template":"new","dry_run":"yes"}'
is "$st:$(jf "d['error']['code'], d['error']['field']")" "400:wrong_type dry_run" "dry_run as a string: 400"
api "$ROOT_T" POST /api/v1/tenants/acme/move '{"dry_run":true}'
is "$st:$(jf "d['error']['field']")" "400:template" "no template: 400 naming it"
api "$ROOT_T" POST /api/v1/tenants/acme/move '[1,2]'
is "$st:$(jf "d['error']['code']")" "400:bad_json" "not an object: 400"
api "$ROOT_T" GET /api/v1/tenants/acme/move
is "$st" 405 "GET on move: 405"
api "$RIVAL_T" POST /api/v1/tenants/acme/move '{"template":"new"}'
is "$st" 404 "another tenant's token: 404"
x404=$(printf '%s' "$body" | sed 's/acme/X/')
api "$RIVAL_T" POST /api/v1/tenants/nosuch/move '{"template":"new"}'
is "$(printf '%s' "$body" | sed 's/nosuch/X/')" "$x404" "the same answer as for no such tenant"
api "$RO_T" POST /api/v1/tenants/acme/move '{"template":"new","dry_run":true}'
is "$st" 403 "read-only may not move (not even a preview: it is a POST)"
api "$OLD_T" POST /api/v1/tenants/acme/move '{"template":"new"}'
is "$st" 401 "a revoked token: 401"
same_db "refused moves"

# ---- tenant move: apply (an operator may) ----
sp template pin 001565000002 1 >/dev/null
api "$OP_T" POST /api/v1/tenants/acme/move '{"template":"new"}'
is "$st:$(jf "d['dry_run'], d['summary']['devices']")" "200:False 4" "an operator applies the move"
is "$(sql "select template || ':' || pinned_version from device d join tenant t on t.id = d.tenant_id
	where t.slug = 'acme' order by mac" | paste -sd' ')" \
	"new:0 new:0 new:0 new:0" "every device on the new template, pins dropped"
is "$(sql "select actor || ' ' || detail from audit_log where action = 'tenant move'")" \
	"ops template=new devices=4 changing=4" "one audit entry under the token's name"
like "$(sp render 001565000001)" 'new.acme.test' "render follows the move"
api "$OP_T" POST /api/v1/tenants/acme/move '{"template":"main"}'
is "$st:$(jf "d['summary']['changing']")" "200:4" "and back"

# ---- reprovision jobs ----
# reg N PORT: the registration webhook reports device N registered with a
# Contact at 127.0.0.1:PORT (as Kamailio's event route would).
reg() {
	curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer hook-token-1' -H 'Content-Type: application/json' \
		--data-binary "{\"username\":\"user$1\",\"auth_username\":\"auth$1\",\"registrar\":\"sip.acme.test\",\"port\":5060,\"transport\":\"udp\",\"code\":200,\"src_ip\":\"127.0.0.1\",\"expires\":300,\"contact\":\"<sip:user$1@127.0.0.1:$2;transport=udp>\"}" \
		"$URL/api/v1/registrations"
}
sipp_phone() { # sipp_phone SCENARIO PORT NAME: sets $SIPP_PID
	sipp -sf "$P/$1" -i 127.0.0.1 -p "$2" -t u1 -m 1 -nostdin -timeout 60s -timeout_error \
		-trace_logs -log_file "$T/$3.log" -trace_msg -message_file "$T/$3.msg" >"$T/$3.out" 2>&1 &
	SIPP_PID=$!
	track_pid "$SIPP_PID"
}
poll_done() { # poll_done ID: GET the job until done (30 s at most)
	for _ in $(seq 1 300); do
		api "$1" GET "/api/v1/jobs/$2"
		[ "$(jf "d.get('status')")" = done ] && return 0
		sleep 0.1
	done
	return 1
}
P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
for n in 1 2 3; do eval "is \"\$(reg $n \$P$n)\" 202 \"phone $n registers (webhook) with its Contact\""; done
sipp_phone notify_uas.xml "$P1" ph1; s1=$SIPP_PID
sipp_phone notify_uas.xml "$P2" ph2; s2=$SIPP_PID
sleep 0.5

dump before
api "$RO_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme"}'
is "$st" 403 "read-only may not create a job"
api "$RIVAL_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme"}'
is "$st" 404 "another tenant's token cannot target acme: 404"
api "$RIVAL_T" POST /api/v1/jobs '{"kind":"reprovision","device":"001565000001"}'
is "$st" 404 "nor one of its devices"
api "$OLD_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme"}'
is "$st" 401 "a revoked token: 401"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"wipe","tenant":"acme"}'
is "$st:$(jf "d['error']['field']")" "422:kind" "an unknown kind: 422 naming kind"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","rate":"5"}'
is "$st:$(jf "d['error']['code'], d['error']['field']")" "400:wrong_type rate" "rate as a string: 400"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","rate":0}'
is "$st:$(jf "d['error']['field']")" "422:rate" "rate 0: 422"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","timeout":99999}'
is "$st:$(jf "d['error']['field']")" "422:timeout" "timeout out of range: 422"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","device":"001565000001"}'
is "$st" 422 "two targets: 422"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision"}'
is "$st" 422 "no target: 422"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","when":"now"}'
is "$st:$(jf "d['error']['field']")" "400:when" "an unknown field: 400 naming it"
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme"}' -H 'Idempotency-Key;'
is "$st:$(jf "d['error']['field']")" "400:Idempotency-Key" "an empty Idempotency-Key: 400"
same_db "refused job requests"

# Devices 1, 2 answer; 3 has a Contact where no phone listens yet; 4 never registered.
api "$ACME_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","rate":20,"timeout":2}' -H 'Idempotency-Key: day-1'
is "$st" 202 "a tenant's own token queues a job: 202"
JOB=$(jf "d['id']")
like "$(printf '%s' "$hdr" | sed -n 's/^Location: //p')" "^/api/v1/jobs/$JOB\$" "Location names it"
like "$(jf "d['status']")" '^(queued|running|done)$' "its status is queued, running or done"
api "$ACME_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","rate":20,"timeout":2}' -H 'Idempotency-Key: day-1'
is "$st:$(jf "d['id']")" "202:$JOB" "a retry with the same Idempotency-Key: the same job"
api "$ACME_T" POST /api/v1/jobs '{"kind":"reprovision","tenant":"acme","rate":21}' -H 'Idempotency-Key: day-1'
is "$st:$(jf "d['error']['field']")" "409:Idempotency-Key" "the key with another body: 409"
is "$(sql 'select count(*) from job')" 1 "one job row"
poll_done "$ACME_T" "$JOB"; ok $? "the job reaches done"
is "$(jf "sorted(d['counts'].items())")" "[('200', 2), ('no_contact', 1), ('timeout', 1), ('total', 4)]" \
	"counts: 200 from both phones, a timeout, no contact"
is "$(jf "[(i['mac'], i['result']) for i in d['items']]")" \
	"[('001565000001', '200'), ('001565000002', '200'), ('001565000003', 'timeout'), ('001565000004', 'no_contact')]" \
	"the items by MAC"
for n in 1 2; do
	eval "wait \$s$n"; is "$?" 0 "sipp phone $n answered one NOTIFY"
	like "$(cat "$T/ph$n.log")" 'Event=\|check-sync;reboot=false\|' "phone $n got Event: check-sync;reboot=false"
done
api "$ACME_T" GET "/api/v1/jobs/$JOB?limit=3"
is "$(jf "len(d['items']), d['next_cursor']")" "3 001565000003" "items paged: 3, then a cursor"
api "$ACME_T" GET "/api/v1/jobs/$JOB?limit=3&cursor=001565000003"
is "$(jf "[i['mac'] for i in d['items']], d['next_cursor']")" "['001565000004'] None" "the next page"
api "$ACME_T" GET "/api/v1/jobs/$JOB?cursor=zz"
is "$st:$(jf "d['error']['field']")" "400:cursor" "a bad item cursor: 400"

# Scope on the job.
api "$RIVAL_T" GET "/api/v1/jobs/$JOB"
is "$st" 404 "another tenant's token: the job is 404"
x404=$(printf '%s' "$body" | sed "s/'$JOB'/X/")
api "$RIVAL_T" GET /api/v1/jobs/999999
is "$(printf '%s' "$body" | sed "s/'999999'/X/")" "$x404" "the same answer as for no such job"
api "$RIVAL_T" POST "/api/v1/jobs/$JOB/resume"
is "$st" 404 "nor resume it"
api "$RIVAL_T" GET /api/v1/jobs
is "$st:$(jf "len(d['items'])")" "200:0" "nor list it"
api "$RO_T" GET /api/v1/jobs
is "$st:$(jf "[j['id'] for j in d['items']]")" "200:[$JOB]" "read-only lists it"
api "$RO_T" POST "/api/v1/jobs/$JOB/resume"
is "$st" 403 "but may not resume it"
api "$OLD_T" GET "/api/v1/jobs/$JOB"
is "$st" 401 "a revoked token: 401"
api "$ROOT_T" GET /api/v1/jobs/abc
is "$st" 404 "a job id that is no number: 404"

# Resume: phone 3 now listens, phone 4 registers; only those two are sent.
sipp_phone notify_uas.xml "$P3" ph3; s3=$SIPP_PID
sipp_phone notify_uas.xml "$P4" ph4; s4=$SIPP_PID
is "$(reg 4 "$P4")" 202 "phone 4 registers"
sleep 0.5
api "$ACME_T" POST "/api/v1/jobs/$JOB/resume"
is "$st:$(jf "d['id']")" "202:$JOB" "resume: 202, the same job"
poll_done "$ACME_T" "$JOB"; ok $? "done again"
is "$(jf "sorted(d['counts'].items())")" "[('200', 4), ('total', 4)]" "every device 200 now"
for n in 3 4; do eval "wait \$s$n"; is "$?" 0 "sipp phone $n answered"; done
is "$(grep -c '^NOTIFY ' "$T/ph1.msg")" 1 "phone 1 was not sent a second NOTIFY"

# One job at a time: a job to a phone that never answers runs; a second
# queued meanwhile waits, then runs.  Resume of a running job: 409.
P5=$(free_port)
sipp_phone notify_silent.xml "$P5" silent; s5=$SIPP_PID
is "$(reg 1 "$P5")" 202 "phone 1 now registers from a port where a silent phone listens"
sipp_phone notify_uas.xml "$P2" ph2b; s2=$SIPP_PID
sleep 0.5
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","device":"001565000001","timeout":30}'
SLOW=$(jf "d['id']")
api "$ROOT_T" POST /api/v1/jobs '{"kind":"reprovision","device":"001565000002","timeout":5}'
NEXT=$(jf "d['id']")
for _ in $(seq 1 50); do api "$ROOT_T" GET "/api/v1/jobs/$SLOW"; [ "$(jf "d['status']")" = running ] && break; sleep 0.1; done
is "$(jf "d['status']")" running "the slow job runs"
api "$ROOT_T" GET "/api/v1/jobs/$NEXT"
is "$(jf "d['status']")" queued "the second one waits: queued"
api "$ROOT_T" POST "/api/v1/jobs/$SLOW/resume"
is "$st:$(jf "d['error']['code']")" "409:conflict" "resume of a running job: 409"

# SIGTERM during the slow job: the worker stops at once and is joined;
# the job stays unfinished and the next sipprovd runs it again.
t0=$(date +%s.%N)
stop_sipprovd
t1=$(date +%s.%N)
secs=$("$PY" -c "print('%.1f' % ($t1 - $t0))")
ok "$("$PY" -c "print(0 if $t1 - $t0 < 10 else 1)")" "sipprovd stops in ${secs}s mid-job (the NOTIFY timeout is 30 s)"
is "${SIPPROVD_RC:-x}" 0 "and exits 0"
is "$(sql "select CASE WHEN finished = 0 and started > 0 THEN 1 ELSE 0 END from job where id = $SLOW")" 1 "the slow job is left unfinished"
is "$(sql "select result from job_item where job_id = $SLOW")" pending "its item pending"
is "$(sql "select started || ':' || finished from job where id = $NEXT")" "0:0" "the queued one never started"
kill "$s5" 2>/dev/null; wait "$s5" 2>/dev/null
sipp_phone notify_uas.xml "$P5" ph1b; s5=$SIPP_PID
sleep 0.5
start_sipprovd -o api_token=hook-token-1
poll_done "$ROOT_T" "$SLOW"; ok $? "after a restart the interrupted job runs to done"
is "$(jf "sorted(d['counts'].items())")" "[('200', 1), ('total', 1)]" "its phone answered"
poll_done "$ROOT_T" "$NEXT"; ok $? "then the queued one"
is "$(jf "sorted(d['counts'].items())")" "[('200', 1), ('total', 1)]" "its phone answered too"
wait "$s5"; is "$?" 0 "sipp (phone 1 again) answered"
wait "$s2"; is "$?" 0 "sipp (phone 2 again) answered"
api "$ROOT_T" GET /api/v1/jobs?limit=2
is "$(jf "[j['id'] for j in d['items']], d['next_cursor']")" "[$NEXT, $SLOW] $SLOW" "jobs newest first, paged"
api "$ROOT_T" GET "/api/v1/jobs?limit=2&cursor=$SLOW"
is "$(jf "[j['id'] for j in d['items']], d['next_cursor']")" "[$JOB] None" "the last page"
api "$ROOT_T" GET "/api/v1/jobs?tenant=rival"
is "$(jf "len(d['items'])")" 0 "?tenant=rival: none"
is "$(sql "select actor || ':' || action from audit_log where action like 'job.%' order by id" | paste -sd' ')" \
	"acme-admin:job.create acme-admin:job.resume msp:job.create msp:job.create" "job writes audited under the token's name"
grep -q 'job [0-9]*: done' "$SIPPROVD_LOG"; ok $? "the daemon logs each job's outcome"

# ---- drift and status ----
# Phone 2 registers on port 5070 over TCP while its config says 5060/UDP.
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer hook-token-1' -H 'Content-Type: application/json' \
	--data-binary '{"username":"user2","auth_username":"auth2","registrar":"sip.acme.test","port":5070,"transport":"tcp","code":200,"src_ip":"127.0.0.1","contact":"<sip:user2@127.0.0.1:9;transport=tcp>"}' \
	"$URL/api/v1/registrations")" 202 "phone 2 registers with other settings (webhook)"
api "$ROOT_T" GET '/api/v1/drift?state=open'
is "$st:$(jf "sorted((e['mac'], e['kind'], e['expected'], e['observed']) for e in d['items'] if e['kind'] != 'never_fetched')")" \
	"200:[('001565000002', 'port', '5060', '5070'), ('001565000002', 'transport', 'udp', 'tcp')]" \
	"drift: port and transport open on phone 2"
is "$(jf "sorted(e['mac'] for e in d['items'] if e['kind'] == 'never_fetched')")" \
	"['001565000001', '001565000002', '001565000003', '001565000004']" \
	"and never_fetched on the four phones that registered without fetching"
cli=$(sp drift --open --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin))')
is "$(jf "d['items']")" "$cli" "the same events as 'sipprov drift --open --json'"
api "$ROOT_T" GET '/api/v1/drift?kind=port&limit=1'
is "$(jf "[e['kind'] for e in d['items']], d['next_cursor'] is None")" "['port'] True" "?kind=port: that one"
api "$ROOT_T" GET '/api/v1/drift?limit=1'
first=$(jf "d['items'][0]['id']"); cur=$(jf "d['next_cursor']")
api "$ROOT_T" GET "/api/v1/drift?limit=1&cursor=$cur"
is "$st:$(jf "len(d['items']) == 1 and d['items'][0]['id'] != $first")" "200:True" "cursor paging: the next page holds the next event"
api "$ROOT_T" GET '/api/v1/drift?state=closed&kind=transport'
is "$(jf "len(d['items'])")" 0 "none closed yet"
api "$ROOT_T" GET '/api/v1/drift?kind=colour'
is "$st:$(jf "d['error']['field']")" "400:kind" "an unknown kind: 400 naming kind"
api "$ROOT_T" GET '/api/v1/drift?state=maybe'
is "$st:$(jf "d['error']['field']")" "400:state" "an unknown state: 400"
api "$ROOT_T" GET '/api/v1/drift?cursor=x'
is "$st:$(jf "d['error']['field']")" "400:cursor" "a bad cursor: 400"
api "$RIVAL_T" GET /api/v1/drift
is "$st:$(jf "[e['mac'] for e in d['items'] if e['tenant'] == 'acme']")" "200:[]" "another tenant's token sees none of acme's events"
api "$RIVAL_T" GET '/api/v1/drift?tenant=acme'
is "$st" 404 "and ?tenant=acme is 404"
api "$ACME_T" GET /api/v1/drift
is "$(jf "len(d['items'])")" 6 "acme's own token sees all six"
api "$OLD_T" GET /api/v1/drift
is "$st" 401 "a revoked token: 401"
api "$ROOT_T" POST /api/v1/drift '{}'
is "$st" 405 "POST on drift: 405"

api "$ACME_T" GET /api/v1/status
is "$st:$(jf "d['summary']")" "200:{'devices': 4, 'current': 0, 'stale': 0, 'never': 4, 'with_open_drift': 4}" \
	"status: acme's four devices, never fetched (so drifting)"
cli=$(sp status --tenant acme --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin))')
is "$(jf "d['items']")" "$cli" "the same records as 'sipprov status --tenant acme --json'"
is "$(jf "[(x['mac'], x['open_drift'], x['last_registration']['port']) for x in d['items'] if x['open_drift'] > 1]")" \
	"[('001565000002', 3, 5070)]" "phone 2: three open events, last registered on 5070"
api "$ROOT_T" GET '/api/v1/status?limit=3'
is "$(jf "len(d['items']), d['next_cursor'], d['summary']['devices']")" "3 001565000003 5" \
	"an unscoped token: every tenant's five devices, paged by MAC"
api "$ROOT_T" GET '/api/v1/status?limit=3&cursor=001565000003'
is "$(jf "[x['mac'] for x in d['items']], d['next_cursor']")" "['001565000004', '001565000099'] None" "the next page"
api "$RIVAL_T" GET /api/v1/status
is "$(jf "[x['mac'] for x in d['items']], d['summary']['devices']")" "['001565000099'] 1" "a tenant token: its own device only"
api "$RIVAL_T" GET '/api/v1/status?tenant=acme'
is "$st" 404 "?tenant=acme for another tenant: 404"
api "$OLD_T" GET /api/v1/status
is "$st" 401 "a revoked token: 401"

openapi_valid
done_testing
