#!/bin/sh
# tools/suites.sh NAME=COMMAND ...: run whole test suites side by side, as
# `make test` does with the four (SQLite, PostgreSQL, ASan, TSan).  Most of
# a suite's time is spent waiting on daemons, peers and timers, not on the
# CPU, so on two cores four suites side by side take about the time of the
# longest one alone plus a third, not the sum.
# Every line a suite prints goes to stdout prefixed with [NAME] and to
# $SUITES_LOG/NAME.log (default build/suites); at the end each suite's
# result, time and failures are printed again, together.  Exits 1 if any
# suite failed.
set -u
LOG=${SUITES_LOG:-build/suites}
mkdir -p "$LOG"
start=$(date +%s)
names=""
for arg; do
	name=${arg%%=*}
	cmd=${arg#*=}
	names="$names $name"
	rm -f "$LOG/$name.rc"
	# A suite is its own make, not a job of ours: no jobserver from the
	# make that called this script.
	(
		t0=$(date +%s)
		{ env -u MAKEFLAGS -u MFLAGS sh -c "$cmd" 2>&1; echo $? > "$LOG/$name.rc"; } |
			tee "$LOG/$name.log" | sed -u "s/^/[$name] /"
		echo "$(cat "$LOG/$name.rc") $(( $(date +%s) - t0 ))" > "$LOG/$name.rc"
	) &
done
wait
echo
echo "==== suites, side by side, in $(( $(date +%s) - start )) s (logs in $LOG/) ===="
fail=0
for name in $names; do
	set -- $(cat "$LOG/$name.rc" 2>/dev/null || echo "1 0")
	if [ "$1" = 0 ]; then
		echo "$name: PASS in $2 s ($(grep -m1 '^Files=' "$LOG/$name.log"))"
	else
		fail=1
		echo "$name: FAIL (exit $1) in $2 s"
		sed -n '/^Test Summary Report/,$p' "$LOG/$name.log" | sed "s/^/  /"
	fi
done
exit $fail
