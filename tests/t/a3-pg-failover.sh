#!/bin/sh
# Failover under a running node (issue 17): a streaming replica of the
# primary on a second loopback port (pg_basebackup -R), sipprovd B on a
# multi-host URL (both hosts, target_session_attrs=read-write).  The
# primary is killed with -9 and the replica promoted: the CLI on the same
# URL writes again within 2 s, B's watcher LISTENs on the new primary and
# B serves the change; meanwhile B served what it had cached.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
need psql python3 curl
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"

"$SIPPROV" -d "$PGURL" init >"$T/init.out" 2>&1; ok $? "sipprov init on the primary"
"$SIPPROV" -d "$PGURL" demo --devices 2 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo"
CFG=/001510000000.cfg

# The replica: a base backup of the primary, streaming from it (-R).
REP="$PG_DIR/replica"
_pg_as env PGPASSWORD="$PGPASS" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT_T" -U sp \
	-D "$REP" -R -X stream -c fast >"$T/basebackup.out" 2>&1
ok $? "pg_basebackup -R from the primary"
REP_PORT=$(free_port)
_pg_as "$PG_BIN/pg_ctl" -D "$REP" -l "$PG_DIR/replica.log" -w -t 30 \
	-o "-p $REP_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1
ok $? "the replica runs on port $REP_PORT"
track_pid "$(head -1 "$REP/postmaster.pid")"     # stopped at exit whatever happens
is "$(psql "postgresql://sp:$PGPASS@127.0.0.1:$REP_PORT/sipprov" -X -q -A -t -c 'SELECT pg_is_in_recovery()')" t \
	"  as a standby"

DB="postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T,127.0.0.1:$REP_PORT/sipprov?target_session_attrs=read-write"
pg_node_start B; PORT_B=$NODE_PORT; SIPPROVD_PID=$NODE_PID
r=$(pg_node_get $PORT_B $CFG sip.demo.test 5); like "$r" '^200 [0-9]' "B on the multi-host URL serves $CFG"
r=$(pg_node_get $PORT_B $CFG sip.one.test 5 "$SIPPROV" -d "$DB" template set demo main registrar=sip.one.test)
ok $? "a CLI change on the multi-host URL reaches B ($r)"

# Replication is asynchronous: a commit the replica has not replayed dies
# with the primary, and B, reconnected to the promoted replica, rightly
# serves what the new primary has.  "B serves what it cached" needs the
# replica to hold that commit: wait until it has replayed all the primary wrote.
lsn=$(psql "$PGURL" -X -q -A -t -c "SELECT pg_current_wal_lsn()")
caught=1
for _ in $(seq 100); do
	[ "$(psql "postgresql://sp:$PGPASS@127.0.0.1:$REP_PORT/sipprov" -X -q -A -t \
		-c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && { caught=0; break; }
	sleep 0.1
done
ok $caught "the replica has replayed the primary's WAL up to $lsn"

# Kill the primary's postmaster (-9), promote the replica.
kill -9 "$(head -1 "$PGDATA_T/postmaster.pid")"; ok $? "primary killed (-9)"
_pg_as "$PG_BIN/pg_ctl" -D "$REP" -w -t 20 promote >/dev/null 2>&1; ok $? "replica promoted"
r=$(pg_node_get $PORT_B $CFG sip.one.test 0); like "$r" '^200 [0-9]' "B serves the cached $CFG meanwhile ($r)"
# The CLI retries for up to 2 s: its first writes may meet the old
# primary's dying backends or the replica still read-only.
t0=$(date +%s%N); wrote=1
while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ]; do
	"$SIPPROV" -d "$DB" template set demo main registrar=sip.two.test >"$T/cli2.out" 2>&1 && { wrote=0; break; }
	sleep 0.05
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $wrote "the CLI writes on the promoted replica within 2 s (${ms} ms after the promote)"
r=$(pg_node_get $PORT_B $CFG sip.two.test 10); ok $? "B serves the change written on the new primary ($r)"
wait_log "$T/B.log" 'config generation: listening again'; ok $? "B's watcher listens on the new primary"
stop_sipprovd
_pg_as "$PG_BIN/pg_ctl" -D "$REP" -m immediate -w -t 20 stop >/dev/null 2>&1

if grep -rF -e "$PGPASS" "$T"/*.out "$T"/*.log >/dev/null 2>&1; then ok 1 "no output or log carries the password"
else ok 0 "no output or log carries the password"; fi
done_testing
