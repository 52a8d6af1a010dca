#!/bin/sh
# The render cache: a hit costs no render; an admin change is served at
# once; random unknown MACs (enumeration) are not cached, so they cannot
# push real devices out of it.  Observed through sipprov_renders_total.
. "$(dirname "$0")/../lib.sh"
need curl

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=sip.open.test >/dev/null
sp device add 0015654aa937 --tenant open --layout yealink >/dev/null
sp account add 0015654aa937 --username 1001 --auth-username auth1001 --password pw >/dev/null
# 16 entries (16 sets of 8 ways, at most 16 kept): 200 cached misses would
# surely evict the device.
start_sipprovd -o insecure_loopback=yes -o render_cache=16 -o fail_threshold=100000

renders() { curl -s "$ADMIN_URL/metrics" | sed -n 's/^sipprov_renders_total \([0-9]*\)$/\1/p'; }
get() { curl -s -o /dev/null -w '%{http_code}' "$URL/$1"; }

is "$(get 0015654aa937.cfg)" 200 "first fetch"
r1=$(renders)
is "$r1" 1 "the first fetch renders once"
for i in 1 2 3 4 5; do get 0015654aa937.cfg >/dev/null; done
is "$(renders)" "$r1" "repeated fetches are cache hits: no further render"
i=0
while [ $i -lt 200 ]; do
	get "$(printf '0015ff%06x.cfg' $i)" >/dev/null
	i=$((i + 1))
done
is "$(get 0015654aa937.cfg)" 200 "the real device after 200 unknown MACs"
is "$(renders)" "$r1" "unknown MACs did not evict it: still no re-render"
sp template set open main registrar=sip2.open.test >/dev/null
curl -s "$URL/0015654aa937.cfg" > "$T/after"
grep -q 'sip2.open.test' "$T/after"; ok $? "a template change is served on the very next fetch"
is "$(renders)" "$((r1 + 1))" "and costs exactly one render"
# The same under load: fetches every few ms keep the generation watcher at
# its 1 ms pace, trusted by requests, and on SQLite it reads config_gen
# only after it sees the WAL index change (store_gen_poll).  Each
# change the CLI has committed is in the next answer all the same.
( while [ ! -f "$T/stop-load" ]; do get 0015654aa937.cfg >/dev/null; done ) &
load=$!
sleep 0.3
for n in 3 4 5; do
	sp template set open main registrar=sip$n.open.test >/dev/null
	curl -s "$URL/0015654aa937.cfg" | grep -q "sip$n.open.test"
	ok $? "under load, change $n is served on the very next fetch"
done
touch "$T/stop-load"
wait $load

# Retention: history older than retention_days is pruned (at start, then
# hourly); recent rows and the device's last fetch stay.
stop_sipprovd
sql "INSERT INTO fetch_log (device_id, at, ip, status) SELECT id, 1000, '10.9.9.9', 200 FROM device;
	INSERT INTO registration (at, source, username) VALUES (1000, 'hep', 'old'), ($(date +%s), 'hep', 'new')"
start_sipprovd -o insecure_loopback=yes -o retention_days=30
for _ in $(seq 1 40); do
	[ "$(sql "select count(*) from fetch_log where at = 1000")" = 0 ] && break
	sleep 0.05
done
is "$(sql "select count(*) from fetch_log where at = 1000")" 0 "fetch history older than retention_days is pruned"
is "$(sql "select username from registration order by id" | paste -sd,)" new \
	"old registration observations go, recent ones stay"
ok $([ "$(sql "select count(*) from fetch_log")" -ge 1 ] && echo 0 || echo 1) "recent fetch records stay"
grep -q 'retention: removed 2 ' "$SIPPROVD_LOG"; ok $? "the pruning is logged"

# A fleet smaller than render_cache stays cached: 400 devices fetched in
# turn, twice, as phones do, with room for 1000.  With 2-way sets of as
# many slots as entries, 89 of them shared a set with two others and LRU
# re-rendered all of those on every pass.
stop_sipprovd
sp demo --devices 400 >/dev/null
sql "SELECT mac || CASE layout WHEN 'json' THEN '.json' ELSE '.cfg' END FROM device
	WHERE label LIKE 'bench %' ORDER BY id" > "$T/fleet"
is "$(wc -l < "$T/fleet")" 400 "400 more devices"
start_sipprovd -o insecure_loopback=yes -o render_cache=1000
# One curl for the whole pass (a config file of url/output pairs).
sed "s|.*|url = \"$URL/&\"\noutput = \"/dev/null\"|" "$T/fleet" > "$T/fleet.curl"
curl -s -K "$T/fleet.curl"
r1=$(renders)
is "$r1" 400 "the first pass renders each of the 400 once"
curl -s -K "$T/fleet.curl"
is "$(renders)" "$r1" "the second pass is all cache hits"

# Within a set the least recently used entry goes.  render_cache=2: 16
# sets, room for two entries; three paths of one set (http.c's path_hash:
# FNV-1a's steps from its own start value, mod 16): A and B kept, A used
# again, C in: B goes.
# (No render cache file: an evicted entry would come back from it.)
stop_sipprovd
set -- $(python3 -c '
import sys
by = {}
for p in open(sys.argv[1]).read().split():
    h = 1469598103934665603
    for c in ("/" + p).encode():
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    by.setdefault(h % 16, []).append(p)
print(" ".join(next(v for v in by.values() if len(v) >= 3)[:3]))' "$T/fleet")
is "$#" 3 "three paths of one set"
start_sipprovd -o insecure_loopback=yes -o render_cache=2 -o render_cache_disk=0
get() { curl -s -o /dev/null "$URL/$1"; }
get "$1"; get "$2"; get "$1"
r1=$(renders)
get "$3"
is "$(renders)" $((r1 + 1)) "the third path rendered"
get "$1"
is "$(renders)" $((r1 + 1)) "the entry used last is still there"
get "$2"
is "$(renders)" $((r1 + 2)) "the least recently used one was evicted"

done_testing
