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
# tools/suites.sh --report NAME ...: print that summary again for suites
# already run, so that the failures of an earlier pair are in the last
# lines too (CI shows only the tail of what `make test` printed).
set -u
LOG=${SUITES_LOG:-build/suites}
mkdir -p "$LOG"

report() {
	fail=0
	for name; do
		set -- $(cat "$LOG/$name.rc" 2>/dev/null || echo "1 0")
		if [ "$1" = 0 ]; then
			echo "$name: PASS in $2 s ($(grep -m1 '^Files=' "$LOG/$name.log"))"
		else
			fail=1
			echo "$name: FAIL (exit $1) in $2 s"
			# the failed checks with the diagnostics after them, then prove's summary
			awk '/not ok/ { n = 9 } n > 0 && !/^#/ && !/not ok/ { n = 0 } n > 0 { print; n-- }' "$LOG/$name.log" |
				head -n 60 | sed "s/^/  /"
			sed -n '/^Test Summary Report/,$p' "$LOG/$name.log" | sed "s/^/  /"
		fi
	done
	return $fail
}

if [ "${1:-}" = --report ]; then
	shift
	echo
	echo "==== all suites (logs in $LOG/) ===="
	report "$@"
	exit
fi

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
report $names
