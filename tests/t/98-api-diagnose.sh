#!/bin/bash
# 98-api-diagnose.sh: the admin API's operations routes against a running
# sipprovd and a real Kamailio registrar on loopback: POST
# /devices/{mac}/diagnose and /ticket give the same JSON verdicts as
# `sipprov diagnose --json` / `ticket --json` (403 wrong password, 404 wrong
# domain, timeout on a blackholed port), never a password; diagnoses run off
# the listener's thread (the API answers while one probes; a fifth running
# at once is 503 + Retry-After, counted); GET /devices/{mac}/render equals
# `sipprov render` with secrets masked, revealed only to admins and audited;
# GET /audit (paged, filtered, tenant-scoped) and /layouts (what `layout
# list --json` prints); scope (another tenant's MAC is 404) and hostile input.
# Every response body is validated against openapi/sipprov-v1.json.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 python3 kamailio
. "$ROOT/tests/api_lib.sh"

start_kamailio
add_subscriber a1xyzauth example.test alicepw
# A UDP port that swallows every packet: the "timeout" registrar.
BH=$(free_port)
python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$BH))
while True: s.recv(65535)" &
track_pid $!
# The sweep's standard ports point at unused test ports, never 5060/5061.
STD=$(free_port)
export SIPPROV_DIAG_STD_PORTS="udp:$STD,tcp:$STD,tls:$STD"

sp init >/dev/null
sp tenant add acme >/dev/null
sp tenant add other >/dev/null
tmpl() { sp template set acme "$@" >/dev/null || echo "# template $1 refused"; }
tmpl main registrar=example.test server=127.0.0.1 port=$KAM_PORT transport=udp
tmpl wrongdom registrar=wrong.test server=127.0.0.1 port=$KAM_PORT transport=udp
tmpl blackhole registrar=example.test server=127.0.0.1 port=$BH transport=udp
dev() { # mac template password [tenant]
	sp device add "$1" --tenant "${4:-acme}" --layout yealink --template "$2" --model T46G \
		--label '<script>alert(1)</script>' >/dev/null &&
	sp account add "$1" --line 1 --username 1001 --auth-username a1xyzauth --password "$3" \
		--display-name '"><img src=x onerror=alert(2)>' >/dev/null
}
dev 001565000001 main alicepw
dev 001565000002 main wrongpw
dev 001565000004 wrongdom alicepw
dev 001565000007 blackhole alicepw
sp template set other main registrar=example.test server=127.0.0.1 port=$KAM_PORT >/dev/null
dev 001565000009 main otherpw other
is "$(sql 'select count(*) from account')" 5 "devices and accounts created with the CLI"

ROOT_T=$(sp api-token add root 2>/dev/null)
OP_T=$(sp api-token add ops --role operator 2>/dev/null)
RO_T=$(sp api-token add reader --role read-only 2>/dev/null)
ACME_T=$(sp api-token add acme-admin --tenant acme 2>/dev/null)
OTHER_T=$(sp api-token add other-admin --tenant other 2>/dev/null)
start_sipprovd

# The verdict fields the CLI and the API must agree on.
verdict() { "$PY" -c '
import json,sys
d=json.load(open(sys.argv[1]))
print(json.dumps({"bucket":d.get("bucket"),"first":d.get("first_cause"),"exit":d.get("exit_code"),
 "steps":[(s["name"],s["verdict"]) for s in d.get("steps",[])]},sort_keys=True))' "$1"; }
bucket() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bucket"])' "$1"; }

# ---- diagnose: the same verdict as the CLI ----
for c in "001565000002 403" "001565000004 404" "001565000007 timeout"; do
	set -- $c
	mac=$1 what=$2
	args='{"timeout":1}'
	cli="--timeout 1"
	[ "$what" = timeout ] && args='{"timeout":1,"error":"timeout"}' && cli="--timeout 1 --error timeout"
	sp --json diagnose "$mac" $cli > "$T/cli-$mac.json" 2>/dev/null
	api "$RO_T" POST "/api/v1/devices/$mac/diagnose" "$args"
	is "$st" 200 "$what: diagnose over HTTP answers 200 (read-only token)"
	cp "$T/r$i.b" "$T/api-$mac.json"
	is "$(verdict "$T/api-$mac.json")" "$(verdict "$T/cli-$mac.json")" "$what: the same bucket, first cause, steps and exit code as the CLI"
done
is "$(bucket "$T/api-001565000002.json")" 403 "wrong password: bucket 403"
grep -q "Wrong Password" "$T/api-001565000002.json"; ok $? "the evidence is Kamailio's own 403 reason"
is "$(bucket "$T/api-001565000004.json")" 404 "wrong domain: bucket 404"
grep -q "Domain Not Served" "$T/api-001565000004.json"; ok $? "the evidence is Kamailio's own 404 reason"
is "$(bucket "$T/api-001565000007.json")" 408/timeout "blackholed port: bucket 408/timeout"

# ticket: the same document as `ticket --json`
sp --json ticket 001565000002 > "$T/cli-ticket.json" 2>/dev/null
api "$ACME_T" POST /api/v1/devices/001565000002/ticket
is "$st" 200 "ticket with no body: 200"
is "$(verdict "$T/r$i.b")" "$(verdict "$T/cli-ticket.json")" "ticket: the same verdict as the CLI's"
is "$(jf "d['network_steps_run']")" False "ticket without probe runs no network step (as the CLI)"
api "$ACME_T" POST /api/v1/devices/001565000002/ticket '{"probe":true,"timeout":1}'
is "$(jf "d['network_steps_run']")" True "ticket with probe:true runs the probes"
cat "$T"/r*.b | grep -Eq "alicepw|wrongpw|otherpw"; ok $([ $? = 0 ] && echo 1 || echo 0) "no password in any diagnose or ticket answer"

# ---- off the listener's thread: the API answers while a probe waits ----
curl -s -o "$T/slow.b" -H "Authorization: Bearer $ROOT_T" -H 'Content-Type: application/json' \
	--data-binary '{"timeout":3}' "$ADMIN_URL/api/v1/devices/001565000007/diagnose" &
slow=$!
sleep 0.5
t0=$(date +%s%N)
api "$ROOT_T" GET /api/v1/devices/001565000001
t1=$(date +%s%N)
is "$st" 200 "a read while a diagnose probes: 200"
ms=$(( (t1 - t0) / 1000000 ))
ok $([ $ms -lt 1500 ] && echo 0 || echo 1) "answered in $ms ms, not after the probe (3 s per probe)"
# cap: four at once run, the fifth is refused with Retry-After
pids=""
for n in 1 2 3; do
	curl -s -o "$T/par$n.b" -H "Authorization: Bearer $ROOT_T" -H 'Content-Type: application/json' \
		--data-binary '{"timeout":3}' "$ADMIN_URL/api/v1/devices/001565000007/diagnose" &
	pids="$pids $!"
done
sleep 0.5
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"timeout":1}'
is "$st" 503 "a fifth diagnose at once: 503"
like "$hdr" 'Retry-After: [0-9]+' "with Retry-After"
is "$(jf "d['error']['code']")" busy "as data: error.code busy"
wait $slow $pids
grep -q '"steps"' "$T/slow.b" && grep -q '"steps"' "$T/par3.b"; ok $? "the four running diagnoses all answered"
m=$(curl -s "$ADMIN_URL/metrics" | sed -n 's/^sipprov_api_diagnose_busy_total \([0-9]*\)$/\1/p')
is "$m" 1 "the refusal is counted (sipprov_api_diagnose_busy_total)"

# ---- scope and hostile input ----
api "$ACME_T" POST /api/v1/devices/001565000009/diagnose '{}'
is "$st" 404 "tenant token: another tenant's MAC is 404"
o404=$(printf '%s' "$body" | sed 's/001565000009/X/')
api "$ACME_T" POST /api/v1/devices/0015650000ff/diagnose '{}'
is "$(printf '%s' "$body" | sed 's/0015650000ff/X/')" "$o404" "the same answer as a MAC that does not exist"
api "$ACME_T" POST /api/v1/devices/001565000009/ticket
is "$st" 404 "tenant token: another tenant's ticket is 404"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"line":"1"}'
is "$st:$(jf "d['error']['field']")" 400:line "line as a string: 400 naming 'line'"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"timeout":3600}'
is "$st:$(jf "d['error']['field']")" 422:timeout "timeout 3600: 422 naming 'timeout'"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"line":99}'
is "$st:$(jf "d['error']['field']")" 422:line "line 99: 422 naming 'line'"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"error":"500"}'
is "$st:$(jf "d['error']['field']")" 422:error "error 500: 422 naming 'error'"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"probe":true,"bogus":1}'
is "$st:$(jf "d['error']['field']")" 400:bogus "unknown field named"
api "$ROOT_T" POST /api/v1/devices/001565000001/ticket '{"error":"403"}'
is "$st:$(jf "d['error']['field']")" 400:error "a ticket takes no error (as the CLI)"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose "$(printf '{"error":"\xff"}')"
is "$st" 400 "invalid UTF-8: 400"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose "$(printf '%0.s[' $(seq 1 40))"
is "$st:$(jf "d['error']['code']")" 400:too_deep "deep nesting: 400 too_deep"
api "$ROOT_T" GET /api/v1/devices/001565000001/diagnose
is "$st" 405 "GET diagnose: 405"
api "$ROOT_T" POST /api/v1/devices/001565000001/diagnose '{"line":1,"probe":false}'
is "$st:$(jf "d['network_steps_run']")" 200:False "probe:false runs no network step"

# ---- render: as `sipprov render`, secrets masked unless an admin asks ----
sp render 001565000001 > "$T/cli-render.txt"
api "$OP_T" GET /api/v1/devices/001565000001/render
is "$st" 200 "render (operator): 200"
grep -q alicepw "$T/r$i.b"; ok $([ $? = 0 ] && echo 1 || echo 0) "masked: the SIP password is not in it"
grep -q '\*\*\*\*\*\*\*\*' "$T/r$i.b"; ok $? "masked: the mask stands where it was"
is "$(sed 's/alicepw/********/g' "$T/cli-render.txt" | cmp -s - "$T/r$i.b" && echo same)" same \
	"masked render equals sipprov render with the password replaced by the mask"
like "$hdr" 'Content-Type: application/xml|Content-Type: text/' "with the layout's content type"
before=$(sql "select count(*) from audit_log where action='render.secrets'")
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?secrets=true"
is "$st" 200 "render with secrets (admin): 200"
cmp -s "$T/cli-render.txt" "$T/r$i.b"; ok $? "byte-identical to sipprov render"
is "$(sql "select actor||' '||object from audit_log where action='render.secrets' order by id desc limit 1")" \
	"root 001565000001" "the reveal is audited with the caller's name"
dump before
api "$OP_T" GET "/api/v1/devices/001565000001/render?secrets=true"
is "$st:$(jf "d['error']['field']")" 403:secrets "operator asking for secrets: 403 naming 'secrets'"
api "$RO_T" GET "/api/v1/devices/001565000001/render?secrets=true"
is "$st" 403 "read-only asking for secrets: 403"
grep -q alicepw "$T/r$i.b"; ok $([ $? = 0 ] && echo 1 || echo 0) "no password in the refusal"
same_db "refused reveals"
is "$(sql "select count(*) from audit_log where action='render.secrets'")" $((before + 1)) \
	"only the admin's reveal was audited"
api "$ACME_T" GET "/api/v1/devices/001565000001/render?secrets=true&line=1"
is "$st" 200 "a tenant admin sees its own device's secrets"
grep -q alicepw "$T/r$i.b"; ok $? "with the password"
sp render 001565000001 --line 1 | cmp -s - "$T/r$i.b"; ok $? "?line=1 equals sipprov render --line 1"
api "$ACME_T" GET "/api/v1/devices/001565000009/render"
is "$st" 404 "tenant token: another tenant's render is 404"
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?line=7"
is "$st:$(jf "d['error']['field']")" 404:line "a line the device lacks: 404 naming 'line'"
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?line=x"
is "$st:$(jf "d['error']['field']")" 400:line "line=x: 400 naming 'line'"
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?secrets=yes"
is "$st:$(jf "d['error']['field']")" 400:secrets "secrets=yes: 400 naming 'secrets'"
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?file=001565000001.cfg"
is "$st" 200 "?file= names the device's own file: 200"
grep -q alicepw "$T/r$i.b"; ok $([ $? = 0 ] && echo 1 || echo 0) "masked there too"
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?file=001565000002.cfg"
is "$st:$(jf "d['error']['field']")" 404:file "?file= of another device: 404 naming 'file'"
api "$ROOT_T" GET "/api/v1/devices/001565000001/render?file=..%2F..%2Fetc%2Fpasswd"
is "$st" 404 "?file= path traversal: 404"

# ---- audit ----
api "$ROOT_T" GET "/api/v1/audit?limit=2"
is "$st" 200 "audit: 200"
is "$(jf "len(d['items'])")" 2 "limit=2: two rows"
first=$(jf "d['items'][0]['id']")
is "$(jf "d['items'][0]['action']")" render.secrets "newest first"
cur=$(jf "d['next_cursor']")
api "$ROOT_T" GET "/api/v1/audit?limit=2&cursor=$cur"
ok $([ "$(jf "d['items'][0]['id']")" -lt "$first" ] && echo 0 || echo 1) "the next page continues below the cursor"
api "$ROOT_T" GET "/api/v1/audit?actor=root&action=render.secrets"
is "$(jf "len(d['items'])")" 1 "filter by actor and action"
api "$ROOT_T" GET "/api/v1/audit?since=2000000000"
is "$(jf "len(d['items'])")" 0 "since in the future: nothing"
api "$ROOT_T" GET "/api/v1/audit?tenant=other&limit=500"
is "$(jf "sorted(set(r['object'] for r in d['items']))")" "['001565000009', 'account 1 on 00:15:65:00:00:09', 'other', 'template other/main@v1']" \
	"tenant=other: only rows about that tenant"
api "$ACME_T" GET "/api/v1/audit?limit=500"
is "$(jf "any('00:09' in r['object'] or r['object'].startswith('other') or r['object'].endswith('09') for r in d['items'])")" False \
	"tenant token: no row about another tenant"
is "$(jf "any(r['action'].startswith('api-token') for r in d['items'])")" False "tenant token: no token rows (about no tenant)"
is "$(jf "any(r['object']=='001565000001' for r in d['items'])")" True "tenant token: its own device's rows"
api "$ACME_T" GET "/api/v1/audit?tenant=other"
is "$st" 404 "tenant token asking for another tenant's audit: 404"
api "$ROOT_T" GET "/api/v1/audit?cursor=abc"
is "$st:$(jf "d['error']['field']")" 400:cursor "bad cursor: 400 naming 'cursor'"
api "$ROOT_T" GET "/api/v1/audit?since=-1"
is "$st:$(jf "d['error']['field']")" 400:since "bad since: 400 naming 'since'"

# ---- layouts: what `sipprov layout list --json` prints ----
api "$RO_T" GET /api/v1/layouts
is "$st" 200 "layouts: 200"
sp --json layout list > "$T/cli-layouts.json"
is "$(jf "json.dumps(d['items'],sort_keys=True)")" \
	"$("$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])),sort_keys=True))' "$T/cli-layouts.json")" \
	"the same list as sipprov layout list --json"
api "$ROOT_T" POST /api/v1/layouts '{}'
is "$st" 405 "POST layouts: 405"
api "" GET /api/v1/audit
is "$st" 401 "audit without a token: 401"

openapi_valid
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd stops cleanly"
done_testing
