#!/bin/sh
# A lock wait that runs out leaves the connection usable and reads the same
# on both backends.  On PostgreSQL BEGIN IMMEDIATE is BEGIN plus the
# writers' advisory lock in one command: a lock_timeout there used to leave
# the transaction aborted, so sipprovd's HEP writer (one 10 ms try, then
# retries from its loop) failed every later begin with "current transaction
# is aborted" and recorded nothing once another writer had held the lock a
# moment; and the CLI printed PostgreSQL's "canceling statement due to lock
# timeout", never saying that it waited or what to raise.
. "$(dirname "$0")/../lib.sh"
need python3 script awk
HP=$(free_port)
SEND="python3 $ROOT/tests/hep_send.py"


sp init >/dev/null || bail "init"
sp tenant add acme >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=sip.acme.test port=5060 transport=udp >/dev/null ||
	bail "template"
awk 'BEGIN {
	print "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password"
	for (i = 1; i <= 20; i++)
		printf "0015650%05x,yealink,T46G,desk %d,main,1,User %d,%d,u%06d,a%06dx,pw-%d\n", i, i, i, 1000 + i, i, i, i
}' >"$T/users.csv"
sp import "$T/users.csv" --tenant acme >/dev/null || bail "import"
start_sipprovd -o hep_listen=127.0.0.1:$HP

# sipprovd's HEP writer: observations that arrive while another writer
# holds the lock wait in its queue and are all written once it is free.
hold_lock 8
$SEND $HP load 200 20 400 || bail "hep_send"
wait "$HOLDER"
n=0
for _ in $(seq 1 100); do
	n=$(sql "SELECT count(*) FROM registration")
	[ "$n" -ge 200 ] && break
	sleep 0.1
done
is "$n" 200 "every HEP observation sent under the lock (200) is recorded after it"
log=$(cat "$SIPPROVD_LOG")
like "$log" "hep: database locked by another writer; .* wait" "sipprovd said it was waiting"
like "$log" "hep: database writable again" "and that the database is writable again"
unlike "$log" "cannot begin|transaction is aborted|not recorded" "no begin failed for another reason than the lock"

# The CLI: the same words on both backends when it gives up, and on a
# terminal the same notice that it waits.
hold_lock 4
out=$("$SIPPROV" -d "$DB" --lock-timeout 1 tenant add gamma 2>&1); rc=$?
ok $((rc == 0)) "--lock-timeout 1 gives up (exit $rc)"
want="error: the database stayed locked by another writer for 1 s; gave up"
want="$want (raise --lock-timeout or SIPPROV_LOCK_TIMEOUT)
error: database is locked"
is "$out" "$want" "with the clear error, and the store's own as on SQLite"
script -qec "'$SIPPROV' -d '$DB' --lock-timeout 1 tenant add gamma" /dev/null >"$T/tty.out" 2>&1
is "$(grep -c 'waiting for the database lock held by another writer (up to 1 s)\.\.\.' "$T/tty.out")" 1 \
	"on a terminal it says it is waiting, once"
like "$(cat "$T/tty.out")" "error: the database stayed locked by another writer for 1 s; gave up" "then gives up"
wait "$HOLDER"
is "$(sql "SELECT count(*) FROM tenant WHERE slug='gamma'")" 0 "nothing was written"
script -qec "'$SIPPROV' -d '$DB' tenant add gamma" /dev/null >"$T/tty.out" 2>&1
ok $? "with the lock free the CLI writes at once"
unlike "$(cat "$T/tty.out")" "waiting" "without a word about waiting"
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
