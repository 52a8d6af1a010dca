#!/bin/sh
# /healthz answers while the process runs; /readyz only while a fresh
# connection reads the database: 503 naming the reason when the file is
# gone or is not a database (the daemon's open connections would still
# answer, so this is what a load balancer must see), 200 again once it is
# back.  The reason goes to the log (once per change), not to the client:
# neither reveals anything to the phone network beyond ready / not ready.
. "$(dirname "$0")/../lib.sh"
need curl

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 001565000880 --tenant open --layout yealink >/dev/null
start_sipprovd

get() { st=$(curl -s -o "$T/body" -w '%{http_code}' "$URL$1"); body=$(cat "$T/body"); }
get /healthz; is "$st:$body" "200:ok" "/healthz: 200"
get /readyz;  is "$st:$body" "200:ready" "/readyz: 200 with the database readable and layouts loaded"
st=$(curl -s -o /dev/null -I -w '%{http_code}' "$URL/readyz"); is "$st" 200 "HEAD /readyz: 200"

# The database goes away: its file (SQLite), its server (PostgreSQL).
if backend_is sqlite; then
	mv "$DB" "$DB.away"
	gone="the database file is gone"
	why="database '.*sipprov.db': unable to open"
else
	pg_down
	gone="the database server is down"
	why="[^\"]"   # some reason; its wording is the PostgreSQL store's
fi
get /readyz
is "$st:$body" "503:not ready" "/readyz: 503 when $gone, no detail to the client"
grep -q "readyz: not ready reason=\"$why" "$SIPPROVD_LOG"
ok $? "the daemon log says why"
get /readyz; is "$st" 503 "still 503 on the next probe"
is "$(grep -c 'readyz: not ready' "$SIPPROVD_LOG")" 1 "logged once, not once per probe"
get /healthz; is "$st:$body" "200:ok" "/healthz: still 200 (the process is alive)"

if backend_is sqlite; then
	head -c 8192 /dev/urandom > "$DB"
	get /readyz
	is "$st" 503 "/readyz: 503 when the file is not a database"
	mv "$DB.away" "$DB"
else
	skip_check "a database file overwritten with random bytes"
	pg_up
fi
get /readyz;  is "$st:$body" "200:ready" "/readyz: 200 again once the database is back"
grep -q "readyz: ready again" "$SIPPROVD_LOG"; ok $? "logged"
st=$(curl -s -o /dev/null -w '%{http_code}' "$URL/001565000880.cfg"); is "$st" 200 "and configs are served"
done_testing
