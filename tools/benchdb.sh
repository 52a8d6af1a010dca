# tools/benchdb.sh, sourced by tools/bench*.sh: where a bench's database
# lives, and what the daemon under test counted.  SP_BENCH_PG (set by `tools/bench.sh --pg`, i.e. make bench-pg)
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
# bench_counters PORT NAME...: sipprovd's unlabelled metrics NAME... from
# its admin listener on 127.0.0.1:PORT, on one line in that order (0 for
# one it does not report).
bench_counters() {
	_p=$1; shift
	curl -fs "http://127.0.0.1:$_p/metrics" | awk -v names="$*" 'BEGIN {n = split(names, k, " ")} {v[$1] = $2}
		END {for (i = 1; i <= n; i++) printf "%s%s", v[k[i]] + 0, i < n ? " " : "\n"}'
}
# bench_backend: what the report calls the backend.
bench_backend() {
	if [ -n "${SP_BENCH_PG:-}" ]; then
		echo "PostgreSQL $(psql "$SP_BENCH_PG/postgres" -X -q -A -t -c 'SHOW server_version' | cut -d' ' -f1)" \
			"(throwaway cluster on loopback, fsync off as in the tests)"
	else
		echo "SQLite $(sqlite3 --version | cut -d' ' -f1) (a file in $W)"
	fi
}
