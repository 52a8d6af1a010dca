#!/bin/sh
# sipprov backup / restore against a live system: a backup taken while a
# 60,000-row import holds its write transaction and sipprovd serves fetches
# (and records them) is a consistent snapshot: integrity_check passes, the
# import is in it all or not at all, every device's last fetch matches its
# fetch_log.  Restored into a new path it dumps identically to the backup.
# Taken when the load stops (sipprovd still running) it dumps identically to
# the live database.  Backups are 0600 whatever the umask, never overwrite
# without --force, carry the key only with --with-key.  Restore refuses a
# truncated or damaged file, a newer one, another database's backup (key),
# and the live database while sipprovd holds it; each refusal writes nothing.
. "$(dirname "$0")/../lib.sh"
only_backend sqlite "sipprov backup / restore copy a SQLite file (online backup API, file modes, -wal/-shm, \
a damaged file); PostgreSQL has pg_dump and replicas"
need sqlite3 curl sha256sum awk python3
umask 022
sum() { sha256sum < "$1" | cut -c1-32; }
dump() { sqlite3 "$1" .dump; }

sp init >/dev/null || bail "init"
sp demo --tenant bench --devices 200 >/dev/null || bail "demo"
sp tenant add imp >/dev/null || bail "tenant"
sp template set imp main registrar=sip.imp.test server=sip.imp.test port=5060 transport=udp >/dev/null || bail "template"
# 60,000 rows: with 20,000 the import's write transaction sometimes ended
# before the backup under a loaded suite run (checks 2, 4, 10, 36 failed).
N=60000
awk -v n=$N 'BEGIN {
	print "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password"
	for (i = 1; i <= n; i++)
		printf "00156%07x,yealink,T46G,desk %d,main,1,User %d,%d,u%06d,a%06dx,pw-%d\n", i, i, i, 1000 + i, i, i, i
}' > "$T/imp.csv"
# The bench tenant's devices fetch without credentials from loopback.
start_sipprovd -o insecure_loopback=yes

# Fetch load: 100 yealink devices of the bench tenant, 10 per curl, until told to stop.
urls=""
for i in $(seq 0 2 198); do urls="$urls $(printf '%s/0015%08x.cfg' "$URL" $((0x10000000 + i)))"; done
(
	while [ ! -e "$T/stop" ]; do
		for u in $urls; do printf -- '-o /dev/null %s ' "$u"; done | xargs -n 30 curl -s -w '%{http_code}\n'
		sleep 0.2   # steady load, leaving the shared CPUs to the import
	done > "$T/codes"
) &
LOAD=$!
track_pid "$LOAD"
for _ in $(seq 1 100); do [ -s "$T/codes" ] && break; sleep 0.05; done
[ -s "$T/codes" ]; ok $? "fetch load running"

# The import: wait until its write transaction holds the lock, then back up.
sp import "$T/imp.csv" --tenant imp > "$T/import.out" 2>&1 &
IMP=$!
track_pid "$IMP"
locked() { python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try: c.execute("BEGIN IMMEDIATE"); c.execute("ROLLBACK"); sys.exit(1)
except sqlite3.OperationalError: sys.exit(0)' "$DB"; }
n=0
for _ in $(seq 1 200); do
	if locked; then n=$((n + 1)); [ $n -ge 3 ] && break; else n=0; fi
	sleep 0.03
done
ok $((n < 3)) "the import holds its write transaction"
umask 000
out=$(sp backup "$T/during.db" 2>&1); rc=$?
umask 022
kill -0 "$IMP" 2>/dev/null; imp_alive=$?
is "$rc" 0 "backup during the import and the fetch load: exit 0 ($(echo "$out" | head -1))"
ok $imp_alive "the import was still running when the backup finished"
is "$(stat -c %a "$T/during.db")" 600 "the backup is mode 0600 with umask 000"
ls "$T"/during.db-* "$T"/during.db.tmp* >/dev/null 2>&1; ok $((! $?)) "no -wal, -shm or temporary file left beside it"
wait "$IMP"; is $? 0 "the import finished: $(cat "$T/import.out")"
is "$(sqlite3 "$DB" "SELECT count(*) FROM device d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = 'imp'")" $N \
	"live database: $N imported devices"
is "$(sqlite3 "$T/during.db" 'PRAGMA integrity_check')" ok "the backup passes integrity_check"
is "$(sqlite3 "$T/during.db" "SELECT count(*) FROM device d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = 'imp'")" 0 \
	"it holds none of the import, whose transaction was open (all or nothing)"

# A second backup while the fetch load goes on: the import is in it, whole.
sp backup "$T/loaded.db" >/dev/null; ok $? "backup under fetch load"
fetches=$(sqlite3 "$T/loaded.db" "SELECT count(*) FROM fetch_log")
ok $((fetches == 0)) "fetches recorded in it: $fetches"
live=$(sqlite3 "$DB" "SELECT count(*) FROM fetch_log")
ok $((live < fetches)) "the live database has them too, and more since: $live"
is "$(sqlite3 "$T/loaded.db" "SELECT (SELECT count(*) FROM device d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = 'imp')||'/'||(SELECT count(*) FROM account a JOIN device d ON d.id = a.device_id JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = 'imp')")" \
	"$N/$N" "all $N imported devices and their accounts"
# The fetch writer appends fetch_log and moves device_fetch in one
# transaction, but under load it keeps device_fetch's changes in memory and
# writes them within seconds (store_fetch.c); fetch_written names the
# newest history row that every chain head in the file covers.  In a
# snapshot: no head is older than that, and what came after it is linked
# when a sipprovd opens the file (checked on the restored copy below).
behind_sql="SELECT count(*) FROM device_fetch df WHERE df.fetched_log < coalesce((SELECT max(id) FROM fetch_log f
	WHERE f.device_id = df.device_id AND f.id <= (SELECT log FROM fetch_written)), 0)"
lagging_sql="SELECT count(*) FROM device_fetch df WHERE df.fetched_log < coalesce((SELECT max(id) FROM fetch_log f
	WHERE f.device_id = df.device_id), 0)"
for b in during loaded; do
	is "$(sqlite3 "$T/$b.db" "$behind_sql")" 0 \
		"$b: no chain head older than the history row fetch_written names ($(sqlite3 "$T/$b.db" 'SELECT log FROM fetch_written'))"
	diag "$b: $(sqlite3 "$T/$b.db" "$lagging_sql") devices' newest fetches after it, kept in the writer's memory"
done
sp -d "$T/restored.db" restore "$T/loaded.db" >/dev/null 2>&1; ok $? "restore into a new path"
is "$(stat -c %a "$T/restored.db")" 600 "the restored database is mode 0600"
dump "$T/loaded.db" > "$T/loaded.dump"
dump "$T/restored.db" > "$T/restored.dump"
cmp -s "$T/loaded.dump" "$T/restored.dump"; ok $? "restored database dumps identically to the backup"

# Load stopped (sipprovd still running): the backup is the live database.
touch "$T/stop"; wait "$LOAD"
is "$(grep -vc '^200$' "$T/codes")" 0 "every one of $(wc -l < "$T/codes") fetches during the backups got 200"
sleep 1.5   # the daemon's fetch writer flushes its queue
sp backup "$T/idle.db" >/dev/null; ok $? "backup with sipprovd running, idle"
dump "$DB" > "$T/live.dump"
sp -d "$T/idle-restored.db" restore "$T/idle.db" >/dev/null 2>&1; ok $? "restored into a new path"
dump "$T/idle-restored.db" > "$T/idle.dump"
cmp -s "$T/live.dump" "$T/idle.dump"; ok $? "it dumps identically to the live database ($(wc -l < "$T/live.dump") lines)"

# Overwrite, --force, --with-key.
s0=$(sum "$T/idle.db")
out=$(sp backup "$T/idle.db" 2>&1); rc=$?
is "$rc" 1 "an existing backup file is not overwritten"
like "$out" "'$T/idle.db' exists: refusing to overwrite it \(--force replaces it\)" "and says why"
is "$(sum "$T/idle.db")" "$s0" "it is unchanged"
sp backup "$T/idle.db" --force >/dev/null; ok $? "--force replaces it"
[ ! -e "$T/idle.db.key" ]; ok $? "no key file without --with-key"
out=$(sp backup "$T/withkey.db" --with-key); ok $? "backup --with-key"
is "$(stat -c %a "$T/withkey.db.key")" 600 "FILE.key is mode 0600"
cmp -s "$T/withkey.db.key" "$DB.key"; ok $? "FILE.key is the database's key"

# Restore refuses while sipprovd holds the database; nothing written.
dump "$DB" > "$T/before-refused.dump"
out=$(sp restore "$T/during.db" 2>&1); rc=$?
is "$rc" 1 "restore over the live database while sipprovd runs: refused"
like "$out" "in use by another process \(a running sipprovd, an import\): stop it first" "and says to stop sipprovd"
stop_sipprovd
dump "$DB" | cmp -s - "$T/before-refused.dump"; ok $? "the live database is unchanged (.dump equal)"

# Stopped: restore the mid-import backup over the live database.
out=$(sp restore "$T/during.db"); rc=$?
is "$rc" 0 "restore over the live database with sipprovd stopped ($out)"
is "$(sqlite3 "$DB" "SELECT count(*) FROM device d JOIN tenant t ON t.id = d.tenant_id WHERE t.slug = 'imp'")" 0 \
	"the live database is the backup again (no import)"
dump "$T/during.db" > "$T/during.dump"
dump "$DB" > "$T/after.dump"
cmp -s "$T/during.dump" "$T/after.dump"; ok $? "and dumps identically to it"
start_sipprovd -o insecure_loopback=yes
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/001510000000.cfg")" 200 "sipprovd serves from the restored database"
stop_sipprovd

# The backup taken under load, restored: a sipprovd opening it links the
# fetches its writer had not written yet (fetch_recover), so every device's
# head is its newest history row and its last fetch its newest 200.
LIVE_DB=$DB; DB=$T/restored.db
cp "$LIVE_DB.key" "$DB.key"   # restored without --with-key: the same key
start_sipprovd -o insecure_loopback=yes
stop_sipprovd
DB=$LIVE_DB
is "$(sqlite3 "$T/restored.db" "$lagging_sql")" 0 "restored under-load backup, after sipprovd opened it: every chain head is its device's newest row"
is "$(sqlite3 "$T/restored.db" "SELECT count(*) FROM device d JOIN device_fetch df ON df.device_id = d.id
	WHERE df.fetched_at != coalesce((SELECT max(at) FROM fetch_log f WHERE f.device_id = d.id AND f.status = 200), 0)")" 0 \
	"and every device's last fetch matches its fetch_log"
is "$(sqlite3 "$T/restored.db" "SELECT log = (SELECT max(id) FROM fetch_log) FROM fetch_written")" 1 \
	"fetch_written names its newest history row"

# A fresh database and key elsewhere: the pair from --with-key restores it.
sp -d "$T/new.db" restore "$T/withkey.db" --with-key >/dev/null; ok $? "restore --with-key into a new path"
cmp -s "$T/new.db.key" "$DB.key"; ok $? "the key file came with it"
is "$(stat -c %a "$T/new.db.key")" 600 "mode 0600"
"$SIPPROV" -d "$T/other.db" init >/dev/null
s0=$(sum "$T/other.db")
out=$("$SIPPROV" -d "$T/other.db" restore "$T/withkey.db" 2>&1); rc=$?
is "$rc" 1 "restore of another database's backup under this key: refused"
like "$out" "key check failed.*pass --with-key" "it names the key and --with-key"
is "$(sum "$T/other.db")" "$s0" "nothing written"

# Damaged backups: truncated, bytes overwritten, not a database at all, newer.
s0=$(sum "$DB")
head -c $(( $(stat -c %s "$T/idle.db") / 2 )) "$T/idle.db" > "$T/truncated.db"
cp "$T/idle.db" "$T/flipped.db"
for p in 3 5 7 9; do   # page headers of b-tree pages (4096-byte pages)
	printf '\377\377\377\377\377\377\377\377' | dd of="$T/flipped.db" bs=1 seek=$((p * 4096)) conv=notrunc 2>/dev/null
done
head -c 8192 /dev/urandom > "$T/noise.db"
cp "$T/idle.db" "$T/newer.db"
sqlite3 "$T/newer.db" "INSERT INTO schema_migration VALUES (999, '999_future', 0)"
for f in truncated flipped noise; do
	out=$(sp restore "$T/$f.db" 2>&1); rc=$?
	is "$rc" 1 "restore of a $f file: refused"
	like "$out" "integrity_check|not a database|malformed" "$f: the error says the file is damaged ($(printf '%s' "$out" | head -1 | cut -c1-120))"
done
out=$(sp restore "$T/newer.db" 2>&1); rc=$?
is "$rc" 1 "restore of a backup newer than the binary: refused"
like "$out" "has schema 999, newer than this sipprov" "names both versions"
is "$(sum "$DB")" "$s0" "none of the refused restores wrote anything"
out=$(sp -d "$T/fromdamaged.db" restore "$T/truncated.db" 2>&1)
[ ! -e "$T/fromdamaged.db" ]; ok $? "a refused restore into a new path creates nothing"
done_testing
