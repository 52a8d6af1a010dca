#!/bin/sh
# PostgreSQL migrations (issue 17) against a real throwaway cluster
# (tests/pglib.sh): `sipprov migrate` on a postgresql:// URL applies every
# schema/pg file and records it; again it is a no-op; two runs at once,
# both held at the advisory lock, apply each version exactly once between
# them; a down server, a bad URL and a wrong password give clear errors
# naming the URL without its password; a database newer than the binary or
# not sipprov's is refused; the other commands and sipprovd need the key
# file named, backup refuses by name (pg_dump).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql openssl
pg_start

# The harness itself: a private cluster, not a system service.
is "$(pg_sql sipprov 'SHOW fsync')" off "the test cluster runs with fsync off"
is "$(pg_sql sipprov 'SHOW data_directory')" "$PGDATA_T" "its data folder is in the test's temp folder"
is "$(pg_sql sipprov 'SHOW listen_addresses')" 127.0.0.1 "it listens on loopback only"
is "$(pg_sql sipprov 'SHOW unix_socket_directories')" "$PG_DIR" "its unix socket is in the temp folder"
owner=$(ps -o user= -p "$(head -1 "$PGDATA_T/postmaster.pid")")
if [ "$(id -u)" -eq 0 ]; then
	[ "$owner" != root ]; ok $? "as root, the server runs unprivileged ($owner)"
else
	is "$owner" "$(id -un)" "the server runs as this user"
fi

want_nums=$(ls "$ROOT"/schema/pg/*.sql | sed -n 's|.*/0*\([0-9][0-9]*\)_[^/]*$|\1|p' | sort -n | tr '\n' ' ')
want_n=$(ls "$ROOT"/schema/pg/*.sql | wc -l)
newest=$(printf %03d "$(echo "$want_nums" | awk '{print $NF}')")
shown=$(printf %s "$PGURL" | sed "s|sp:$PGPASS@|sp@|")

# A fresh database.
out=$("$SIPPROV" -d "$PGURL" migrate 2>&1); rc=$?
is "$rc" 0 "migrate a fresh PostgreSQL database: exit 0"
is "$out" "migrated database $shown from schema 000 to $newest ($want_n migrations)" \
	"it says what it did, naming the URL without its password"
is "$(pg_sql sipprov 'SELECT number FROM schema_migration ORDER BY number' | tr '\n' ' ')" "$want_nums" \
	"schema_migration records every schema/pg number"
names=$(ls "$ROOT"/schema/pg/*.sql | xargs -n1 basename | sed 's/\.sql$//' | tr '\n' ' ')
is "$(pg_sql sipprov 'SELECT name FROM schema_migration ORDER BY number' | tr '\n' ' ')" "$names" \
	"each under its file's name"
is "$(pg_sql sipprov 'SELECT id, gen FROM config_gen')" "1|1" "002's counter row is there, once"
# (fetch_log's and registration's day partitions, schema/pg 025, are their storage, not tables.)
is "$(pg_sql sipprov "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
	AND relkind IN ('r', 'p') AND NOT relispartition")" 27 "26 tables and schema_migration"
is "$(pg_sql sipprov "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" 0 "no advisory lock left held"

# Again: nothing to do, nothing rewritten.
before=$(pg_sql sipprov 'SELECT number, xmin, applied FROM schema_migration ORDER BY number' | tr '\n' ' ')
out=$("$SIPPROV" -d "$PGURL" migrate 2>&1); rc=$?
is "$rc" 0 "a second migrate: exit 0"
is "$out" "database $shown is at schema $newest: nothing to migrate" "it has nothing to migrate"
is "$(pg_sql sipprov 'SELECT number, xmin, applied FROM schema_migration ORDER BY number' | tr '\n' ' ')" \
	"$before" "no schema_migration row was rewritten"
pg_sql sipprov "INSERT INTO tenant (slug, created) VALUES ('kept', 0)" >/dev/null
"$SIPPROV" -d "$PGURL" migrate >/dev/null 2>&1
is "$(pg_sql sipprov "SELECT slug FROM tenant")" kept "data survives a migrate"

# Two at once (two nodes starting): both queue at the migration lock, held
# here by a third session, then run; each version is applied once.
RACE=$(pg_newdb race)
lock=$(awk '/define SP_PG_LOCK_MIGRATE/ {print $3}' "$ROOT/server/core/store.h")
lock=$(printf %d "${lock%LL}")
printf 'BEGIN;\nSELECT pg_advisory_xact_lock(%s);\nSELECT pg_sleep(3);\nCOMMIT;\n' "$lock" |
	psql "$RACE" -X -q -o /dev/null &
holder=$!
track_pid $holder
for _ in $(seq 1 100); do
	[ "$(pg_sql race "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
	sleep 0.05
done
"$SIPPROV" -d "$RACE" migrate >"$T/m1.out" 2>&1 &
m1=$!
"$SIPPROV" -d "$RACE" migrate >"$T/m2.out" 2>&1 &
m2=$!
track_pid $m1
track_pid $m2
waiting=0
for _ in $(seq 1 100); do
	waiting=$(pg_sql race "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
	[ "$waiting" = 2 ] && break
	sleep 0.05
done
is "$waiting" 2 "both migrate runs wait at the advisory lock"
wait $m1; rc1=$?
wait $m2; rc2=$?
wait $holder
is "$rc1 $rc2" "0 0" "both concurrent runs exit 0"
applied() { sed -n 's/.*(\([0-9]*\) migrations*)$/\1/p; s/.*nothing to migrate$/0/p' "$1"; }
a1=$(applied "$T/m1.out"); a2=$(applied "$T/m2.out")
is "$(( ${a1:-99} + ${a2:-99} ))" "$want_n" "between them they applied each of the $want_n migrations once ($a1 + $a2)"
[ "$rc1$rc2" = 00 ] || { sed 's/^/# m1: /' "$T/m1.out"; sed 's/^/# m2: /' "$T/m2.out"; }
is "$(pg_sql race 'SELECT number FROM schema_migration ORDER BY number' | tr '\n' ' ')" "$want_nums" \
	"every number recorded once"
is "$(pg_sql race 'SELECT count(*) FROM config_gen')" 1 "002's INSERT ran once"

# A migration that fails leaves nothing of itself: one transaction each.
# 021 creates console_user, then console_session, which is in the way here.
pg_sql race "DROP TABLE console_session; DROP TABLE console_user; CREATE TABLE console_session (x int);
	DELETE FROM schema_migration WHERE number = 21" >/dev/null
out=$("$SIPPROV" -d "$RACE" migrate 2>&1); rc=$?
is "$rc" 1 "a migration that fails: exit 1"
like "$out" "^error: database 'postgresql://sp@[^']*/race': migration 021_console_user: ERROR: +relation \"console_session\" already exists" \
	"the error names the migration and PostgreSQL's reason"
is "$(pg_sql race "SELECT to_regclass('console_user') IS NULL")" t "the table it created before failing is gone (rolled back)"
is "$(pg_sql race 'SELECT count(*) FROM schema_migration WHERE number = 21')" 0 "021 is not recorded"
pg_sql race "DROP TABLE console_session" >/dev/null
out=$("$SIPPROV" -d "$RACE" migrate 2>&1); rc=$?
like "$rc.$out" "^0.migrated database $(printf %s "$RACE" | sed "s|sp:$PGPASS@|sp@|") from schema [0-9]+ to $newest \\(1 migration\\)$" \
	"once the way is clear, migrate applies 021 alone"
is "$(pg_sql race 'SELECT count(*) FROM schema_migration WHERE number = 21')" 1 "and records it"

# Errors name the URL, never its password.
dead=$(free_port)
SECRET="s3cret-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
err_case() { # err_case URL SHOWN REGEX "what"
	out=$("$SIPPROV" -d "$1" migrate 2>&1); rc=$?
	is "$rc" 1 "$4: exit 1"
	like "$out" "^error: database '$2': $3" "$4: a clear error naming the URL"
	unlike "$out" "$SECRET" "$4: the password is not in it"
}
err_case "postgresql://sp:$SECRET@127.0.0.1:$dead/sipprov" "postgresql://sp@127.0.0.1:$dead/sipprov" \
	"cannot connect: .*port $dead failed: Connection refused" "a server that is down"
err_case "postgres://sp:$SECRET@[::1/sipprov" "postgres://sp@\[::1/sipprov" "not a valid PostgreSQL URL: .*IPv6" \
	"a malformed URL"
err_case "postgresql://sp:$SECRET@127.0.0.1:$PGPORT_T/sipprov" "postgresql://sp@127.0.0.1:$PGPORT_T/sipprov" \
	"cannot connect: .*password authentication failed" "a wrong password"
err_case "postgresql://sp@127.0.0.1:$PGPORT_T/sipprov?sslmode=disable&password=$SECRET" \
	"postgresql://sp@127.0.0.1:$PGPORT_T/sipprov\?sslmode=disable" "cannot connect: .*password authentication failed" \
	"a wrong password= parameter"
err_case "postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T/nosuchdb" "postgresql://sp@127.0.0.1:$PGPORT_T/nosuchdb" \
	"cannot connect: .*database \"nosuchdb\" does not exist" "a database that does not exist"

# Refusals: newer than the binary, not a sipprov database.
pg_sql race "INSERT INTO schema_migration VALUES (999, '999_future', 0)" >/dev/null
out=$("$SIPPROV" -d "$RACE" migrate 2>&1); rc=$?
is "$rc" 1 "a database with a migration this binary lacks: exit 1"
like "$out" "database 'postgresql://sp@[^']*/race' has schema 999, newer than this sipprov .*schema $newest" \
	"it names both versions"
OTHER=$(pg_newdb other)
pg_sql other "CREATE TABLE accounts (id int)" >/dev/null
out=$("$SIPPROV" -d "$OTHER" migrate 2>&1); rc=$?
is "$rc" 1 "a database of something else: exit 1"
like "$out" "is not a sipprov database \(it has 1 table but no schema_migration\)" "it says so"
is "$(pg_sql other "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 1 "and adds nothing to it"

# Every other command needs the shared key file named (no file is looked
# for beside a URL); backup refuses by name (pg_dump); none shows the
# password or creates a file named after the URL.  a0-pg-fetch.sh runs them.
mkdir "$T/cwd"
keyword="a PostgreSQL database needs its key file named (key_file in the configuration, or SIPPROV_KEY_FILE): every node uses the same one"
for cmd in "tenant list" "init" "device list" "status"; do
	out=$(cd "$T/cwd" && SIPPROV_KEY_FILE= "$SIPPROV" -d "$PGURL" $cmd 2>&1); rc=$?
	is "$rc" 1 "'$cmd' on PostgreSQL without a key file: exit 1"
	is "$out" "error: $keyword" "'$cmd': says the key file must be named"
done
out=$(cd "$T/cwd" && "$SIPPROV" -d "$PGURL" backup b.db 2>&1); rc=$?
is "$rc" 1 "'backup' on PostgreSQL: exit 1"
is "$out" "error: database '$shown': backup works on a SQLite file only: on PostgreSQL use pg_dump / pg_restore (and amcheck)" \
	"'backup': refused by name"
printf 'database = %s\n' "$PGURL" > "$T/pg.conf"
out=$(SIPPROV_DB= SIPPROV_KEY_FILE= "$SIPPROV" -f "$T/pg.conf" tenant list 2>&1); rc=$?
is "$rc" 1 "the same URL from the configuration file: refused too"
unlike "$out" "$PGPASS" "(without the password)"
out=$(SIPPROV_DB= "$SIPPROV" -f "$T/pg.conf" migrate 2>&1); rc=$?
is "$rc.$out" "0.database $shown is at schema $newest: nothing to migrate" "migrate takes the URL from the configuration file"
is "$(ls -A "$T/cwd")" "" "none of them created a file (no SQLite database named after the URL)"

# The daemon itself, not $SIPPROVD: under SP_BACKEND=pg that wrapper names
# the harness's key file, and these checks are about naming none.
timeout 20 "$SP_BUILD/sipprovd" -d -f /dev/null -o database="$PGURL" -o templates="$ROOT/templates" \
	-o http_listen=127.0.0.1:0 -o hep_listen= -o admin_listen=127.0.0.1:0 -o access_log="$T/access.log" \
	>"$T/d.log" 2>&1
rc=$?
is "$rc" 1 "sipprovd given a PostgreSQL URL but no key file exits 1 (does not serve)"
grep -qF "fatal: $keyword" "$T/d.log"; ok $? "and says why"
unlike "$(cat "$T/d.log")" "$PGPASS" "without the password"
unlike "$(cat "$T/d.log")" "listening" "it opened no listener"
out=$("$SP_BUILD/sipprovd" -n -f /dev/null -o database="$PGURL" -o templates="$ROOT/templates" \
	-o http_listen=127.0.0.1:0 -o hep_listen= -o admin_listen=127.0.0.1:0 2>&1); rc=$?
is "$rc.$out" "1.error: $keyword
configuration has 1 problem" "sipprovd -n without a key file: that one problem, said once"
openssl rand -hex 32 > "$T/k" && chmod 600 "$T/k"
out=$("$SIPPROVD" -n -f /dev/null -o database="$PGURL" -o key_file="$T/k" -o templates="$ROOT/templates" \
	-o http_listen=127.0.0.1:0 -o hep_listen= -o admin_listen=127.0.0.1:0 2>&1); rc=$?
is "$rc" 0 "sipprovd -n with a key file checks a PostgreSQL database"
is "$out" "configuration OK" "and finds it good"
unlike "$out" "$PGPASS" "without the password"

done_testing
