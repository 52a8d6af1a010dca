#!/bin/sh
# Phones nobody entered: a config request for an unknown MAC is refused as
# before and appears in `sipprov device pending` (MAC, layout, vendor and
# model from the User-Agent, file, source, count).  `device claim` enters
# it with the layout it asked for; after `device credentials` and `account
# add` the same phone's next fetch gets its config.  A random-MAC flood
# leaves the list at pending_max, every MAC stored or counted; one source
# adds at most pending_per_source a minute; hostile User-Agents print as
# text.
. "$(dirname "$0")/../lib.sh"
need curl jq python3 sqlite3

sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp template set acme main registrar=acme.example.com server=sip.example.com port=5060 transport=udp >/dev/null
sp tenant set acme --default-template main >/dev/null
sp device add 00:15:65:4a:a9:37 --tenant acme --layout yealink >/dev/null
# Wait until the pending list has $1 rows (the writer runs once a second).
wait_rows() {
	for _ in $(seq 1 100); do
		[ "$(sql 'SELECT count(*) FROM pending_device')" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_seen N COUNTER...: until the pending rows plus those counters reach
# N, i.e. the writer has taken every sighting sent.
wait_seen() {
	_want=$1; shift
	for _ in $(seq 1 100); do
		_n=$(sql 'SELECT count(*) FROM pending_device')
		for _c; do _n=$((_n + $(metric "$_c"))); done
		[ "$_n" -ge "$_want" ] && return 0
		sleep 0.1
	done
	return 1
}

start_sipprovd
YUA="Yealink SIP-T46S 66.86.0.15 00:15:65:11:22:33"
known=$(curl -s -w ' %{http_code}' "$URL/0015654aa937.cfg")
st=$(curl -s -A "$YUA" -w ' %{http_code}' "$URL/001565112233.cfg")
is "$st" "$known" "an unknown MAC is refused exactly as before"
wait_rows 1
ok $? "it is in the pending list"
out=$(sp device pending)
like "$out" '001565112233 +yealink +yealink +T46S +127\.0\.0\.1 .* 1  /001565112233\.cfg' \
	"listed with layout, vendor, model, source, count and file"
curl -s -A "$YUA" -o /dev/null "$URL/001565112233.cfg"
sleep 1.3
curl -s -o /dev/null "$URL/001565112233.cfg"     # curl's User-Agent names no vendor
wait_for "SELECT count FROM pending_device WHERE mac = '001565112233'" 3    # not a fixed sleep: a loaded CI
is "$(sp --json device pending | jq '.[0].count')" 3 "repeats are counted on one row"
is "$(sp --json device pending | jq -r '.[0] | .vendor + " " + .model + " " + .firmware')" \
	"yealink T46S 66.86.0.15" "vendor, model and firmware from the User-Agent, kept when a later one names none"

# Claim, credentials, account: the phone's next fetch is its config.
out=$(sp device claim 00:15:65:11:22:33 --tenant acme); rc=$?
is "$rc" 0 "claim exits 0"
like "$out" "device 001565112233 added to tenant acme \\(layout yealink\\)" "claimed with the layout it asked for"
like "$out" "next: 'sipprov device credentials 001565112233'" "says what comes next on a digest tenant"
is "$(sql "SELECT count(*) FROM pending_device WHERE mac='001565112233'")" 0 "no longer pending"
is "$(sql "SELECT model FROM device WHERE mac='001565112233'")" T46S "the model comes from the User-Agent"
pw=$(sp device credentials 00:15:65:11:22:33 | sed -n 's/^  password: *//p')
sp account add 00:15:65:11:22:33 --username 2001 --auth-username k2001xyz --password 'S3cret-2001' >/dev/null
body=$(curl -s --digest -u "001565112233:$pw" -A "$YUA" "$URL/001565112233.cfg")
like "$body" 'account.1.user_name *= *2001' "the same phone's next fetch gets its config"
sleep 1.3
is "$(sql "SELECT count(*) FROM pending_device")" 0 "a served phone does not come back"

# A file several layouts answer, and a User-Agent that names no vendor.
curl -s -o /dev/null "$URL/001565aaaaaa.cfg"
wait_rows 1
err=$(sp device claim 001565aaaaaa --tenant acme 2>&1); rc=$?
is "$rc" 1 "an ambiguous phone is not guessed"
like "$err" "asked for '/001565aaaaaa.cfg', which .*yealink answer, and its User-Agent names no vendor: give --layout" \
	"the error lists the candidates"
like "$(sp device pending)" '001565aaaaaa +\?' "the list shows the layout as unknown"
sp device claim 001565aaaaaa --tenant acme --layout polycom >/dev/null
is "$(sql "SELECT layout FROM device WHERE mac='001565aaaaaa'")" polycom "--layout decides"
err=$(sp device claim 001565bbbbbb --tenant acme 2>&1); rc=$?
is "$rc" 1 "claiming a MAC that never asked is a user error"
like "$err" "001565bbbbbb is not in the pending list" "naming it"

# device add (not claim) also takes a phone off the list; pending rm.
curl -s -o /dev/null "$URL/cfg000b82cccccc.xml"
curl -s -o /dev/null -A "$(printf 'Evil\033[2J\rUA')" "$URL/cfg000b82dddddd.xml"
wait_rows 2
out=$(sp device pending)
unlike "$out" "$(printf '\033')" "no terminal escape reaches the list"
sp device add 000b82cccccc --tenant acme --layout grandstream >/dev/null
is "$(sql "SELECT count(*) FROM pending_device WHERE mac='000b82cccccc'")" 0 "device add removes it too"
is "$(sp device pending rm 00:0b:82:dd:dd:dd)" "000b82dddddd removed from the pending list" "pending rm"
sp device pending rm 000b82dddddd >/dev/null 2>&1
is "$?" 1 "removing it twice is a user error"
stop_sipprovd

# A flood of random MACs: the list stops at pending_max; every MAC is
# stored or counted.
rm -f "$T/access.log"
# (fail_threshold: every refusal counts toward the lockout otherwise.)
start_sipprovd -o pending_max=100 -o pending_per_source=1000000 -o fail_threshold=1000000
python3 - "$PORT" <<'EOF'
import http.client, random, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
seen = set()
while len(seen) < 5000:
    mac = "0015%08x" % random.getrandbits(32)
    if mac in seen:
        continue
    seen.add(mac)
    c.request("GET", "/%s.cfg" % mac, headers={"User-Agent": "Yealink SIP-T46S 66.86.0.15"})
    r = c.getresponse(); r.read()
    if r.status != 401:
        sys.exit("unexpected %d" % r.status)
EOF
ok $? "5,000 random MACs refused with 401"
wait_seen 5000 'sipprov_pending_dropped_total{reason="full"}' 'sipprov_pending_dropped_total{reason="busy"}'
is "$(sql 'SELECT count(*) FROM pending_device')" 100 "the list holds pending_max phones"
full=$(metric 'sipprov_pending_dropped_total{reason="full"}')
busy=$(metric 'sipprov_pending_dropped_total{reason="busy"}')
diag "dropped: full $full, busy $busy"
is "$((100 + full + busy))" 5000 "every other MAC is counted as dropped"
stop_sipprovd

# One source adds at most pending_per_source new phones a minute.
sql 'DELETE FROM pending_device'
# The limit counts per wall-clock minute: the twelve requests go inside
# one, and the checks wait for the writer (it flushes about every second,
# later on a loaded machine) rather than for a fixed time.
start_sipprovd -o pending_max=1000 -o pending_per_source=3
while [ $(($(date +%s) % 60)) -ge 50 ]; do sleep 1; done
for i in 1 2 3 4 5 6; do curl -s -o /dev/null "$URL/cfg0015650000$i$i.xml"; done
for i in 1 2 3 4 5 6; do curl -s -o /dev/null --interface 127.0.0.2 "$URL/cfg0015650001$i$i.xml"; done
# All twelve: one source's sightings may span two of the writer's batches.
wait_seen 12 'sipprov_pending_dropped_total{reason="per_source"}'
is "$(sql "SELECT source_ip || ':' || count(*) FROM pending_device GROUP BY source_ip ORDER BY 1" | tr '\n' ' ')" \
	"127.0.0.1:3 127.0.0.2:3 " "three new phones per source"
is "$(metric 'sipprov_pending_dropped_total{reason="per_source"}')" 6 "the others are counted"
stop_sipprovd

# A row the database refuses (here a constraint on one User-Agent) is
# dropped, counted and logged; the sightings written beside it in the same
# second are kept (before, the whole batch was dropped with it).
sql 'DELETE FROM pending_device'
if backend_is sqlite; then
	sql "CREATE TRIGGER t23_refuse BEFORE INSERT ON pending_device WHEN NEW.user_agent = '23-refused'
		BEGIN SELECT RAISE(ABORT, '23 refuses this row'); END"
else
	sql "ALTER TABLE pending_device ADD CONSTRAINT t23_refuse CHECK (user_agent <> '23-refused')"
fi
start_sipprovd -o pending_max=1000 -o pending_per_source=1000 -o fail_threshold=1000000
before=$(metric 'sipprov_pending_dropped_total{reason="refused"}')
# One curl, one connection: the refused phone and twenty others reach the
# writer's map within milliseconds, so (nearly always) in one batch.
curl -s -o /dev/null -A 23-refused "$URL/cfg001565f00000.xml" \
	$(for i in $(seq 10 29); do printf ' --next -s -o /dev/null -A 23-beside %s/cfg001565f000%s.xml' "$URL" "$i"; done)
wait_seen 21 'sipprov_pending_dropped_total{reason="refused"}'
is "$(sql "SELECT count(*) FROM pending_device WHERE user_agent = '23-beside'")" 20 \
	"the twenty sightings beside a refused one are written"
is "$(sql "SELECT count(*) FROM pending_device WHERE mac = '001565f00000'")" 0 "the refused one is not"
is $(($(metric 'sipprov_pending_dropped_total{reason="refused"}') - before)) 1 "it is counted as refused"
wait_log "$T/sipprovd.log" 'rows refused'
like "$(grep 'rows refused' "$T/sipprovd.log")" \
	'pending devices: 1 rows refused by the database and dropped \(the last 001565f00000\), the others written: .*(t23_refuse|23 refuses this row)' \
	"and logged with the database's reason"
stop_sipprovd
if backend_is sqlite; then sql 'DROP TRIGGER t23_refuse'; else sql 'ALTER TABLE pending_device DROP CONSTRAINT t23_refuse'; fi

start_sipprovd -o pending_max=0
curl -s -o /dev/null "$URL/cfg001565eeeeee.xml"
sleep 1.3
is "$(sql "SELECT count(*) FROM pending_device WHERE mac='001565eeeeee'")" 0 "pending_max=0 keeps none"

done_testing
