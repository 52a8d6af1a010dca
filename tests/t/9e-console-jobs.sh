#!/bin/sh
# The console's jobs and drift pages in a real browser (Debian's chromium,
# puppeteer-core, axe-core; driver tests/console/jobs.js): an admin starts
# a reprovision job for one phone and watches it finish live; its NOTIFY
# reaches a sipp phone on loopback, and the page's counts equal the API's.
# The drift page lists the tenant's drift (filtered by kind) and failing
# registrations by code, linking to the phones; a hostile observed value
# stays text.  Read-only sees no form and is refused; a tenant user sees
# only its tenant's jobs.  axe, console errors; screenshots in $T/shots.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3 jq node chromium sipp
console_deps

HOSTILE='<img src=x onerror=alert(7)>.example'
sp init >/dev/null
sp tenant add acme >/dev/null
sp tenant add other >/dev/null
sp template set acme main registrar=sip.acme.test server=sip.acme.test port=5060 transport=udp >/dev/null
sp template set other main registrar=sip.other.test >/dev/null
printf 'mac,layout,template,line,username,auth_username,password\n' > "$T/d.csv"
for n in 1 2 3; do printf '00156500000%d,yealink,main,1,user%d,auth%d,pw%d\n' $n $n $n $n >> "$T/d.csv"; done
sp import "$T/d.csv" --tenant acme >/dev/null || bail "import failed"
printf 'mac,layout,template,line,username,auth_username,password\n001565000099,yealink,main,1,o1,oa1,opw1\n' > "$T/o.csv"
sp import "$T/o.csv" --tenant other >/dev/null || bail "import failed"
PW='correct horse battery'
printf '%s\n' "$PW" > "$T/pw"
sp user add root --role admin --password-file "$T/pw" >/dev/null
sp user add reader --role read-only --password-file "$T/pw" >/dev/null
sp user add acme-ops --role operator --tenant acme --password-file "$T/pw" >/dev/null
TOK=$(sp api-token add checker 2>/dev/null)
start_sipprovd -o api_token=hook-token-1
get() { curl -s -H "Authorization: Bearer $TOK" "$ADMIN_URL$1"; }
hook() { # hook USER PORT TRANSPORT CODE REGISTRAR CONTACT_PORT
	curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer hook-token-1' -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg u "$1" --argjson p "$2" --arg t "$3" --argjson c "$4" --arg r "$5" --arg cp "$6" \
		'{username:$u, auth_username:("auth" + ($u | ltrimstr("user"))), registrar:$r, port:$p, transport:$t,
		  code:$c, src_ip:"127.0.0.1", expires:300, contact:("<sip:" + $u + "@127.0.0.1:" + $cp + ";transport=" + $t + ">")}')" \
		"$URL/api/v1/registrations"
}
P1=$(free_port)
is "$(hook user1 5060 udp 200 sip.acme.test "$P1")" 202 "phone 1 registers (webhook) with its Contact"
is "$(hook user2 5070 tcp 200 sip.acme.test 9)" 202 "phone 2 registers on 5070/TCP (drift)"
is "$(hook user3 5060 udp 403 "$HOSTILE" 9)" 202 "phone 3 fails with 403 at a hostile registrar name"
# Another tenant's job, which acme's user must not see.
is "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
	--data-binary '{"kind":"reprovision","device":"001565000099","timeout":1}' "$ADMIN_URL/api/v1/jobs")" 202 \
	"(a job in tenant other, by the API)"
sipp -sf "$ROOT/tests/peers/notify_uas.xml" -i 127.0.0.1 -p "$P1" -t u1 -m 1 -nostdin -timeout 60s -timeout_error \
	-trace_logs -log_file "$T/ph1.log" >"$T/ph1.out" 2>&1 &
SIPP=$!
track_pid "$SIPP"

mkdir -p "$T/shots"
diag "screenshots: $T/shots (KEEP_TEST_DIR=1 keeps them)"
NODE_PATH=$NM ADMIN_URL=$ADMIN_URL CONSOLE_PW=$PW SHOTS="$T/shots" AXE_JS="$NM/axe-core/axe.min.js" \
	HOSTILE=$HOSTILE PHONE_MAC=001565000001 \
	timeout 300 node "$ROOT/tests/console/jobs.js" > "$T/jobs.out" 2> "$T/jobs.err"
rc=$?
[ -s "$T/jobs.err" ] && sed 's/^/# jobs.js: /' "$T/jobs.err" | head -20
ok $rc "the browser run finished (exit $rc)"
browser_tap "$T/jobs.out"

# ---- jobs ----
wait "$SIPP"; ok $? "the sipp phone answered the job's NOTIFY"
grep -q 'Event=|check-sync' "$T/ph1.log"; ok $? "a check-sync NOTIFY"
id=$(get '/api/v1/jobs?tenant=acme' | jq -r '.items[0].id')
api_job=$(get "/api/v1/jobs/$id")
is "$(printf '%s' "$api_job" | jq -c '[.status, .counts["200"], .counts.total, .actor]')" '["done",1,1,"root"]' \
	"the API: the job is done, one 200, started by the console user"
is "$(value jobs | jq -r '.[0] | [.[0], .[2], .[4], .[5]] | join("|")')" "$id|done|200: 1|root" \
	"the page's row: the same job, state, results and user"
is "$(value progress)" '[1,1]' "its progress bar is full (1 of 1)"
is "$(value items | jq -c 'map([.[0], .[1]])')" '[["001565000001","200"]]' "its phones: the one MAC with 200"
like "$(value status)" "Job $id" "the page said which job it started"

# ---- drift and failures ----
is "$(value failing | jq -c '.[0]')" '["403: 1 phone","/ui/devices.html?code=403&tenant=acme"]' \
	"failing registrations: 403 on one phone, linked to the filtered device list"
is "$(value failing_devices | jq -r '.[0][0]')" 001565000003 "the link lists the failing phone"
want=$(get '/api/v1/drift?tenant=acme&state=open' | jq -c '[.items[] | [.mac, .kind, .expected, .observed]] | sort')
is "$(value drift | jq -c '[.[] | [.[0], .[2], .[3], .[4]]] | sort')" "$want" "the drift table equals the API's open events"
like "$want" '"001565000002","port","5060","5070"' "(which hold phone 2's port drift)"
is "$(value drift_port | jq -c 'map(.[2]) | unique')" '["port"]' "filtered by kind: only port events"

# ---- roles and scope ----
is "$(value reader_post | jq -r .status)" 403 "read-only: starting a job is refused (403)"
is "$(value tenant_jobs | jq -c 'map(.[1])')" '["phone 001565000001"]' "a tenant user sees only its tenant's job"
is "$(value tenant_other | jq -r .status)" 404 "and another tenant's jobs are 404"
is "$(sql "select count(*) from job")" 2 "no job was created by the refused requests"
done_testing
