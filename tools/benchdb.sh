# tools/benchdb.sh, sourced by tools/bench*.sh: where a bench's database
# lives, and what the daemon under test counted.  SP_BENCH_PG (set by
# `tools/bench.sh --pg`, i.e. make bench-pg, through bench_pg_start)
# is "postgresql://USER:PASSWORD@HOST:PORT" of a cluster for throwaway
# databases; unset, each database is a SQLite file in $W.
# bench_db NAME: prints the new empty database's location (an old one of
# that name is dropped); its key file is $W/NAME.key.
bench_db() {
	if [ -n "${SP_BENCH_PG:-}" ]; then
		PGOPTIONS="-c client_min_messages=warning" psql "$SP_BENCH_PG/postgres" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$1\"" \
			-c "CREATE DATABASE \"$1\"" >/dev/null || { echo "bench: cannot create database $1" >&2; exit 1; }
		echo "$SP_BENCH_PG/$1"
	else
		echo "$W/$1.db"
	fi
}
# bench_pg_start [CPU]: the tests' throwaway cluster (tests/pglib.sh) in
# $W for this run, SP_BENCH_PG its URL; pglib's exit trap stops it, then
# calls the script's cleanup.  With CPU (a CPU number), the server runs on
# that CPU alone and this script, with everything it starts afterwards
# (sipprovd, nginx, the load generators), on the other CPUs: the database
# on a host of its own, as far as one machine can show it.
bench_pg_start() {
	T=$W; bail() { echo "bench: $*"; exit 1; }; _cleanup() { cleanup; }
	PG_CPU=${1:-}
	if [ -n "$PG_CPU" ]; then
		_rest=$(python3 -c 'import os, sys
c = sorted(os.sched_getaffinity(0)); c.remove(int(sys.argv[1])); assert c
print(",".join(map(str, c)))' "$PG_CPU" 2>/dev/null) || bail "--pg-cpu=$PG_CPU: not one of this run's CPUs, or its only one"
	fi
	. "$ROOT/tests/pglib.sh"
	pg_start
	if [ -n "$PG_CPU" ]; then
		taskset -pc "$_rest" $$ >/dev/null || bail "taskset: cannot move this run off CPU $PG_CPU"
		export SP_BENCH_PG_CPU="$PG_CPU"
	fi
	export SP_BENCH_PG="postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# bench_counters PORT NAME...: sipprovd's unlabelled metrics NAME... from
# its admin listener on 127.0.0.1:PORT, on one line in that order (0 for
# one it does not report).
bench_counters() {
	_p=$1; shift
	curl -fs "http://127.0.0.1:$_p/metrics" | awk -v names="$*" 'BEGIN {n = split(names, k, " ")} {v[$1] = $2}
		END {for (i = 1; i <= n; i++) printf "%s%s", v[k[i]] + 0, i < n ? " " : "\n"}'
}
# bench_copy_opt FILE: on PostgreSQL, sipprovd's database_copy option (the
# node-local copy its render misses read, docs/multi-node.md), as a node
# is meant to run; nothing on SQLite.  bench_copy_wait PORT: until that
# node (its admin listener on 127.0.0.1:PORT) has loaded it.
bench_copy_opt() { [ -z "${SP_BENCH_PG:-}" ] || echo "-o database_copy=$1"; }
bench_copy_wait() {
	[ -n "${SP_BENCH_PG:-}" ] || return 0
	for _ in $(seq 1 12000); do
		[ "$(bench_counters "$1" 'sipprov_copy_updates_total{kind="full"}')" -ge 1 ] 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: sipprovd's database copy did not load in 10 minutes"; exit 1
}
# bench_backend: what the report calls the backend.
bench_backend() {
	if [ -n "${SP_BENCH_PG:-}" ]; then
		echo "PostgreSQL $(psql "$SP_BENCH_PG/postgres" -X -q -A -t -c 'SHOW server_version' | cut -d' ' -f1)" \
			"(throwaway cluster on loopback, fsync off as in the tests${SP_BENCH_PG_CPU:+; the server alone on CPU $SP_BENCH_PG_CPU, the rest on CPUs $(taskset -pc $$ | sed 's/.*: //')})"
	else
		echo "SQLite $(sqlite3 --version | cut -d' ' -f1) (a file in $W)"
	fi
}
