#!/bin/sh
# Failover under a running node (issue 17): a streaming replica of the
# primary on a second loopback port (pg_basebackup -R), sipprovd B on a
# multi-host URL (both hosts, target_session_attrs=read-write).  The
# primary is killed with -9 and the replica promoted: the CLI on the same
# URL writes again within 2 s, B's watcher LISTENs on the new primary and
# B serves the change; meanwhile B served what it had cached.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3 curl
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"

"$SIPPROV" -d "$PGURL" init >"$T/init.out" 2>&1; ok $? "sipprov init on the primary"
"$SIPPROV" -d "$PGURL" demo --devices 2 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo"
CFG=/001510000000.cfg

# The replica: a base backup of the primary, streaming from it (-R).
pg_replica
is "$(psql "postgresql://sp:$PGPASS@127.0.0.1:$REP_PORT/sipprov" -X -q -A -t -c 'SELECT pg_is_in_recovery()')" t \
	"  as a standby"
psql "$PGURL" -X -q -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "ALTER DATABASE sipprov SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
st=
for _ in $(seq 100); do
	st=$(psql "$PGURL" -X -q -A -t -c "SELECT sync_state FROM pg_stat_replication")
	[ "$st" = sync ] && break; sleep 0.1
done
is "$st" sync "  synchronous (synchronous_standby_names = '*')"

DB="postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T,127.0.0.1:$REP_PORT/sipprov?target_session_attrs=read-write"
pg_node_start B; PORT_B=$NODE_PORT; SIPPROVD_PID=$NODE_PID
r=$(pg_node_get $PORT_B $CFG sip.demo.test 5); like "$r" '^200 [0-9]' "B on the multi-host URL serves $CFG"
r=$(pg_node_get $PORT_B $CFG sip.one.test 5 "$SIPPROV" -d "$DB" template set demo main registrar=sip.one.test)
ok $? "a CLI change on the multi-host URL reaches B ($r)"

# Kill the primary's postmaster (-9) while a writer adds devices, then
# promote the replica.  The standby is synchronous: a commit is
# acknowledged once the replica has it, so no acknowledged write may be
# missing after the promote (an asynchronous standby may lose the last
# ones, as PostgreSQL documents).
: >"$T/acked"
writer() {
	i=0
	while [ ! -e "$T/stop-writer" ] && [ $i -lt 400 ]; do
		if [ -e "$T/pause-writer" ]; then touch "$T/writer-paused"; sleep 0.02; continue; fi
		mac=$(printf '0015100a%04x' $i); i=$((i + 1))
		"$SIPPROV" -d "$DB" device add "$mac" --tenant demo --layout yealink >/dev/null 2>&1 &&
			echo "$mac" >>"$T/acked"
	done
}
writer & WRITER=$!
for _ in $(seq 100); do [ "$(wc -l <"$T/acked")" -ge 3 ] && break; sleep 0.05; done
# One more write (the writer paused meanwhile) waits for the standby, its
# WAL receiver stopped, when the primary dies: the CLI cannot know whether
# it was committed, and says so.
REPURL="postgresql://sp:$PGPASS@127.0.0.1:$REP_PORT/sipprov"
# Each step's outcome goes to $T/lost.why, printed if the check fails (a full
# make test once saw this CLI succeed, and nothing said which step had
# not held).
walrcv=""
for _ in $(seq 100); do
	walrcv=$(psql "$REPURL" -X -q -A -t -c "SELECT pid FROM pg_stat_wal_receiver WHERE status = 'streaming'")
	[ -n "$walrcv" ] && break
	sleep 0.05
done
touch "$T/pause-writer"
for _ in $(seq 100); do [ -e "$T/writer-paused" ] && break; sleep 0.05; done
kill -STOP "$walrcv"; echo "WAL receiver '$walrcv' stopped: rc $?; writer paused: $([ -e "$T/writer-paused" ] && echo yes || echo no)" >"$T/lost.why"
# Its own application_name: the check below waits for this CLI's COMMIT,
# not for any other backend's.
"$SIPPROV" -d "$DB&application_name=a3-lost" device add 0015100bffff --tenant demo --layout yealink >"$T/cli-lost.out" 2>&1 &
CLI_LOST=$!
w=0
for _ in $(seq 200); do
	w=$(psql "$PGURL" -X -q -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND application_name = 'a3-lost'")
	[ "$w" -gt 0 ] && break
	sleep 0.05
done
echo "the CLI's COMMIT waiting for the standby: $w" >>"$T/lost.why"
rm "$T/pause-writer"; sleep 0.2
kill -9 "$(head -1 "$PGDATA_T/postmaster.pid")"; ok $? "primary killed (-9) while a writer adds devices ($(wc -l <"$T/acked") acknowledged)"
# The WAL receiver stays stopped until the CLI has its answer: resumed at
# once, it might still acknowledge the commit through the dying primary's
# walsender before the waiting backend saw the postmaster gone, and the
# CLI would get a (true) success.  A suspect for that failure, not
# reproduced here (stopping the backend and the walsender did not).
for _ in $(seq 300); do kill -0 $CLI_LOST 2>/dev/null || break; sleep 0.1; done
kill -CONT "$walrcv"
wait $CLI_LOST; rc=$?; ok $(( rc == 0 )) "the CLI whose COMMIT met the kill fails"
[ $rc -ne 0 ] || sed 's/^/#   /' "$T/lost.why" >&2
grep -q "lost while committing .*may or may not have been written" "$T/cli-lost.out"
ok $? "  and says the change may or may not have been written ($(cut -c1-60 "$T/cli-lost.out"))"
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
touch "$T/stop-writer"; wait $WRITER
sort "$T/acked" >"$T/acked.s"
missing=$(psql "$REPURL" -X -q -A -t -c "SELECT mac FROM device" |
	sort | comm -13 - "$T/acked.s" | tr '\n' ' ')
is "$missing" "" "no acknowledged write is lost: all $(wc -l <"$T/acked") devices the writer saw added are on the new primary"
stop_sipprovd
_pg_as "$PG_BIN/pg_ctl" -D "$REP" -m immediate -w -t 20 stop >/dev/null 2>&1

if grep -rF -e "$PGPASS" "$T"/*.out "$T"/*.log >/dev/null 2>&1; then ok 1 "no output or log carries the password"
else ok 0 "no output or log carries the password"; fi
done_testing
