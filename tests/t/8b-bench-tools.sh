#!/bin/sh
# The benchmark programs a developer runs by hand (tools/bench-fetch.sh,
# tools/bench-hep.sh) are built with every tree; this checks the part of
# them that touches files.  Each starts from no database file: it removes
# the path it is given, and must remove only a regular file.  Given
# /dev/null as "no output", fetch_bench once unlinked the device as root;
# the regular file that came back in its place broke every later reader of
# /dev/null on the machine (tests/t/84-check-config.sh failed 36 checks in
# CI).
. "$(dirname "$0")/../lib.sh"
only_backend sqlite "the benchmarks' handling of a database file"

# refuses KIND PATH TEST: $FB exits 2 on PATH, naming it, and PATH is
# still of the kind TEST checks (-p a FIFO, -d a folder).
refuses() {
	out=$("$FB" "$2" 10 10 2>&1); rc=$?
	is "$rc" 2 "$prog, $1: refused"
	like "$out" "'$2' is not a regular file" "$prog, $1: named in the error"
	test "$3" "$2"; ok $? "$prog, $1: left as it was"
}

for prog in fetch_bench hep_bench; do
	FB="$SP_BUILD/$prog"
	[ -x "$FB" ] || bail "$FB is not built (make unit builds it)"
	rm -rf "$T/p"; mkdir "$T/p"
	mkfifo "$T/p/fifo"
	refuses "a FIFO" "$T/p/fifo" -p
	mkdir "$T/p/folder"
	refuses "an empty folder" "$T/p/folder" -d
	if [ "$(id -u)" -eq 0 ]; then
		mknod -m 666 "$T/p/null" c 1 3
		refuses "a character device (a copy of /dev/null)" "$T/p/null" -c
	else
		skip_check "making a character device needs root"
	fi
	ln -s "$T/p/fifo" "$T/p/link"
	refuses "a symbolic link" "$T/p/link" -L

	# A regular file is replaced by a fresh database, as before.
	echo "left from another run" > "$T/p/old.db"
	out=$("$FB" "$T/p/old.db" 100 1000 2>&1); rc=$?
	is "$rc" 0 "$prog, a stale regular file: the run goes ahead"
	like "$out" "1000 (records|REGISTER observations)" "$prog: and writes what it measures"
	is "$(sqlite3 "$T/p/old.db" 'PRAGMA integrity_check')" ok "$prog: into a fresh database"
	"$FB" "$T/p/new.db" 10 100 >/dev/null 2>&1
	ok $? "$prog, an absent file: created"
done
done_testing
