#!/bin/sh
# What a node's PostgreSQL connections cost the server (issue 18): each is a
# backend started and authenticated, tens of milliseconds of the server's
# CPU, so a 10,000-phone storm on a fresh node spent as much of it opening
# connections as writing the storm's history.
# (1) Opening a store checks the schema on the connection it keeps: one
#     session per `sipprov` command, not two.
# (2) A request loop connects when a request first needs the database: a
#     node with database_copy serves common files and render misses from
#     its copy without a new connection; a node without one opens one on
#     its first miss, and none for a common file.
# (3) The copy's thread waits to be woken (the node's generation moved)
#     instead of polling every millisecond: an idle node's copy thread
#     hardly wakes, and a change still reaches the copy at once.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3 curl sqlite3
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"
DB="$PGURL"
sp() { "$SIPPROV" -d "$DB" "$@"; }
sp init >"$T/init.out" 2>&1; ok $? "sipprov init"
sp demo --devices 6 --http-password pw >"$T/demo.out" 2>&1; ok $? "sipprov demo --devices 6"

# sessions: sessions of database sipprov ended so far (read from another
# database, which this psql's own session does not count in).
sessions() { pg_sql postgres "SELECT sessions FROM pg_stat_database WHERE datname = 'sipprov'"; }
# settled N0 WANT: sessions once they reach N0 + WANT (5 s at most).
settled() {
	for _ in $(seq 50); do [ "$(sessions)" -ge $(($1 + $2)) ] && break; sleep 0.1; done
	sleep 0.3
	echo $(($(sessions) - $1))
}
s0=$(sessions)
for _ in 1 2 3 4 5; do sp tenant list >/dev/null 2>&1 || bail "sipprov tenant list"; done
is "$(settled "$s0" 5)" 5 "(1) five sipprov commands: five sessions (the schema read on the one kept)"

# live: the node's connections to database sipprov now.
live() {
	pg_sql postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'sipprov' AND application_name = 'sipprov'"
}
mac() { printf '0015%08x' $((0x10000000 + $1)); }
common() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/y000000000000.cfg"; }

COPY="$T/copy.db"
pg_node_start A -o threads=3 -o database_copy="$COPY" -o admin_listen=127.0.0.1:0
PORT_A=$NODE_PORT; PID_A=$NODE_PID
ADMIN_A=$(sed -n 's/^admin http listening on .* port \([0-9][0-9]*\)$/\1/p' "$T/A.log" | head -1)
metric() { curl -s "http://127.0.0.1:$ADMIN_A/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
for _ in $(seq 200); do [ "$(metric 'sipprov_copy_updates_total{kind="full"}')" = 1 ] && break; sleep 0.05; done
is "$(metric 'sipprov_copy_updates_total{kind="full"}')" 1 "(2) node A loaded its copy"
n0=$(live)
codes=""
for i in 0 2 4; do
	for _ in 1 2 3; do codes="$codes $(common $PORT_A)"; done
	codes="$codes $(pg_node_get $PORT_A /$(mac $i).cfg)"
done
is "$codes" " 200 200 200 200 200 200 200 200 200 200 200 200" "  nine common files and three MAC files, each a miss"
is "$(metric 'sipprov_render_reads_total{server="copy"}')" 3 "  the misses read in the copy"
is "$(live)" "$n0" "  and A opened no connection for them ($n0 before and after)"

pg_node_start B -o threads=1
PORT_B=$NODE_PORT; PID_B=$NODE_PID
n0=$(live)
is "$(common $PORT_B)" 200 "node B, without a copy: a common file"
is "$(live)" "$n0" "  no connection for it"
is "$(pg_node_get $PORT_B /$(mac 0).cfg)" 200 "  a miss"
is "$(live)" "$((n0 + 1))" "  its loop connected for it"
is "$(pg_node_get $PORT_B /$(mac 2).cfg)" 200 "  another miss"
is "$(live)" "$((n0 + 1))" "  on the same connection"
SIPPROVD_PID=$PID_B; stop_sipprovd

# (3) voluntary context switches of A's copy thread over two idle seconds:
# polling every millisecond made about two thousand.
task=""
for t in /proc/$PID_A/task/*; do [ "$(cat "$t/comm")" = sp-copy ] && task=$t; done
[ -n "$task" ]; ok $? "(3) A's copy thread is sp-copy"
ctx() { awk '/^voluntary_ctxt_switches/ { print $2 }' "$task/status"; }
c0=$(ctx); sleep 2; c1=$(ctx)
[ $((c1 - c0)) -lt 50 ]; ok $? "  idle, it woke $((c1 - c0)) times in 2 s"
gen_p() { pg_sql sipprov "SELECT gen FROM config_gen"; }
sp device set "$(mac 4)" registrar=sip.kicked.test >/dev/null 2>&1; ok $? "  a change"
r=$(pg_node_get $PORT_A /$(mac 4).cfg sip.kicked.test 5); like "$r" '^200 [0-9]' "  A serves it"
for _ in $(seq 100); do [ "$(sqlite3 "$COPY" "SELECT gen FROM config_gen")" = "$(gen_p)" ] && break; sleep 0.01; done
is "$(sqlite3 "$COPY" "SELECT gen FROM config_gen")" "$(gen_p)" "  and the copy has the database's generation"
SIPPROVD_PID=$PID_A; stop_sipprovd
done_testing
