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

set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${SP_BUILD:=$ROOT/build}"
SIPPROV="$SP_BUILD/sipprov"
# Waits on real peers (linphonec registering) stretch by this factor under
# sanitizer builds, whose daemon is several times slower.
case $SP_BUILD in *-asan|*-tsan) SP_SLOW=3 ;; *) SP_SLOW=1 ;; esac
SIPPROVD="$SP_BUILD/sipprovd"
export SIPPROV_TEMPLATES="$ROOT/templates"
T=$(mktemp -d "${TMPDIR:-/tmp}/sipprov-test.XXXXXX")
DB="$T/sipprov.db"
export SIPPROV_DB="$DB"
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

sp() { "$SIPPROV" -d "$DB" "$@"; }

# Fail (not skip) when a peer the test needs is missing: CI installs them.
need() {
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || bail "'$cmd' is not installed (tools/install-deps.sh installs it)"
	done
}

# start_sipprovd [-o key=value ...]: a real daemon on 127.0.0.1, port 0
# (the kernel picks), database $DB; waits until /healthz answers.
start_sipprovd() {
	SIPPROVD_LOG="$T/sipprovd.log"
	"$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
		-o hep_listen= -o admin_listen=127.0.0.1:0 -o access_log="$T/access.log" "$@" >"$SIPPROVD_LOG" 2>&1 &
	SIPPROVD_PID=$!
	track_pid "$SIPPROVD_PID"
	# "ready" is logged once every listener is up (the HTTPS one may come
	# well after the HTTP one, e.g. under ThreadSanitizer).
	PORT=""
	for _ in $(seq 1 200); do
		if grep -q '^sipprovd .* ready (' "$SIPPROVD_LOG"; then
			PORT=$(sed -n 's/^http listening on .* port \([0-9][0-9]*\)$/\1/p' "$SIPPROVD_LOG" | head -1)
			break
		fi
		kill -0 "$SIPPROVD_PID" 2>/dev/null || break
		sleep 0.05
	done
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

# A free TCP/UDP port on 127.0.0.1 from the kernel (racy but short-lived).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_kamailio [HEP_PORT]: Kamailio as registrar on 127.0.0.1:$KAM_PORT
# (UDP+TCP) from tests/peers/kamailio.cfg.in, subscribers in $KAM_DIR/kam.db,
# HEP mirrored to HEP_PORT (default: a port nobody listens on).
# add_subscriber AUTH_USER DOMAIN PASSWORD adds one (the digest user).
start_kamailio() {
	need kamailio sqlite3
	KAM_DIR="$T/kam"
	mkdir -p "$KAM_DIR"
	KAM_PORT=$(free_port)
	hep=${1:-$(free_port)}
	sqlite3 "$KAM_DIR/kam.db" < /usr/share/kamailio/db_sqlite/standard-create.sql
	sqlite3 "$KAM_DIR/kam.db" < /usr/share/kamailio/db_sqlite/auth_db-create.sql
	sed -e "s|@DIR@|$KAM_DIR|g" -e "s|@PORT@|$KAM_PORT|g" -e "s|@HEP@|$hep|g" \
		"$ROOT/tests/peers/kamailio.cfg.in" > "$KAM_DIR/kamailio.cfg"
	kamailio -f "$KAM_DIR/kamailio.cfg" -P "$KAM_DIR/kam.pid" -E >"$KAM_DIR/kam.log" 2>&1
	for _ in $(seq 1 100); do [ -s "$KAM_DIR/kam.pid" ] && break; sleep 0.05; done
	[ -s "$KAM_DIR/kam.pid" ] || { sed 's/^/# kamailio: /' "$KAM_DIR/kam.log" | tail -20; bail "kamailio did not start"; }
	track_pid "$(cat "$KAM_DIR/kam.pid")"
	# Kamailio forks children; stop the whole group at exit through the main pid.
	sleep 0.3
}
add_subscriber() {
	_q() { printf %s "$1" | sed "s/'/''/g"; }
	sqlite3 "$KAM_DIR/kam.db" "INSERT INTO subscriber(username,domain,password,ha1,ha1b) VALUES ('$(_q "$1")','$(_q "$2")','$(_q "$3")','','')"
}

# register_with NAME URL: run linphonec (its own HOME under $T/home.NAME)
# provisioned from URL; prints its register status once registered or
# after 10 s (x SP_SLOW).
register_with() {
	H="$T/home.$1"; rm -rf "$H"; mkdir -p "$H/.local/share/linphone"
	printf '[misc]\nconfig-uri=%s\n[sip]\nsip_port=-1\nsip_tcp_port=-1\n[rtp]\naudio_rtp_port=-1\n' "$2" > "$H/rc"
	HOME=$H linphonecsh init -c "$H/rc" -d 6 -l "$H/linphone.log" >/dev/null 2>&1
	st=""
	for _ in $(seq 1 $((40 * SP_SLOW))); do
		st=$(HOME=$H linphonecsh status register 2>&1)
		case "$st" in registered,*) break ;; esac
		sleep 0.25
	done
	HOME=$H linphonecsh exit >/dev/null 2>&1
	echo "$st"
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
