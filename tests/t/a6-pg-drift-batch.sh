#!/bin/sh
# HEP intake per batch on PostgreSQL (issue 17): build/tests/drift_batch
# records the same observations row by row in one empty database and per
# batch (drift_record_many deciding in memory) in another, on a throwaway
# cluster (tests/pglib.sh), and requires the same registrations, drift
# events, last codes and counters.  The SQLite run of the same binary is
# part of the unit tests.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
CHECK="$SP_BUILD/tests/drift_batch"
[ -x "$CHECK" ] || bail "$CHECK is missing (make unit builds it)"
pg_start

A=$(pg_newdb batch_a)
B=$(pg_newdb batch_b)
SP_PGURL_A="$A" SP_PGURL_B="$B" "$CHECK" >"$T/check.out" 2>&1
rc=$?
# The checker's TAP, renumbered into this script's.
while IFS= read -r line; do
	case $line in
	"ok "*) ok 0 "pg: ${line#ok [0-9]* - }" ;;
	"not ok "*) ok 1 "pg: ${line#not ok [0-9]* - }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$T/check.out"
[ $rc -eq 0 ]; ok $? "drift_batch on PostgreSQL exited 0"
grep -q '^ok .*per batch writes the same' "$T/check.out"; ok $? "the comparison ran"
done_testing
