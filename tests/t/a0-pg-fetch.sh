#!/bin/sh
# The fetch path on PostgreSQL (issue 17): `sipprov init` and `sipprov demo
# --devices 40` on a throwaway cluster (tests/pglib.sh) and on a SQLite
# file, sipprovd on each, every demo device's config fetched over HTTP with
# its digest credentials: the bytes are the same from both backends (the
# demo is deterministic: MACs, users, passwords; nothing in a config names
# the database).  Then a template change made with the CLI on PostgreSQL is
# served by the running daemon, and the fetches land in PostgreSQL's
# fetch_log.  No output carries the database password.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3 curl
pg_start
N=40
export SIPPROV_KEY_FILE="$T/sp.key"

# fetch PORT DIR: every demo device's config (even: yealink .cfg, odd: json
# .json) and the Yealink common file, answering the digest challenge.
fetch() {
	python3 - "$1" "$N" "$2" "$ROOT/tests/support" <<'PY'
import http.client, os, sys
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sys.argv[4])
import digest
os.makedirs(out, exist_ok=True)
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", "/y000000000000.cfg"); open(out + "/y000000000000.cfg", "wb").write(c.getresponse().read())
bad = 0
for i in range(n):
    mac = "0015%08x" % (0x10000000 + i)
    path = "/%s.%s" % (mac, "json" if i % 2 else "cfg")
    status, body = digest.get(c, path, mac, "pw")
    if status != 200:
        print("# %s: %d" % (path, status)); bad += 1
    open(out + path, "wb").write(body)
print(n - bad)
PY
}

for db in "$T/sq.db" "$PGURL"; do
	name=sqlite; [ "$db" = "$PGURL" ] && name=postgresql
	"$SIPPROV" -d "$db" init >"$T/init-$name.out" 2>&1; ok $? "$name: sipprov init"
	"$SIPPROV" -d "$db" demo --devices $N --http-password pw >"$T/demo-$name.out" 2>&1
	ok $? "$name: sipprov demo --devices $N"
done
is "$(pg_sql sipprov 'SELECT count(*) FROM device')" $N "the devices are in PostgreSQL"
is "$("$SIPPROV" -d "$PGURL" device list | md5sum)" "$("$SIPPROV" -d "$T/sq.db" device list | md5sum)" \
	"device list: the same on both"

DB="$T/sq.db"
start_sipprovd -o key_file="$T/sp.key"
got=$(fetch "$PORT" "$T/f-sq"); is "$got" $N "sqlite: $N configs fetched"
stop_sipprovd
cp "$T/sipprovd.log" "$T/sipprovd-sqlite.log"

DB="$PGURL"
start_sipprovd -o key_file="$T/sp.key"
got=$(fetch "$PORT" "$T/f-pg"); is "$got" $N "postgresql: $N configs fetched"
# What legitimately differs: each account's SIP password and softphone
# token, which the demo draws at random (per run, whatever the backend).
mask() {
	mkdir -p "$2"
	for f in "$1"/*; do
		sed -E 's/(password[^=:]*[=:] *"?)[0-9a-f]{16,}/\1<random>/; s/("token": ")[0-9a-f]{16,}/\1<random>/' \
			"$f" > "$2/$(basename "$f")"
	done
}
mask "$T/f-sq" "$T/m-sq"; mask "$T/f-pg" "$T/m-pg"
is "$(ls "$T/f-pg" | wc -l)" $((N + 1)) "$N configs and the common file from PostgreSQL"
diff -r "$T/m-sq" "$T/m-pg" >"$T/diff.out"; ok $? "the same bytes from both backends, but the demo's random passwords and tokens"
sed 's/^/#   /' "$T/diff.out" | head -20
[ "$(grep -c '<random>' "$T/m-pg/001510000000.cfg")" -ge 1 ]; ok $? "  (which are there, masked)"
grep -q "sip.demo.test" "$T/f-pg/00151000000a.cfg"
ok $? "and they are real configs (registrar sip.demo.test)"

# A CLI write on PostgreSQL is served by the running daemon (config_gen).
"$SIPPROV" -d "$PGURL" template set demo main registrar=sip.changed.test >/dev/null 2>&1
ok $? "template set on PostgreSQL"
got=$(fetch "$PORT" "$T/f-pg2"); is "$got" $N "fetched again"
grep -q "sip.changed.test" "$T/f-pg2/00151000000a.cfg"; ok $? "the running daemon serves the new template version"
grep -q "sip.changed.test" "$T/f-pg2/001510000001.json"; ok $? "  on both layouts"

# Fetch records land in PostgreSQL (written by the daemon, maybe batched).
for _ in $(seq 1 100); do
	n=$(pg_sql sipprov "SELECT count(*) FROM fetch_log WHERE status = 200")
	[ "$n" -ge $((2 * N)) ] && break
	sleep 0.1
done
[ "$n" -ge $((2 * N)) ]; ok $? "fetch_log has the $((2 * N)) successful fetches ($n)"
is "$(pg_sql sipprov "SELECT count(*) FROM device_fetch WHERE fetched_at > 0")" $N "every device's fetched_at is set"
stop_sipprovd

# Firmware images on PostgreSQL need firmware_dir (a URL is no folder);
# without it, refused naming the key (and its error must not quote the
# password).  tests/t/2c serves them from one.
head -c 1000 /dev/urandom > "$T/fw.rom"
out=$("$SIPPROV" -d "$PGURL" firmware add "$T/fw.rom" --vendor yealink --model T46S --version 1 2>&1 | tee "$T/fw.out")
is "$out" "error: firmware images on PostgreSQL need firmware_dir (a folder every node reads, e.g. shared storage) in sipprovd.conf" \
	"firmware add on PostgreSQL without firmware_dir: refused naming the key"

if grep -rF -e "$PGPASS" "$T"/*.out "$T"/*.log >/dev/null 2>&1; then ok 1 "no output or log carries the password"
else ok 0 "no output or log carries the password"; fi
done_testing
