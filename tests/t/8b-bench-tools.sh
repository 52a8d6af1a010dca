#!/bin/sh
# The benchmark programs a developer runs by hand (tools/bench-*.sh) are
# built with every tree; this checks the parts of them that touch files.
# fetch_bench starts each run from no database file: it removes the path
# it is given, and must remove only a regular file.  Given /dev/null as
# "no output", it once unlinked the device as root; the regular file that
# came back in its place broke every later reader of /dev/null on the
# machine (tests/t/84-check-config.sh failed 36 checks in CI).
. "$(dirname "$0")/../lib.sh"
only_backend sqlite "fetch_bench's handling of a database file"
FB="$SP_BUILD/fetch_bench"
[ -x "$FB" ] || bail "$FB is not built (make unit builds it)"

# refuses KIND PATH TEST: fetch_bench on PATH exits 2 naming it, and
# PATH is still of the kind TEST checks (-p a FIFO, -d a folder...).
refuses() {
	out=$("$FB" "$2" 10 10 2>&1); rc=$?
	is "$rc" 2 "$1: refused"
	like "$out" "'$2' is not a regular file" "$1: named in the error"
	test "$3" "$2"; ok $? "$1: left as it was"
}
mkfifo "$T/fifo"
refuses "a FIFO" "$T/fifo" -p
mkdir "$T/folder"
refuses "an empty folder" "$T/folder" -d
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 666 "$T/null" c 1 3
	refuses "a character device (a copy of /dev/null)" "$T/null" -c
else
	skip_check "making a character device needs root"
fi
ln -s "$T/fifo" "$T/link"
refuses "a symbolic link" "$T/link" -L

# A regular file is replaced by a fresh database, as before.
echo "left from another run" > "$T/old.db"
out=$("$FB" "$T/old.db" 100 1000 2>&1); rc=$?
is "$rc" 0 "a stale regular file: the run goes ahead"
like "$out" "^fetch writer: 1000 records" "and writes its records"
is "$(sqlite3 "$T/old.db" 'PRAGMA integrity_check')" ok "into a fresh database"
# An absent path is created.
"$FB" "$T/new.db" 10 100 >/dev/null 2>&1
ok $? "an absent file: created"
done_testing
