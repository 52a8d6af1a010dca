#!/bin/sh
# database_copy (issue 18): a node keeps the rows a render reads in a local
# SQLite file, caught up from PostgreSQL's change log (schema 029), and
# reads its render misses there, only once the copy has the generation
# the node knows.  One PostgreSQL cluster, node A with a copy and node B
# without, on the same database.
# (1) Every layout (a device of each, with a line, web passwords and a
#     firmware image) serves the same bytes from A's copy as from B's
#     database reads, and A read every miss in its copy.
# (2) Each kind of change is served by A at its first answer, and the copy
#     then equals the database, table by table; a change is caught up
#     from the log (not a reload), and secrets stay sealed in the file.
# (3) The copy held back (a lock on the log's floor): A serves the change
#     from the database, counted as behind; released, the copy again.
# (4) A copy older than the log's floor reloads every row.
# (5) The node keeping the history partitions prunes log rows older than
#     database_copy_keep and raises the floor; a restart makes a new copy.
# (6) PostgreSQL down: a miss is still served from the copy; back, the
#     copy catches up again, and says so.
# Also sipprovd -n's refusals.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3 curl sqlite3
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"
DB="$PGURL"
echo "firmware_dir = $T/firmware" >"$T/sp.conf"
export SIPPROV_CONF="$T/sp.conf"
sp() { "$SIPPROV" -d "$DB" "$@"; }
psq() { pg_sql sipprov "$@"; }

sp init >"$T/init.out" 2>&1; ok $? "sipprov init"
sp demo --devices 4 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo --devices 4"

# ---- sipprovd -n ----
check() {
	"$SIPPROVD" -n -f /dev/null -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 -o hep_listen= \
		-o admin_listen= -o key_file="$SIPPROV_KEY_FILE" "$@" 2>&1
}
out=$(check -o database="$DB" -o database_copy="$T/n.db"); rc=$?
is "$rc:$(printf '%s\n' "$out" | tail -1)" "0:configuration OK" "-n: a copy beside PostgreSQL passes"
out=$(check -o database="$T/some.db" -o database_copy="$T/n.db"); rc=$?
like "$rc:$out" "^1:.*'database_copy' needs a PostgreSQL 'database'" "-n: a copy beside a SQLite file, refused"
out=$(check -o database="$DB" -o database_copy="$DB"); rc=$?
like "$rc:$out" "^1:.*'database_copy' is a path to a local SQLite file" "-n: a URL as the copy, refused"
out=$(check -o database="$DB" -o database_copy="$T/n.db" -o database_copy_keep=5); rc=$?
like "$rc:$out" "^1:.*database_copy_keep" "-n: database_copy_keep under 60 s, refused"
[ ! -e "$T/n.db" ]; ok $? "  -n made no copy"
"$SIPPROV" -d "$T/other.db" init >/dev/null 2>&1
out=$(check -o database="$DB" -o database_copy="$T/other.db"); rc=$?
like "$rc:$out" "^1:error: database copy '$T/other.db' exists and is not a sipprov copy: not replaced" \
	"-n: a copy path holding a SQLite database, refused"
out=$(check -o database="$DB" -o database_copy="$T/no/such/dir/c.db"); rc=$?
like "$rc:$out" "^1:error: database copy '$T/no/such/dir/c.db': cannot create files in $T/no/such/dir" \
	"-n: a copy in a folder that does not exist, refused"

# ---- a device of every layout ----
printf 'Adm1n-pass\n' >"$T/admin.pw"; printf 'Us3r-pass\n' >"$T/user.pw"
sp web-password set --tenant demo --admin-file "$T/admin.pw" --user-file "$T/user.pw" >"$T/wp.out" 2>&1
ok $? "web passwords for the tenant"
head -c 4096 /dev/urandom >"$T/fw.rom"
sp firmware add "$T/fw.rom" --vendor yealink --model T46S --version 66.86.0.15 >"$T/fw.out" 2>&1
ok $? "a firmware image"
: >"$T/fetches"
i=0
for L in cisco fanvil-xml grandstream polycom snom fanvil yealink json linphone; do
	i=$((i + 1))
	mac=$(printf '0015650000%02x' $i)
	MAC=$(echo "$mac" | tr a-f A-F)
	sp device add $mac --tenant demo --layout $L --model T46S --label "L$i" >>"$T/add.out" 2>&1 || bail "device add $L"
	out=$(sp account add $mac --username 30$i --auth-username k30$i --password "Secret-30$i-x" 2>&1) ||
		bail "account add $L: $out"
	pw=$(sp device credentials $mac | sed -n 's/^  password: *//p')
	case $L in
	cisco) path=/spa$mac.xml ;; grandstream) path=/cfg$mac.xml ;; polycom) path=/$mac-phone.cfg ;;
	snom) path=/$MAC.xml ;; json) path=/$mac.json ;;
	linphone) path=$(printf '%s\n' "$out" | sed -n 's|^token url: http://[^/]*||p') ;;
	*) path=/$mac.cfg ;;
	esac
	echo "$path $mac $pw" >>"$T/fetches"
done
echo "/001510000000.cfg 001510000000 pw" >>"$T/fetches"
echo "/001510000001.json 001510000001 pw" >>"$T/fetches"
sp web-password set --device 001565000007 --admin-file "$T/user.pw" >>"$T/wp.out" 2>&1
ok $? "a device's own web password"

# fetch_all PORT: "path status sha256" of each file in $T/fetches, answering
# the digest challenge as a phone does.
cat >"$T/fetch_all.py" <<'EOF'
import hashlib, http.client, sys
sys.path.insert(0, sys.argv[2])
import digest
for line in open(sys.argv[3]):
    path, mac, pw = line.split()
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    st, body = digest.get(c, path, mac, pw)
    c.close()
    print(path, st, hashlib.sha256(body).hexdigest(), len(body))
EOF
fetch_all() { python3 "$T/fetch_all.py" "$1" "$ROOT/tests/support" "$T/fetches"; }

# A database_copy naming a file that is not a copy: refused, never removed;
# the node serves from the database.
sum0=$(sha256sum <"$T/other.db")
pg_node_start X -o threads=1 -o database_copy="$T/other.db"
r=$(pg_node_get $NODE_PORT /001510000000.cfg); is "$r" 200 "a copy path holding another database: the node serves"
for _ in $(seq 100); do grep -q "not a sipprov copy" "$T/X.log" && break; sleep 0.05; done
like "$(cat "$T/X.log")" "database copy '$T/other.db' exists and is not a sipprov copy: not replaced" \
	"  and says it will not replace that file"
is "$(sha256sum <"$T/other.db")" "$sum0" "  the file is untouched"
SIPPROVD_PID=$NODE_PID; stop_sipprovd

COPY="$T/copy.db"
pg_node_start A -o threads=1 -o database_copy="$COPY" -o admin_listen=127.0.0.1:0 -o log_level=debug
PORT_A=$NODE_PORT; PID_A=$NODE_PID
ADMIN_A=$(sed -n 's/^admin http listening on .* port \([0-9][0-9]*\)$/\1/p' "$T/A.log" | head -1)
pg_node_start B -o threads=1
PORT_B=$NODE_PORT
metric() { curl -s "http://127.0.0.1:$ADMIN_A/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
reads() { echo "$(metric 'sipprov_render_reads_total{server="copy"}'):$(metric 'sipprov_render_reads_total{server="primary"}')"; }
behind() { metric 'sipprov_copy_fallbacks_total{reason="behind"}'; }
gen_p() { psq "SELECT gen FROM config_gen"; }
gen_c() { sqlite3 "$COPY" "SELECT gen FROM config_gen"; }
# in_step: until the copy has the database's generation (10 s at most).
in_step() {
	for _ in $(seq 200); do [ "$(gen_c 2>/dev/null)" = "$(gen_p)" ] && return 0; sleep 0.05; done
	return 1
}
in_step; ok $? "(1) A's copy reaches the database's generation ($(gen_p))"
like "$(cat "$T/A.log")" "database copy '$COPY': loaded [0-9]+ rows at generation $(gen_p) in [0-9]+ ms" \
	"  A logs the load"
is "$(stat -c %a "$COPY")" 600 "  the copy is private (0600)"
is "$(sqlite3 "$COPY" "PRAGMA journal_mode")" wal "  in WAL mode once loaded (readers beside its writer)"

# (1) The same bytes from the copy as from the database.
n=$(wc -l <"$T/fetches")
fetch_all $PORT_A >"$T/a1"; fetch_all $PORT_B >"$T/b1"
is "$(awk '$2 == 200' "$T/a1" | wc -l)" "$n" "(1) A serves all $n files (9 layouts and the demo's)"
cmp -s "$T/a1" "$T/b1"; ok $? "  byte for byte what B reads from the database"
[ $? = 0 ] || diff "$T/a1" "$T/b1" | sed 's/^/# /'
is "$(reads)" "$n:0" "  every miss read in A's copy (copy:primary reads)"

# dumps_equal: every copied table, row by row, the same in both, but for
# what the fetch writer keeps on the device row (fetched_*: no render
# reads it, and it changes without a generation).
TABLES="tenant template template_version device account web_password firmware"
dumps_equal() {
	bad=""
	for t in $TABLES; do
		cols=$(sqlite3 "$COPY" "SELECT group_concat(name, ', ') FROM pragma_table_info('$t') \
			WHERE name NOT LIKE 'fetched%' AND name NOT LIKE 'last_code%'")
		psq "SELECT $cols FROM $t ORDER BY id" >"$T/pg.$t"
		sqlite3 "$COPY" "SELECT $cols FROM $t ORDER BY id" >"$T/copy.$t"
		cmp -s "$T/pg.$t" "$T/copy.$t" || bad="$bad $t"
	done
	[ -z "$bad" ] || { echo "# differ:$bad"; return 1; }
}
dumps_equal; ok $? "(1) the copy's render tables equal the database's"
is "$(sqlite3 "$COPY" "SELECT count(*) FROM fetch_log") $(sqlite3 "$COPY" "SELECT count(*) FROM audit_log")" "0 0" \
	"  and it holds nothing else (no fetch history, no audit)"
grep -a -c "Secret-30" "$COPY" >"$T/plain"; is "$(cat "$T/plain")" 0 "  no line password in clear in the file"

# (2) Each change at A's first answer, from a render miss.
fresh() {       # fresh PATH WANT ARGS...: the first answer after `sipprov ARGS` has WANT
	_p=$1; _w=$2; shift 2
	r=$(pg_node_get $PORT_A "$_p" "$_w" 0 "$SIPPROV" -d "$DB" "$@")
	like "$r" '^200 [0-9]' "(2) $* : new at A's first answer"
}
Y=/001510000000.cfg     # a demo Yealink (digest password pw)
fresh $Y 'sip.copy.test' template set demo main registrar=sip.copy.test
fresh $Y 'Reception 7' account set 001510000000 --display-name "Reception 7"
printf 'N3w-admin-pw\n' >"$T/admin2.pw"
fresh $Y 'N3w-admin-pw' web-password set --tenant demo --admin-file "$T/admin2.pw"
fresh $Y 'sip.label.test' device set 001510000000 registrar=sip.label.test
in_step; ok $? "(2) the copy catches up"
dumps_equal; ok $? "  and equals the database again"
grep -q "database copy '$COPY': generation [0-9]* to [0-9]*, [0-9]* rows changed" "$T/A.log"
ok $? "  changes came from the log, not a reload"
is "$(grep -c "database copy '$COPY': loaded" "$T/A.log")" 1 "  one load only, at start"
[ "$(metric 'sipprov_copy_updates_total{kind="full"}')" = 1 ] && [ "$(metric 'sipprov_copy_updates_total{kind="log"}')" -ge 4 ]
ok $? "  counted: 1 full load, $(metric 'sipprov_copy_updates_total{kind="log"}') catch-ups from the log"

sp device rm 001565000005 >"$T/rm.out" 2>&1; ok $? "(2) a device removed"
in_step
a=$(pg_node_get $PORT_A /001565000005.cfg); b=$(pg_node_get $PORT_B /001565000005.cfg)
is "$a" "$b" "  A answers for it as B does ($b)"
is "$(sqlite3 "$COPY" "SELECT count(*) FROM device WHERE mac = '001565000005'"):$(sqlite3 "$COPY" \
	"SELECT count(*) FROM account WHERE username = '305'")" "0:0" "  gone from the copy with its line"
sp firmware rm --vendor yealink --model T46S --version 66.86.0.15 >"$T/fwrm.out" 2>&1
ok $? "(2) the firmware image removed"
in_step; dumps_equal; ok $? "  the copy equals the database after the removals"
fetch_all $PORT_A >"$T/a2"; fetch_all $PORT_B >"$T/b2"
cmp -s "$T/a2" "$T/b2"; ok $? "  every file the same bytes from A as from B again"

# (3) The copy held back: a transaction holding the log's floor locked
# stops the copy's catch-up (it reads the floor), not the writers.
mkfifo "$T/lock.fifo"
psql "postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T/sipprov" -X -q <"$T/lock.fifo" >"$T/lock.out" 2>&1 &
LOCK_PID=$!
exec 3>"$T/lock.fifo"
echo "BEGIN; LOCK TABLE render_change_floor IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&3
for _ in $(seq 100); do grep -q locked "$T/lock.out" && break; sleep 0.05; done
g_held=$(gen_c)
b0=$(behind); r0=$(reads)
fresh /001510000001.json 'sip.held.test' template set demo main registrar=sip.held.test
is "$(gen_c)" "$g_held" "(3) the copy is held at its generation ($g_held, the database at $(gen_p))"
[ "$(behind)" -gt "$b0" ]; ok $? "  A found it behind ($b0 then $(behind)) and read the database ($r0 then $(reads))"
echo "COMMIT;" >&3; exec 3>&-; wait $LOCK_PID
in_step; ok $? "(3) released: the copy catches up"
r0=$(reads)
r=$(pg_node_get $PORT_A /001510000002.cfg sip.held.test 0); like "$r" '^200 [0-9]' "  A serves the change"
is "$(reads)" "$((${r0%:*} + 1)):${r0#*:}" "  read in the copy again (copy:primary $r0 then $(reads))"

# (4) Older than the log's floor: every row again.  A paused, a change,
# and the log pruned past it (as after a long outage).
kill -STOP $PID_A
sp device set 001510000001 registrar=sip.floor.test >"$T/floor.out" 2>&1
psq "UPDATE render_change_floor SET gen = (SELECT gen FROM config_gen); DELETE FROM render_change" >/dev/null
kill -CONT $PID_A
in_step; ok $? "(4) the copy catches up past the floor"
like "$(cat "$T/A.log")" "loaded [0-9]+ rows at generation $(gen_p) in [0-9]+ ms \\(it was older than the change log\\)" \
	"  by reloading every row, and says why"
dumps_equal; ok $? "  and equals the database"
r=$(pg_node_get $PORT_A /001510000001.json sip.floor.test 0); like "$r" '^200 [0-9]' "  A serves the change"

# (5) A restart: the node that keeps the history partitions (A held their
# lock; B tried at its start) prunes log rows older than
# database_copy_keep at its start, raising the floor past them; a new
# copy is loaded.
sp device set 001510000001 registrar=sip.before.test >/dev/null 2>&1
sp device set 001510000001 registrar=sip.pruned.test >/dev/null 2>&1
top=$(psq "SELECT max(gen) FROM render_change")
psq "UPDATE render_change SET at = at - 3600" >/dev/null
SIPPROVD_PID=$PID_A; stop_sipprovd
pg_node_start A2 -o threads=1 -o database_copy="$COPY" -o admin_listen=127.0.0.1:0 -o database_copy_keep=600
PORT_A=$NODE_PORT; PID_A=$NODE_PID
ADMIN_A=$(sed -n 's/^admin http listening on .* port \([0-9][0-9]*\)$/\1/p' "$T/A2.log" | head -1)
for _ in $(seq 100); do [ "$(psq "SELECT count(*) FROM render_change")" = 0 ] && break; sleep 0.05; done
is "$(psq "SELECT count(*) FROM render_change"):$(psq "SELECT gen FROM render_change_floor")" "0:$top" \
	"(5) the restarted node pruned the hour-old log rows and raised the floor to $top"
like "$(cat "$T/A2.log")" "retention: removed [0-9]+ change-log rows older than 600 s \\(database_copy_keep\\)" "  and says so"
in_step; ok $? "  its new copy has the database's generation"
r=$(pg_node_get $PORT_A /001510000001.json sip.pruned.test 0); like "$r" '^200 [0-9]' "  and serves the last change"

# (6) PostgreSQL down, then back: a miss the node can serve at the
# generation it knows is still read in its copy; then it catches up.
r0=$(reads)
pg_down
r=$(pg_node_get $PORT_A /001510000003.json); is "$r" 200 "(6) PostgreSQL down: A serves a config it had not cached"
is "$(reads | cut -d: -f1)" "$((${r0%:*} + 1))" "  read in its copy ($r0 then $(reads))"
r=$(pg_node_get $PORT_B /001510000003.json); is "$r" 500 "  where B, without a copy, cannot"
pg_up
for _ in $(seq 40); do sp device set 001510000001 registrar=sip.restart.test >/dev/null 2>&1 && break; sleep 0.25; done
r=$(pg_node_get $PORT_A /001510000001.json sip.restart.test 10); like "$r" '^200 [0-9]' "(6) after a PostgreSQL restart, A serves a change"
in_step; ok $? "  the copy catches up"
grep -q "database copy '$COPY': in step with the database again" "$T/A2.log"; ok $? "  and says so"
r0=$(reads)
r=$(pg_node_get $PORT_A $Y); is "$r" 200 "  a miss"
is "${r0%:*}" "$(($(reads | cut -d: -f1) - 1))" "  read in the copy ($r0 then $(reads))"

SIPPROVD_PID=$PID_A; stop_sipprovd
if grep -rF -e "$PGPASS" "$T"/*.log >/dev/null 2>&1; then ok 1 "no log carries the password"
else ok 0 "no log carries the password"; fi
done_testing
