#!/bin/sh
# Replay every committed fuzz corpus through its target (plain build, or the
# sanitizer build under make asan).  A crash fails the test.
: "${SP_BUILD:=build}"
cd "$(dirname "$0")/.." || exit 1
n=0
for t in "$SP_BUILD"/replay/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$("$t" "tests/fuzz/corpus/$name" 2>&1); rc=$?
	n=$((n+1))
	if [ $rc -eq 0 ]; then echo "ok $n - fuzz replay $name: $(echo "$out" | tail -1 | sed 's/^ok - //')"
	else echo "not ok $n - fuzz replay $name (exit $rc)"; echo "$out" | tail -20 | sed 's/^/# /'; fi
done
echo "1..$n"
