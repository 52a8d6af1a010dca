# Shared by the admin API tests that came after 90 (source after lib.sh):
# api TOKEN METHOD PATH [BODY|@FILE] [curl args...] sets $st, $body, $hdr
# (a body is sent as application/json unless CT=type is set before the call)
# and records the response in $LOG for tests/openapi_check.py; jf EXPR
# evaluates a Python expression over the last body as d; dump / same_db
# compare the database byte for byte around refused writes.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
LOG="$T/responses.tsv"
: > "$LOG"
i=0
api() {
	tok=$1 m=$2 p=$3; shift 3
	b=""
	[ $# -gt 0 ] && { b=$1; shift; }
	i=$((i + 1))
	[ -n "$tok" ] && set -- "$@" -H "Authorization: Bearer $tok"
	[ -n "$b" ] && set -- "$@" -H "Content-Type: ${CT:-application/json}" --data-binary "$b"
	CT=""
	st=$(curl -s -o "$T/r$i.b" -D "$T/r$i.h" -w '%{http_code}' -X "$m" "$@" "$ADMIN_URL$p")
	body=$(cat "$T/r$i.b")
	hdr=$(tr -d '\r' < "$T/r$i.h")
	printf '%s\t%s\t%s\t%s\n' "$m" "$p" "$st" "$T/r$i.b" >> "$LOG"
}
# dump NAME: the whole database as text (either backend), never empty: an
# empty dump on both sides would make same_db pass whatever was written.
dump() { sql_dump > "$T/$1.sql"; [ -s "$T/$1.sql" ] || bail "dump $1: the database dump is empty"; }
same_db() { # on a difference, its first lines as diagnostics
	dump after
	cmp -s "$T/before.sql" "$T/after.sql"
	_sd=$?
	ok $_sd "$1: nothing written"
	[ $_sd = 0 ] || diff "$T/before.sql" "$T/after.sql" | head -n 20 | sed 's/^/# /'
}
# fetches_recorded SQL WANT: before a dump, wait until SQL (over the last
# config fetch above it) prints WANT.  The fetch writer records fetches in
# batches, in order, each device's last fetch in the same transaction as
# the history rows before it; a record landing between two dumps would
# make them differ.
fetches_recorded() { wait_for "$1" "$2"; ok $? "the fetch writer has recorded the fetches above"; }
jf() { printf '%s' "$body" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
etag() { printf '%s' "$hdr" | sed -n 's/^ETag: //p'; }
openapi_valid() {
	_out=$("$PY" "$ROOT/tests/openapi_check.py" "$ROOT/openapi/sipprov-v1.json" "$LOG"); _rc=$?
	printf '%s\n' "$_out"
	ok $_rc "every response body of this test validates against the OpenAPI document"
}
