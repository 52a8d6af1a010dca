#!/bin/sh
# Writers wait instead of failing.  Another writer holds the database for
# 7 s while HEP REGISTER traffic flows into sipprovd and two 10,000-row
# imports start in parallel.  Both imports complete, nothing says
# "database is locked", and every HEP observation sent is recorded.  The
# CLI says it is waiting only on a terminal, and gives up with a clear
# error after --lock-timeout / SIPPROV_LOCK_TIMEOUT.
. "$(dirname "$0")/../lib.sh"
need curl python3 sqlite3 script awk
HP=$(free_port)
SEND="python3 $ROOT/tests/hep_send.py"

gen() { # gen N OFFSET: one device and line per row, users uNNNNNN
	awk -v n="$1" -v off="$2" 'BEGIN {
		print "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password"
		for (i = off + 1; i <= off + n; i++)
			printf "0015650%05x,yealink,T46G,desk %d,main,1,User %d,%d,u%06d,a%06dx,pw-%d\n", i, i, i, 1000 + i, i, i, i
	}'
}

sp init >/dev/null || bail "init"
sp tenant add acme >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=sip.acme.test port=5060 transport=udp >/dev/null || bail "template"
gen 50 0 > "$T/base.csv"
sp import "$T/base.csv" --tenant acme >/dev/null || bail "base import"
gen 10000 1000 > "$T/a.csv"
gen 10000 30000 > "$T/b.csv"
start_sipprovd -o hep_listen=127.0.0.1:$HP

NHEP=2500
$SEND $HP load $NHEP 50 250 &
LOAD=$!
# The lock is taken once HEP traffic is being written, and outlasts
# SQLite's old fixed 5 s wait.
for _ in $(seq 1 100); do
	[ "$(sql "SELECT count(*) FROM registration")" -gt 0 ] && break
	sleep 0.05
done
hold_lock 7
sp import "$T/a.csv" --tenant acme >"$T/a.out" 2>&1 &
A=$!
sp import "$T/b.csv" --tenant acme >"$T/b.out" 2>&1 &
B=$!
wait "$A"; ra=$?
wait "$B"; rb=$?
wait "$LOAD"
wait "$HOLDER"
is "$ra/$rb" "0/0" "both parallel imports exit 0"
unlike "$(cat "$T/a.out" "$T/b.out")" "locked" "neither import says 'database is locked'"
unlike "$(cat "$T/a.out" "$T/b.out")" "waiting for the database lock" "no waiting notice when stderr is not a terminal"
is "$(sql "SELECT count(*) FROM device")" 20050 "20,050 devices in the database"
n=0
for _ in $(seq 1 100); do
	n=$(sql "SELECT count(*) FROM registration")
	[ "$n" -ge "$NHEP" ] && break
	sleep 0.2
done
is "$n" "$NHEP" "every HEP observation sent ($NHEP) is recorded"
unlike "$(cat "$SIPPROVD_LOG")" "cannot begin|not recorded|database is locked" "sipprovd lost nothing to the lock"
like "$(cat "$SIPPROVD_LOG")" "hep: database locked by another writer; .* wait" "sipprovd said it was waiting"
like "$(curl -fsS "$ADMIN_URL/metrics")" 'sipprov_hep_write_retries_total\{reason="locked"\} [1-9]' "lock retries are counted"
# (The series exist from start at 0: a drop would make one of them nonzero.)
unlike "$(curl -fsS "$ADMIN_URL/metrics")" 'sipprov_observations_dropped_total\{[^}]*\} [1-9]' "no observation dropped"

# A person at a terminal is told once; a script is not.
hold_lock 2
script -qec "'$SIPPROV' -d '$DB' tenant add beta" /dev/null >"$T/tty.out" 2>&1; rc=$?
wait "$HOLDER"
is "$rc" 0 "on a terminal the CLI waits and succeeds"
is "$(grep -c 'waiting for the database lock held by another writer' "$T/tty.out")" 1 "and says it is waiting, once"

# The wait is bounded.
hold_lock 5
out=$(SIPPROV_LOCK_TIMEOUT=1 "$SIPPROV" -d "$DB" tenant add gamma 2>&1); rc=$?
ok $((rc == 0)) "SIPPROV_LOCK_TIMEOUT=1 gives up (exit $rc)"
like "$out" "error: the database stayed locked by another writer for 1 s; gave up \(raise --lock-timeout or SIPPROV_LOCK_TIMEOUT\)" "with a clear error"
out=$("$SIPPROV" -d "$DB" --lock-timeout 1 tenant add gamma 2>&1); rc=$?
ok $((rc == 0)) "--lock-timeout 1 gives up too (exit $rc)"
wait "$HOLDER"
is "$(sql "SELECT count(*) FROM tenant WHERE slug='gamma'")" 0 "nothing was written"
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
