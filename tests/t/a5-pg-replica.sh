#!/bin/sh
# Render misses read from a streaming replica (issue 17, database_replica),
# gated by generation: a primary and a streaming replica on loopback
# (pg_basebackup -R, as a3), one sipprovd with database = the primary and
# database_replica = the replica.  (1) The replica caught up: a render
# miss is read there (the replica's statement log and
# sipprov_render_reads_total).  (2) Replay paused on the replica, a CLI
# change on the primary: the node serves the new config, read from the
# primary, never the replica's old one.  (3) Replay resumed: misses are
# read from the replica again.  (4) The replica stopped: fresh configs from
# the primary, the outage logged once with the URL without its password,
# and the replica used again once it is back.  Also sipprovd -n on the key.
# It starts the two servers it needs, whatever SP_BACKEND says (own_clusters).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3 curl
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"
DB="$PGURL"

"$SIPPROV" -d "$DB" init >"$T/init.out" 2>&1; ok $? "sipprov init on the primary"
"$SIPPROV" -d "$DB" demo --devices 4 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo --devices 4"
CFG=/001510000000.cfg

# The replica logs every statement: what it answered is read from there,
# not only from sipprovd's own counters.
pg_replica -c log_statement=all
REPURL="postgresql://sp:$PGPASS@127.0.0.1:$REP_PORT/sipprov"
REP_SHOWN="postgresql://sp@127.0.0.1:$REP_PORT/sipprov"
rsql() { psql "$REPURL" -X -q -A -t -c "$1"; }
is "$(rsql 'SELECT pg_is_in_recovery()')" t "  as a standby"

gen_p() { pg_sql sipprov "SELECT gen FROM config_gen"; }
gen_r() { rsql "SELECT gen FROM config_gen"; }
# caught_up: until the replica has the primary's generation (10 s at most).
caught_up() {
	for _ in $(seq 200); do [ "$(gen_r)" = "$(gen_p)" ] && return 0; sleep 0.05; done
	return 1
}
caught_up; ok $? "the replica has the primary's generation ($(gen_p))"

# ---- sipprovd -n on the key ----
check() {
	"$SIPPROVD" -n -f /dev/null -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
		-o hep_listen= -o admin_listen= -o key_file="$SIPPROV_KEY_FILE" "$@" 2>&1
}
out=$(check -v -o database_replica="$REPURL"); rc=$?
is "$rc:$(printf '%s\n' "$out" | tail -1)" "0:configuration OK" "-n: the replica passes"
like "$out" "database_replica = $REP_SHOWN\$" "  -v shows database_replica without its password"
case "$out" in *"$PGPASS"*) ok 1 "  -v shows no password (database nor replica)" ;;
	*) ok 0 "  -v shows no password (database nor replica)" ;; esac
out=$(check -o database_replica="mysql://127.0.0.1/x"); rc=$?
like "$rc:$out" "^1:.*'database_replica' must be a postgresql:// or postgres:// URL" "-n: not a PostgreSQL URL, refused"
out=$("$SIPPROVD" -n -f /dev/null -o database="$T/some.db" -o database_replica="$REPURL" 2>&1); rc=$?
like "$rc:$out" "^1:.*'database_replica' needs a PostgreSQL 'database'" "-n: a replica beside a SQLite file, refused"
out=$(check -o database_replica="postgresql://127.0.0.1/x?nosuchoption=1"); rc=$?
like "$rc:$out" "^1:.*'database_replica': .* is not a valid PostgreSQL URL" "-n: a URL libpq does not parse, refused"
DOWN_PORT=$(free_port)
out=$(check -o database_replica="postgresql://sp:$PGPASS@127.0.0.1:$DOWN_PORT/sipprov"); rc=$?
like "$rc:$out" "^0:warning: database_replica: database 'postgresql://sp@127.0.0.1:$DOWN_PORT/sipprov': cannot connect" \
	"-n: an unreachable replica is a warning (sipprovd reads from the primary)"
OTHER=$(pg_newdb other)
SIPPROV_KEY_FILE="$T/other.key" "$SIPPROV" -d "$OTHER" init >"$T/other.out" 2>&1
out=$(check -o database_replica="$OTHER"); rc=$?
like "$rc:$out" "^1:error: database_replica .*: the key file does not match" "-n: another database's replica (its key), refused"
case "$out" in *"$PGPASS"*) ok 1 "  no password in what -n printed" ;; *) ok 0 "  no password in what -n printed" ;; esac

# ---- the node ----
# One HTTP thread: one replica connection, one render per miss, counted.
pg_node_start B -o threads=1 -o database_replica="$REPURL" -o admin_listen=127.0.0.1:0
PORT_B=$NODE_PORT; SIPPROVD_PID=$NODE_PID
ADMIN_PORT=$(sed -n 's/^admin http listening on .* port \([0-9][0-9]*\)$/\1/p' "$T/B.log" | head -1)
metric() {
	curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v s="$1" '$1 == s { print $2 }'
}
reads_r() { metric 'sipprov_render_reads_total{server="replica"}'; }
reads_p() { metric 'sipprov_render_reads_total{server="primary"}'; }
behind() { metric 'sipprov_replica_fallbacks_total{reason="behind"}'; }
down() { metric 'sipprov_replica_fallbacks_total{reason="down"}'; }
# Device rows the replica was asked for, by sipprovd (its statements name
# the table; psql here never reads it there).
dev_r() { grep -c 'FROM device' "$PG_DIR/replica.log"; }
grep -q "database replica '$REP_SHOWN': render misses read there" "$T/B.log"
ok $? "B names its replica at start, without the password"

# (1) Caught up: the miss is read on the replica.
d0=$(dev_r)
r=$(pg_node_get $PORT_B $CFG sip.demo.test 5); like "$r" '^200 [0-9]' "(1) B serves $CFG"
is "$(reads_r):$(reads_p)" "1:0" "(1) the render miss was read on the replica, not the primary (replica:primary reads)"
d1=$(dev_r)
[ "$d1" -gt "$d0" ]; ok $? "(1) the replica's log has sipprovd's device read ($d0 then $d1 statements)"

# (2) Replay paused: the replica keeps the old generation; the node learns
# the new one from the primary and must not serve the replica's config.
rsql "SELECT pg_wal_replay_pause()" >/dev/null
for _ in $(seq 100); do [ "$(rsql 'SELECT pg_get_wal_replay_pause_state()')" = paused ] && break; sleep 0.05; done
is "$(rsql 'SELECT pg_get_wal_replay_pause_state()')" paused "(2) replay paused on the replica"
g_old=$(gen_r)
b0=$(behind); p0=$(reads_p)
r=$(pg_node_get $PORT_B $CFG sip.paused.test 5 "$SIPPROV" -d "$DB" template set demo main registrar=sip.paused.test)
ok $? "(2) a CLI change on the primary is served by B while the replica lags ($r)"
[ "$(gen_r)" = "$g_old" ] && [ "$(gen_p)" -gt "$g_old" ]
ok $? "  the replica still has the old generation ($(gen_r), the primary $(gen_p))"
[ "$(behind)" -gt "$b0" ] && [ "$(reads_p)" -gt "$p0" ]
ok $? "  B found the replica behind and read from the primary (behind $b0 then $(behind), primary reads $p0 then $(reads_p))"
# Uncached, so a render miss now, with the node knowing the new generation:
# the new registrar at the first answer, never the old one.
r=$(pg_node_get $PORT_B /001510000002.cfg sip.paused.test 0); like "$r" '^200 [0-9]' "(2) an uncached config is new at once"
r=$(pg_node_get $PORT_B /001510000001.json sip.paused.test 0); like "$r" '^200 [0-9]' "  and on the other layout"
r=$(pg_node_get $PORT_B $CFG sip.paused.test 0); like "$r" '^200 [0-9]' "  fetched again: still the new one"

# (3) Replay resumed: misses go back to the replica.
rsql "SELECT pg_wal_replay_resume()" >/dev/null
caught_up; ok $? "(3) replay resumed: the replica has the primary's generation again"
r0=$(reads_r); p0=$(reads_p)
r=$(pg_node_get $PORT_B /001510000003.json sip.paused.test 0); like "$r" '^200 [0-9]' "(3) B serves an uncached config"
is "$(reads_r):$(reads_p)" "$((r0 + 1)):$p0" "(3) read on the replica (replica:primary reads)"
"$SIPPROV" -d "$DB" template set demo main registrar=sip.resumed.test >"$T/cli3.out" 2>&1; ok $? "(3) a CLI change"
caught_up; ok $? "  replicated"
r=$(pg_node_get $PORT_B $CFG sip.resumed.test 5); like "$r" '^200 [0-9]' "(3) B serves it"
[ "$(reads_r)" -gt $((r0 + 1)) ] && [ "$(reads_p)" = "$p0" ]
ok $? "  read on the replica, not the primary (replica reads $((r0 + 1)) then $(reads_r), primary $p0 then $(reads_p))"

# (4) The replica stopped: fresh configs from the primary; one log line.
_pg_as "$PG_BIN/pg_ctl" -D "$REP" -m fast -w -t 20 stop >/dev/null 2>&1; ok $? "(4) replica stopped"
n0=$(down)
i=0
for want in sip.down1.test sip.down2.test sip.down3.test; do
	i=$((i + 1))
	r=$(pg_node_get $PORT_B $CFG $want 5 "$SIPPROV" -d "$DB" template set demo main registrar=$want)
	ok $? "(4) replica down: B serves the CLI change $i ($r)"
	sleep 1.2       # past the worker's backoff, so it tries the replica again
done
[ "$(down)" -ge $((n0 + 3)) ]; ok $? "  each miss read from the primary, the replica down ($n0 then $(down))"
is "$(grep -c "database replica '$REP_SHOWN': .*render misses read from the primary, retrying" "$T/B.log")" 1 \
	"  the outage logged once, naming the replica without its password"

pg_replica_start; ok $? "(4) the replica runs again"
caught_up; ok $? "  and has the primary's generation"
# The worker retries after its backoff (at most 4 s here): misses until then
# are read from the primary; then from the replica again.
back=1
for i in $(seq 12); do
	r0=$(reads_r)
	"$SIPPROV" -d "$DB" template set demo main registrar=sip.back$i.test >"$T/cli4.out" 2>&1 && caught_up &&
		pg_node_get $PORT_B $CFG sip.back$i.test 5 >/dev/null || break
	[ "$(reads_r)" -gt "$r0" ] && { back=0; break; }
	sleep 0.5
done
ok $back "(4) the replica back: B reads there again (after $i changes)"
grep -q "database replica '$REP_SHOWN': connected again" "$T/B.log"; ok $? "  and says so"

stop_sipprovd
_pg_as "$PG_BIN/pg_ctl" -D "$REP" -m immediate -w -t 20 stop >/dev/null 2>&1
if grep -rF -e "$PGPASS" "$T"/*.out "$T"/*.log >/dev/null 2>&1; then ok 1 "no output or log carries the password"
else ok 0 "no output or log carries the password"; fi
done_testing
