#!/bin/sh
# tools/bench-fetch.sh [DB] [DEVICES] [RECORDS] [random]: the fetch-record writer's
# throughput (tests/bench/fetch_bench.c) on a database file (default a
# temporary one) or a postgresql:// URL of a throwaway, empty database.
# random draws each record's device at random; KEEP=1 writes into DB as the
# last run left it (its history kept); --build only builds $B/fetch_bench
# (to run it by hand on a copy of a seeded file).  A benchmark, not a test.
# Uses $B (default build).
set -e
cd "$(dirname "$0")/.."
B=${B:-build}
make -s B="$B" "$B/fetch_bench"
[ "${1:-}" = --build ] && exit 0
tmp=$(mktemp -d)
"$B/fetch_bench" "${1:-$tmp/bench.db}" "${2:-10000}" "${3:-100000}" "${4:-consecutive}"
rm -rf "$tmp"
