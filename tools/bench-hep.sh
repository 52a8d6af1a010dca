#!/bin/sh
# tools/bench-hep.sh [DEVICES] [OBSERVATIONS] [UNKNOWN]: HEP REGISTER intake
# throughput on one core (tests/bench/hep_bench.c) against a database with
# DEVICES devices (and UNKNOWN open unknown-user events, default 0): a
# temporary SQLite file, or the empty PostgreSQL database HEP_DB names.
# Prints wall-clock and CPU-time rates: on a shared machine the CPU-time
# one is the steadier.  A benchmark, not a test.  Uses $B (default build).
set -e
cd "$(dirname "$0")/.."
B=${B:-build}
make -s B="$B" "$B/hep_bench"
tmp=$(mktemp -d)
db=${HEP_DB:-$tmp/bench.db}
taskset -c 0 "$B/hep_bench" "$db" "${1:-10000}" "${2:-100000}" "${3:-0}" 2>/dev/null ||
	"$B/hep_bench" "$db" "${1:-10000}" "${2:-100000}" "${3:-0}"
rm -rf "$tmp"
