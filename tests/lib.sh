# tests/lib.sh: shared helpers for the integration scripts in tests/t/.
# Source it:  . "$(dirname "$0")/../lib.sh"
# Gives: TAP helpers (ok, is, like, done_testing), a temp folder $T removed
# at exit, $SIPPROV / $SIPPROVD (binaries of the build under test, from
# $SP_BUILD), sp (the CLI on the test's database $DB), and
# start_sipprovd [-o key=value ...] which starts a real daemon on an
# ephemeral loopback port and sets $PORT, $URL and $SIPPROVD_PID;
# stop_sipprovd stops it (also done at exit).  Everything started is stopped
# by pid in the exit trap.
# Sanitizer builds (make asan, make tsan): every report of any process the
# test starts (daemon or CLI) is written under $T/san; done_testing turns
# reports into a failing test, and the exit trap fails the script for
# reports written after it (at daemon shutdown, e.g. leaks).
# Backends (issue 17): SP_BACKEND=sqlite (the default: $DB is the file
# $T/sipprov.db) or SP_BACKEND=pg: a throwaway PostgreSQL cluster for the
# script (tests/pglib.sh) and $DB the URL of a fresh database in it.
# Either way scripts read and write the store with `sql` (rows printed as
# sqlite3 prints them), make more stores with new_db, and mark what only
# one backend can check with backend_is / only_backend / skip_check.

set -u
# /dev/null must be the device: a root process that unlinked it (fetch_bench
# once did) leaves a regular file that every `>/dev/null` writes into and
# every reader of /dev/null then sees, failing checks far from the cause.
[ -c /dev/null ] || { echo "Bail out! /dev/null is not a character device on this machine: restore it (rm /dev/null; mknod -m 666 /dev/null c 1 3)"; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${SP_BUILD:=$ROOT/build}"
SIPPROV="$SP_BUILD/sipprov"
# Waits on real peers (linphonec registering) stretch by this factor under
# sanitizer builds, whose daemon is several times slower.
case $SP_BUILD in *-asan|*-tsan) SP_SLOW=3 ;; *) SP_SLOW=1 ;; esac
SIPPROVD="$SP_BUILD/sipprovd"
: "${SP_BACKEND:=sqlite}"
case $SP_BACKEND in
sqlite|pg) ;;
*) echo "Bail out! SP_BACKEND=$SP_BACKEND: sqlite or pg"; exit 1 ;;
esac
export SIPPROV_TEMPLATES="$ROOT/templates"
T=$(mktemp -d "${TMPDIR:-/tmp}/sipprov-test.XXXXXX")
DB="$T/sipprov.db"
export SIPPROV_DB="$DB"
# $DB as sipprov names it in messages (on PostgreSQL: without the password).
DB_SHOWN=$DB
_tap_n=0
_tap_fail=0
_pids=""
mkdir -p "$T/san"
# The plain build ignores these; ':' separates sanitizer options.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/san/report"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/san/report"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$T/san/report"

# Print every sanitizer report written so far as TAP diagnostics (to
# stdout, or stderr after the plan); returns 1 if there was any.
_san_reports() {
	_found=0
	for f in "$T"/san/*; do
		[ -s "$f" ] || continue
		_found=1
		echo "# sanitizer report $(basename "$f"):"
		sed 's/^/#   /' "$f" | head -60
	done
	return $_found
}

_cleanup() {
	_rc=$?
	for p in $_pids; do kill "$p" 2>/dev/null; done
	for p in $_pids; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null
	done
	# Reports written after done_testing (e.g. leaks found when the trap
	# stopped a daemon) fail the script: prove shows a non-zero exit.
	_san_reports >&2 || _rc=1
	[ -n "${KEEP_TEST_DIR:-}" ] && echo "# kept $T" || rm -rf "$T"
	exit $_rc
}
trap _cleanup EXIT

# Register a pid to be stopped at exit.
track_pid() { _pids="$_pids $1"; }

# hold_lock SECONDS [SQL]: a writer transaction held by another process on
# $DB (tests/hold_lock.py) for SECONDS, then rolled back (or SQL run and
# committed); returns once it holds the lock, its pid in $HOLDER.
hold_lock() {
	rm -f "$T/held"
	python3 "$ROOT/tests/hold_lock.py" "$DB" "$@" >"$T/held" &
	HOLDER=$!
	track_pid "$HOLDER"
	for _ in $(seq 1 100); do
		grep -q held "$T/held" 2>/dev/null && return 0
		sleep 0.05
	done
	bail "the lock holder did not take the lock"
}

ok() { # ok COND_EXIT_CODE "description"
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"
	else echo "not ok $_tap_n - $2"; _tap_fail=$((_tap_fail + 1)); fi
}

is() { # is GOT WANT "description"
	_tap_n=$((_tap_n + 1))
	if [ "$1" = "$2" ]; then echo "ok $_tap_n - $3"
	else
		echo "not ok $_tap_n - $3"; _tap_fail=$((_tap_fail + 1))
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
	fi
}
like() { # like GOT REGEX "description"
	_tap_n=$((_tap_n + 1))
	if printf '%s' "$1" | grep -Eq -- "$2"; then echo "ok $_tap_n - $3"
	else
		echo "not ok $_tap_n - $3"; _tap_fail=$((_tap_fail + 1))
		printf '#   got:  %s\n#   want match: %s\n' "$(printf '%s' "$1" | head -c 600)" "$2"
	fi
}
unlike() { # unlike GOT REGEX "description"
	_tap_n=$((_tap_n + 1))
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		echo "not ok $_tap_n - $3"; _tap_fail=$((_tap_fail + 1))
		printf '#   unexpected match for: %s\n' "$2"
	else echo "ok $_tap_n - $3"; fi
}
diag() { echo "# $*"; }
done_testing() {
	# The daemon is stopped first so that what it reports at exit (leaks)
	# is counted here.  Reports become a failing test, then move aside so
	# the exit trap does not count them twice.
	stop_sipprovd
	_san_out=$(_san_reports); _san_rc=$?
	[ -n "$_san_out" ] && printf '%s\n' "$_san_out"
	ok $_san_rc "no sanitizer report from any process this test started"
	mkdir -p "$T/san-seen" && mv "$T"/san/* "$T/san-seen/" 2>/dev/null
	echo "1..$_tap_n"; [ "$_tap_fail" -eq 0 ]
}
bail() { echo "Bail out! $*"; exit 1; }
# wait_log FILE REGEX [N]: until FILE has N (default 1) lines matching
# REGEX, at most 20 s (a loaded sanitizer run), instead of a fixed sleep.
wait_log() {
	_wl_n=${3:-1}
	for _ in $(seq 1 400); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$_wl_n" ] && return 0
		sleep 0.05
	done
	return 1
}
# wait_for SQL WANT: poll the database until SQL prints WANT (the daemon
# batches its writes); 10 s, x SP_SLOW.
wait_for() {
	for _ in $(seq 1 $((100 * SP_SLOW))); do
		[ "$(sql "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wrk_passes PATHS PASSES OUT [BOUND [TIMEOUT]]: wrk (two threads, 50
# connections) fetches every path of the file PATHS from $URL PASSES
# times (tests/peers/wrk_passes.lua), its report in OUT.  It runs until
# both threads have every answer, then SIGINT ends it and it prints its
# counts: how long the fetches take is the machine's and the backend's
# business, not a test's.  BOUND (default 300 s) only ends a daemon that
# stops answering; TIMEOUT (default 10 s) is wrk's per request.  Returns
# 0 when both threads finished.
wrk_passes() {
	rm -f "$T/wrk.done"
	wrk -t2 -c50 -d"${4:-300}s" --timeout "${5:-10}s" -s "$ROOT/tests/peers/wrk_passes.lua" "$URL" -- "$1" "$2" 2 \
		"$T/wrk.done" > "$3" 2>&1 &
	_wp=$!; track_pid $_wp
	while kill -0 $_wp 2>/dev/null && [ "$(cat "$T/wrk.done" 2>/dev/null | wc -l)" -lt 2 ]; do sleep 0.1; done
	kill -INT $_wp 2>/dev/null
	wait $_wp
	[ "$(cat "$T/wrk.done" 2>/dev/null | wc -l)" -eq 2 ]
}
# metric NAME: the running sipprovd's value of NAME (with its labels, as
# /metrics writes it), 0 when it has none yet.
metric() {
	_mv=$(curl -fsS "$ADMIN_URL/metrics" | awk -v s="$1" '$1 == s { print $2 }')
	echo "${_mv:-0}"
}

sp() { "$SIPPROV" -d "$DB" "$@"; }

# ---- the store, on either backend ----
# sql "SQL": run SQL on the test's database $DB; without an argument, the
# SQL is read from stdin.  Rows print as sqlite3 prints them by default:
# columns joined by '|', no header, NULL as an empty string.  On PostgreSQL
# booleans would print t/f: write CASE WHEN ... THEN 1 ELSE 0 END instead.
# sql_db DB "SQL": the same on another database (a path or URL from new_db).
sql() { sql_db "$DB" "$@"; }
sql_db() {
	_sq_db=$1; shift
	if [ "$SP_BACKEND" = sqlite ]; then
		sqlite3 "$_sq_db" "$@"
	elif [ $# -gt 0 ]; then
		# Through stdin, not -c: every statement's rows print, and each
		# statement commits on its own, as with sqlite3 "DB" "a; b".
		printf '%s\n' "$1" | _psql "$_sq_db"
	else
		_psql "$_sq_db"
	fi
}
_psql() {
	PGOPTIONS='-c client_min_messages=warning' psql "$1" -X -q -A -t -F '|' -v ON_ERROR_STOP=1
}
# sql_fk "SQL": SQL with foreign keys enforced (ON DELETE CASCADE, ...),
# as the daemon and the CLI run; sqlite3 alone leaves them off, PostgreSQL
# always enforces them.
sql_fk() {
	if [ "$SP_BACKEND" = sqlite ]; then
		sqlite3 "$DB" "PRAGMA foreign_keys=ON; $1"
	else
		sql "$1"
	fi
}
# sql_dump: the whole database (schema and rows) as text, to compare two
# moments of the same database ("nothing was written").  pg_dump (15.14
# and later) wraps its output in \restrict / \unrestrict with a random key
# per run, and it records each sequence's position, which an INSERT that
# fails and rolls back still moves (sequences are not transactional; a
# SQLite rowid is): both kinds of line go, the rows and schema stay.
sql_dump() {
	if [ "$SP_BACKEND" = sqlite ]; then
		sqlite3 "$DB" .dump
	else
		"$PG_BIN/pg_dump" --no-owner --no-privileges "$DB" |
			sed -e '/^\\\(un\)\{0,1\}restrict /d' -e '/^SELECT pg_catalog\.setval(/d'
	fi
}
# db_grep [GREP OPTIONS] PATTERN: grep over what the store keeps at rest:
# the database file on SQLite, a pg_dump of the database on PostgreSQL
# (no file of ours there), for "no plaintext secret in the database".
db_grep() {
	if [ "$SP_BACKEND" = sqlite ]; then
		grep "$@" "$DB"
	else
		sql_dump | grep "$@"
	fi
}
# new_db NAME: prints a new, empty store for the test: a path in $T on
# SQLite (created by the first sipprov command on it), the URL of a new
# database in the script's cluster on PostgreSQL.
new_db() {
	if [ "$SP_BACKEND" = sqlite ]; then
		echo "$T/$1.db"
	else
		pg_newdb "$1"
	fi
}
# backend_is NAME: true when the suite runs on that backend (sqlite, pg).
backend_is() { [ "$SP_BACKEND" = "$1" ]; }
# only_backend NAME "why": the script checks something only that backend
# has (a database file's mode, a backup of a file, a WAL...); on the other
# one it is skipped as a whole, saying why.
only_backend() {
	backend_is "$1" && return 0
	echo "1..0 # SKIP only on $1: $2"
	exit 0
}
# own_clusters: for a file that starts its own PostgreSQL clusters
# (tests/pglib.sh) whatever SP_BACKEND says, and so does the same under
# both: make test runs it in the SQLite suite (and under ASan and TSan),
# not a second time in the PostgreSQL one.
own_clusters() {
	backend_is pg || return 0
	echo "1..0 # SKIP starts its own PostgreSQL clusters whatever the backend: the SQLite suite ran it"
	exit 0
}
# skip_check "why": one check that this backend cannot make, shown as a
# skipped test (say which backend it needs and why).
skip_check() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n # SKIP on $SP_BACKEND: $1"
}

# Fail (not skip) when a peer the test needs is missing: CI installs them.
need() {
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || bail "'$cmd' is not installed (tools/install-deps.sh installs it)"
	done
}

# wait_ready LOG PID: wait (10 s at most) until the sipprovd whose output
# is LOG says it is ready, which it logs once every listener is up (the
# HTTPS one may come well after the HTTP one, e.g. under ThreadSanitizer);
# prints its HTTP port, or nothing when it died or never got ready.
wait_ready() {
	for _ in $(seq 1 200); do
		if grep -q '^sipprovd .* ready (' "$1"; then
			sed -n 's/^http listening on .* port \([0-9][0-9]*\)$/\1/p' "$1" | head -1
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 0
		sleep 0.05
	done
}

# start_sipprovd [-o key=value ...]: a real daemon on 127.0.0.1, port 0
# (the kernel picks), database $DB; waits until /healthz answers.
start_sipprovd() {
	SIPPROVD_LOG="$T/sipprovd.log"
	"$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
		-o hep_listen= -o admin_listen=127.0.0.1:0 -o access_log="$T/access.log" \
		${SP_PHONE_SERVER:+-o phone_server=$SP_PHONE_SERVER} "$@" >"$SIPPROVD_LOG" 2>&1 &
	SIPPROVD_PID=$!
	track_pid "$SIPPROVD_PID"
	PORT=$(wait_ready "$SIPPROVD_LOG" "$SIPPROVD_PID")
	[ -n "$PORT" ] || { sed 's/^/# sipprovd: /' "$SIPPROVD_LOG"; bail "sipprovd did not start"; }
	URL="http://127.0.0.1:$PORT"
	HTTPS_PORT=$(sed -n 's/^https listening on .* port \([0-9][0-9]*\)$/\1/p' "$SIPPROVD_LOG" | head -1)
	# The admin listener (API, /metrics): $ADMIN_URL, unless -o admin_listen= turned it off.
	ADMIN_PORT=$(sed -n 's/^admin https\{0,1\} listening on .* port \([0-9][0-9]*\)$/\1/p' "$SIPPROVD_LOG" | head -1)
	ADMIN_URL="http://127.0.0.1:$ADMIN_PORT"
	grep -q '^admin https listening' "$SIPPROVD_LOG" && ADMIN_URL="https://127.0.0.1:$ADMIN_PORT"
	for _ in $(seq 1 100); do
		curl -fsS "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	bail "sipprovd does not answer /healthz"
}

stop_sipprovd() {
	[ -n "${SIPPROVD_PID:-}" ] || return 0
	kill -TERM "$SIPPROVD_PID" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$SIPPROVD_PID" 2>/dev/null || break; sleep 0.05; done
	wait "$SIPPROVD_PID" 2>/dev/null
	SIPPROVD_RC=$?
	SIPPROVD_PID=""
	return 0
}

# free_port [N] / free_udp_tcp_port [N]: a loopback port free for TCP (and
# for UDP too), or N distinct ones, picked at random below the kernel's
# ephemeral range. Ports the
# kernel hands out (bind to 0) are the ones every outgoing connection of a
# suite running side by side takes too, so a registrar started a moment
# later could find its port gone. Random rather than derived from $$, which
# collides across suites; checked by binding, still racy but only against
# another test's listener.  Never one this test was handed before
# ($T/ports): a port picked for a listener that has not started yet, or
# meant to stay closed, is free to bind, and was picked twice.
free_port() { FREE_PORT_TAKEN="$T/ports" python3 "$ROOT/tests/free-port.py" tcp "${1:-1}"; }
free_udp_tcp_port() { FREE_PORT_TAKEN="$T/ports" python3 "$ROOT/tests/free-port.py" udp "${1:-1}"; }

# start_kamailio [HEP_PORT]: Kamailio as registrar on 127.0.0.1:$KAM_PORT
# (UDP+TCP) from tests/peers/kamailio.cfg.in, subscribers in $KAM_DIR/kam.db,
# HEP mirrored to HEP_PORT (default: a port nobody listens on).
# add_subscriber AUTH_USER DOMAIN PASSWORD adds one (the digest user).
start_kamailio() {
	need kamailio sqlite3
	KAM_DIR="$T/kam"
	mkdir -p "$KAM_DIR"
	hep=${1:-$(free_port)}
	sqlite3 "$KAM_DIR/kam.db" < /usr/share/kamailio/db_sqlite/standard-create.sql
	sqlite3 "$KAM_DIR/kam.db" < /usr/share/kamailio/db_sqlite/auth_db-create.sql
	# A port taken between the pick and Kamailio's bind is a race, not a
	# failure of what is under test: pick another, at most three times.
	for try in 1 2 3; do
		KAM_PORT=$(free_udp_tcp_port)
		sed -e "s|@DIR@|$KAM_DIR|g" -e "s|@PORT@|$KAM_PORT|g" -e "s|@HEP@|$hep|g" \
			"$ROOT/tests/peers/kamailio.cfg.in" > "$KAM_DIR/kamailio.cfg"
		kamailio -f "$KAM_DIR/kamailio.cfg" -P "$KAM_DIR/kam.pid" -E >"$KAM_DIR/kam.log" 2>&1 && break
		grep -q 'Address already in use' "$KAM_DIR/kam.log" || break
		echo "# kamailio: port $KAM_PORT was taken (try $try), picking another" >&2
	done
	for _ in $(seq 1 $((100 * SP_SLOW))); do [ -s "$KAM_DIR/kam.pid" ] && break; sleep 0.05; done
	[ -s "$KAM_DIR/kam.pid" ] || { sed 's/^/# kamailio: /' "$KAM_DIR/kam.log" | tail -20; bail "kamailio did not start"; }
	track_pid "$(cat "$KAM_DIR/kam.pid")"
	# Kamailio forks children; stop the whole group at exit through the main pid.
	sleep 0.3
}
add_subscriber() {
	_q() { printf %s "$1" | sed "s/'/''/g"; }
	sqlite3 "$KAM_DIR/kam.db" "INSERT INTO subscriber(username,domain,password,ha1,ha1b) VALUES ('$(_q "$1")','$(_q "$2")','$(_q "$3")','','')"
}

# register_with NAME URL [ROOT_CA]: run linphonec (its own HOME under
# $T/home.NAME) provisioned from URL, trusting ROOT_CA for HTTPS if given;
# prints its register status once registered or after 10 s (x SP_SLOW).
# Its runtime folder is $T/home.NAME/run (phone_env): without one,
# libpulse makes /tmp/pulse-* and links it from HOME, and every run left
# one behind.
# linphonecsh talks to linphonec through one socket per user
# (/tmp/linphonec-UID), whatever HOME is: suites running side by side
# (make test) take turns through a lock on it.  linphonec must not inherit
# the lock (9>&-): it outlives its linphonecsh.  One that does not exit
# when told (seen hung in a futex after a refused config) is killed, or it
# would keep the socket.
phone_env() { # phone_env HOME: the folders a softphone's HOME needs
	mkdir -p "$1/.local/share/linphone" "$1/run" && chmod 700 "$1/run"
}
register_with() {
	H="$T/home.$1"; rm -rf "$H"; phone_env "$H"
	printf '[misc]\nconfig-uri=%s\n[sip]\nsip_port=-1\nsip_tcp_port=-1\n%s[rtp]\naudio_rtp_port=-1\n' \
		"$2" "${3:+root_ca=$3
}" > "$H/rc"
	(
		flock -w $((300 * SP_SLOW)) 9 || echo "# waited $((300 * SP_SLOW)) s for linphonecsh's lock" >&2
		export HOME="$H" XDG_RUNTIME_DIR="$H/run"     # this subshell's only
		linphonecsh init -c "$H/rc" -d 6 -l "$H/linphone.log" >/dev/null 2>&1 9>&-
		st=""
		for _ in $(seq 1 $((40 * SP_SLOW))); do
			st=$(linphonecsh status register 2>&1 9>&-)
			case "$st" in registered,*) break ;; esac
			sleep 0.25
		done
		linphonecsh exit >/dev/null 2>&1 9>&-
		for _ in 1 2 3 4 5 6 7 8 9 10; do pgrep -f -- "$H/rc" >/dev/null || break; sleep 0.2; done
		pkill -KILL -f -- "$H/rc" 2>/dev/null
		echo "$st"
	) 9>"${TMPDIR:-/tmp}/sipprov-linphonecsh-$(id -u).lock"
}

# ---- the console's browser tests (tests/console/*.js drivers) ----
# console_deps: $NM, the node_modules that tools/install-deps.sh --test puts
# puppeteer-core and axe-core in; bails when they are missing.
console_deps() {
	NM=${XDG_CACHE_HOME:-$HOME/.cache}/sipprov-console/node_modules
	[ -f "$NM/puppeteer-core/package.json" ] && [ -f "$NM/axe-core/axe.min.js" ] ||
		bail "puppeteer-core and axe-core are not in $NM (tools/install-deps.sh --test installs them)"
}
# browser_tap FILE: a driver's "ok|not ok<TAB>text" and "diag<TAB>text"
# lines as TAP; afterwards `value NAME` prints its "value<TAB>NAME<TAB>json".
browser_tap() {
	BROWSER_OUT=$1
	while IFS='	' read -r kind rest; do
		case $kind in
		ok) ok 0 "$rest" ;;
		"not ok") ok 1 "$rest" ;;
		diag) diag "$rest" ;;
		esac
	done < "$1"
}
value() { sed -n "s/^value	$1	//p" "$BROWSER_OUT"; }

# ---- SP_BACKEND=pg: the store in a throwaway cluster ----
# Last, so that pglib.sh's exit trap (stop the cluster, then _cleanup)
# replaces the one above and finds every helper it uses defined.  $DB is a
# database of its own, not the cluster's "sipprov" that scripts written for
# pglib.sh (9c) use by name.
if [ "$SP_BACKEND" = pg ] && [ -n "${SP_PG_DB:-}" ]; then
	# A database in a cluster the parent process started and stops (71
	# re-runs itself where none can start): no pglib.sh helpers here.
	PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
	DB=$SP_PG_DB
	export SIPPROV_DB="$DB"
	DB_SHOWN=$DB
elif [ "$SP_BACKEND" = pg ]; then
	. "$ROOT/tests/pglib.sh"
	pg_start
	DB=$(pg_newdb sp_test) || { echo "$DB"; exit 1; }
	export SIPPROV_DB="$DB"
	DB_SHOWN=$(printf %s "$DB" | sed "s|sp:$PGPASS@|sp@|")
fi
if [ "$SP_BACKEND" = pg ]; then
	# The PostgreSQL store wants its key file named (no file sits beside a
	# URL): the CLI reads SIPPROV_KEY_FILE; sipprovd gets -o key_file from
	# the wrapper $SIPPROVD names, so every start has it, start_sipprovd's
	# and a script's own; a script's own -o key_file comes later and wins.
	export SIPPROV_KEY_FILE="$T/sipprov.key"
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nexec %s -o key_file=%s "$@"\n' "'$SP_BUILD/sipprovd'" "'$SIPPROV_KEY_FILE'" >"$T/bin/sipprovd"
	chmod +x "$T/bin/sipprovd"
	SIPPROVD="$T/bin/sipprovd"
	# Run inside $T, so that a relative path a script writes (a CSV, a
	# config) stays there and never lands in the folder prove runs in.
	cd "$T" || bail "cd $T"
fi
