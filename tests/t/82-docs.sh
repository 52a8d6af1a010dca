#!/bin/sh
# The man pages: lint clean with mandoc, and in step with the code: every
# configuration key of server/core/conf.c in sipprovd.conf(5) and in
# etc/sipprovd.conf, every sipprovd flag of main.c's getopt string in
# sipprovd(8), every command of tools/commands.def in sipprov(1); the README
# links them.
. "$(dirname "$0")/../lib.sh"
need mandoc

for m in man/sipprov.1 man/sipprovd.conf.5 man/sipprovd.8; do
	out=$(mandoc -T lint -W warning "$ROOT/$m" 2>&1); rc=$?
	is "$rc:$out" "0:" "mandoc -T lint: $m clean (warnings and errors)"
	mandoc -T utf8 "$ROOT/$m" > "$T/page" 2>/dev/null && [ -s "$T/page" ]; ok $? "$m renders"
done

keys=$(sed -n 's/^[[:space:]]*[SBL](\([a-z_]*\),.*/\1/p' "$ROOT/server/core/conf.c")
[ "$(echo "$keys" | wc -l)" -gt 20 ]; ok $? "conf.c's key table read ($(echo $keys | wc -w) keys)"
miss5=""; missc=""
for k in $keys; do
	grep -q "^\.It Cm $k\( \|$\)" "$ROOT/man/sipprovd.conf.5" || miss5="$miss5 $k"
	grep -q "^$k =" "$ROOT/etc/sipprovd.conf" || missc="$missc $k"
done
is "$miss5" "" "sipprovd.conf(5) documents every key"
is "$missc" "" "etc/sipprovd.conf documents every key"

flags=$(sed -n 's/.*getopt(argc, argv, "\([a-z:]*\)").*/\1/p' "$ROOT/server/daemon/main.c" | tr -d ':h' | sed 's/./& /g')
[ -n "$flags" ]; ok $? "main.c's getopt flags read ($flags)"
miss=""
for f in $flags; do grep -q "^\.It Fl $f\( \|$\)" "$ROOT/man/sipprovd.8" || miss="$miss -$f"; done
is "$miss" "" "sipprovd(8) documents every flag"

miss=""
for n in $(sed -n 's/^CMD("\([a-z-]*\)".*/\1/p' "$ROOT/tools/commands.def"); do
	grep -q "^\.It Cm $n\( \|$\)" "$ROOT/man/sipprov.1" || miss="$miss $n"
done
is "$miss" "" "sipprov(1) documents every command"

for m in 'sipprov.1' 'sipprovd.8' 'sipprovd.conf.5'; do
	grep -q "(man/$m)" "$ROOT/README.md"; ok $? "README links man/$m"
done
done_testing
