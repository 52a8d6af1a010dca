#!/bin/sh
# tools/bench-hep.sh [DEVICES] [OBSERVATIONS] [UNKNOWN]: HEP REGISTER intake
# throughput on one core (tests/bench/hep_bench.c) against a database file
# with DEVICES devices (and UNKNOWN open unknown-user events, default 0).
# Prints wall-clock and CPU-time rates: on a shared machine the CPU-time
# one is the steadier.  A benchmark, not a test.  Uses $B (default build).
set -e
cd "$(dirname "$0")/.."
B=${B:-build}
make -s B="$B" "$B/libsipprov-daemon.a" "$B/libsipprov-core.a"
PKGS="libmicrohttpd sqlite3 libxml-2.0 jansson openssl"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Iserver $(pkg-config --cflags $PKGS) -o "$B/hep_bench" \
	tests/bench/hep_bench.c "$B/libsipprov-daemon.a" "$B/libsipprov-core.a" $(pkg-config --libs $PKGS) -lresolv -lpthread -lm
db=$(mktemp -d)/bench.db
taskset -c 0 "$B/hep_bench" "$db" "${1:-10000}" "${2:-100000}" "${3:-0}" 2>/dev/null ||
	"$B/hep_bench" "$db" "${1:-10000}" "${2:-100000}" "${3:-0}"
rm -rf "$(dirname "$db")"
