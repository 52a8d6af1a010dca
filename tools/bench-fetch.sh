#!/bin/sh
# tools/bench-fetch.sh [DB] [DEVICES] [RECORDS] [random]: the fetch-record writer's
# throughput (tests/bench/fetch_bench.c) on a database file (default a
# temporary one) or a postgresql:// URL of a throwaway, empty database.
# random draws each record's device at random; KEEP=1 writes into DB as the
# last run left it (its history kept).  A benchmark, not a test.  Uses $B
# (default build).
set -e
cd "$(dirname "$0")/.."
B=${B:-build}
make -s B="$B" "$B/libsipprov-core.a"
# The Makefile's libraries, so this links whatever the store links.
PKGS=$(sed -n 's/^PKGS *:= *//p' Makefile)
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Iserver $(pkg-config --cflags $PKGS) -o "$B/fetch_bench" \
	tests/bench/fetch_bench.c "$B/libsipprov-core.a" $(pkg-config --libs $PKGS) -lresolv -lpthread -lm
tmp=$(mktemp -d)
"$B/fetch_bench" "${1:-$tmp/bench.db}" "${2:-10000}" "${3:-100000}" "${4:-consecutive}"
rm -rf "$tmp"
