#!/bin/sh
# Run every C unit-test binary and merge their TAP into one stream, so prove
# counts each assertion.  SP_BUILD names the build folder (make test sets it).
: "${SP_BUILD:=build}"
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
for t in "$SP_BUILD"/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out" | sed -nE "s/^(not )?ok [0-9]+ - /\\1ok - $name: /p; /^#/p" >> "$tmp"
	if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^not ok'; then
		echo "not ok - $name: exited $rc" >> "$tmp"
		printf '%s\n' "$out" | tail -20 | sed 's/^/# /' >> "$tmp"
	fi
done
cat "$tmp"
echo "1..$(grep -cE '^(not )?ok ' "$tmp")"
