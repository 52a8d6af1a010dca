# tests/pglib.sh: a throwaway PostgreSQL cluster for one test script.
# Source it after tests/lib.sh:  . "$(dirname "$0")/../pglib.sh"
# pg_start: initdb in $T/pg, postgres on a free 127.0.0.1 port with its
# unix socket in $T/pg, fsync off; sets $PGURL (a database "sipprov",
# password auth over TCP: the URL carries $PGPASS), $PGPORT_T, $PGDATA_T.
# pg_newdb NAME prints the URL of a new empty database.  The cluster is
# stopped and removed at exit, whatever way the script ends.  Never a
# system service: Debian's pg_ctlcluster and the postgresql unit are not used.
# PG_CPU (a CPU number, for benches): the server runs on that CPU alone.
# initdb refuses to run as root: as root, the server runs as an
# unprivileged user ($PG_USER: postgres if present, else nobody).
# With SP_BACKEND=pg, lib.sh has sourced this file and started the cluster
# already: a script's own `. pglib.sh; pg_start` reuses it.
[ -z "${_pglib_sourced:-}" ] || return 0
_pglib_sourced=1
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR="$T/pg"
PGDATA_T="$PG_DIR/data"
PGPASS="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PGPORT_T=""
PGURL=""
_pg_started=""
for _b in initdb pg_ctl postgres; do
	[ -x "$PG_BIN/$_b" ] || bail "'$PG_BIN/$_b' is missing (tools/install-deps.sh --test installs postgresql-15)"
done
command -v psql >/dev/null 2>&1 || bail "'psql' is not installed (postgresql-client-15)"

if [ "$(id -u)" -eq 0 ]; then
	PG_USER=postgres
	id "$PG_USER" >/dev/null 2>&1 || PG_USER=nobody
	_pg_as() { setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups -- "$@"; }
else
	PG_USER=$(id -un)
	_pg_as() { "$@"; }
fi

# Stop the cluster (fast, by its own pid file) before lib.sh's trap
# removes $T; keep the script's exit code for that trap.
_pg_stop() {
	[ -n "$_pg_started" ] || return 0
	_pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_T" -m immediate -w -t 20 stop >/dev/null 2>&1
	_pg_started=""
}
trap '_pg_rc=$?; _pg_stop; (exit $_pg_rc); _cleanup' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT HUP

_pg_ctl_start() {
	_pg_as ${PG_CPU:+taskset -c "$PG_CPU"} "$PG_BIN/pg_ctl" -D "$PGDATA_T" -l "$PG_DIR/server.log" -w -t 30 \
		-o "-p $PGPORT_T -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
			-c full_page_writes=off" \
		start >/dev/null 2>&1
}

pg_start() {
	[ -z "$_pg_started" ] || return 0
	mkdir -p "$PG_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		# The server user must reach its folder inside root's 0700 $T:
		# traverse only (no listing); the cluster folder is its own.
		chmod o+x "$T"
		chown "$PG_USER" "$PG_DIR"
	fi
	printf '%s\n' "$PGPASS" > "$T/pg.pw"
	chmod 644 "$T/pg.pw"
	_pg_as "$PG_BIN/initdb" -D "$PGDATA_T" -U sp --pwfile="$T/pg.pw" --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
		{ sed 's/^/# initdb: /' "$PG_DIR/initdb.log"; bail "initdb failed"; }
	rm -f "$T/pg.pw"
	for _try in 1 2 3 4 5; do
		PGPORT_T=$(free_port)
		if _pg_ctl_start; then
			_pg_started=1
			break
		fi
		# Another process took the port between free_port and the bind: retry.
		grep -q 'could not bind\|Address already in use' "$PG_DIR/server.log" 2>/dev/null ||
			{ sed 's/^/# postgres: /' "$PG_DIR/server.log" | tail -20; bail "postgres did not start"; }
	done
	[ -n "$_pg_started" ] || bail "postgres found no free port"
	PGURL="postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T/sipprov"
	pg_sql postgres "CREATE DATABASE sipprov" >/dev/null || bail "cannot create database sipprov"
}

# pg_down: the server goes away; pg_up: it comes back on the same port,
# data kept.  For tests of a database that cannot be reached.  A fast
# (clean) shutdown: with synchronous_commit off, an immediate one loses
# the last commits, as a crash would.
pg_down() {
	[ -n "$_pg_started" ] || return 0
	_pg_as "$PG_BIN/pg_ctl" -D "$PGDATA_T" -m fast -w -t 20 stop >/dev/null 2>&1 || bail "postgres did not stop"
	_pg_started=""
}
pg_up() {
	[ -z "$_pg_started" ] || return 0
	_pg_ctl_start || { sed 's/^/# postgres: /' "$PG_DIR/server.log" | tail -20; bail "postgres did not start again"; }
	_pg_started=1
}

# pg_sql DB SQL...: run SQL as the superuser on database DB (a name);
# unaligned, tuples only, stop at the first error.
pg_sql() {
	_db=$1; shift
	psql "postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T/$_db" -X -q -A -t -v ON_ERROR_STOP=1 -c "$*"
}

# pg_newdb NAME: a new empty database; prints its URL.
pg_newdb() {
	pg_sql postgres "CREATE DATABASE \"$1\"" >/dev/null || bail "cannot create database $1"
	echo "postgresql://sp:$PGPASS@127.0.0.1:$PGPORT_T/$1"
}

# pg_replica [-c NAME=VALUE ...]: a streaming replica of the cluster (a
# base backup with -R) in $REP, started with those settings on a free
# port, $REP_PORT (another, if a process took it before the bind); two TAP
# checks.  pg_replica_start starts it again after a stop.
pg_replica() {
	REP="$PG_DIR/replica"
	REP_OPTS=$*
	_pg_as env PGPASSWORD="$PGPASS" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT_T" -U sp \
		-D "$REP" -R -X stream -c fast >"$T/basebackup.out" 2>&1
	ok $? "pg_basebackup -R from the primary"
	for _ in 1 2 3 4 5; do REP_PORT=$(free_port); pg_replica_start && break; done
	kill -0 "$(head -1 "$REP/postmaster.pid" 2>/dev/null)" 2>/dev/null; ok $? "the replica runs on port $REP_PORT"
}
pg_replica_start() {
	_pg_as "$PG_BIN/pg_ctl" -D "$REP" -l "$PG_DIR/replica.log" -w -t 30 \
		-o "-p $REP_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off $REP_OPTS" \
		start >/dev/null 2>&1 && track_pid "$(head -1 "$REP/postmaster.pid")"
}

# pg_node_start NAME [sipprovd options]: a sipprovd node on $DB (key file
# $SIPPROV_KEY_FILE, shared by every node) with its own port and log
# ($T/NAME.log); sets NODE_PORT and NODE_PID.
pg_node_start() {
	_node=$1; shift
	"$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
		-o hep_listen= -o admin_listen= -o access_log="$T/access-$_node.log" -o key_file="$SIPPROV_KEY_FILE" \
		"$@" >"$T/$_node.log" 2>&1 &
	NODE_PID=$!
	track_pid "$NODE_PID"
	NODE_PORT=$(wait_ready "$T/$_node.log" "$NODE_PID")
	[ -n "$NODE_PORT" ] || { sed "s/^/# $_node: /" "$T/$_node.log"; bail "sipprovd $_node did not start"; }
}

# pg_node_get PORT PATH [WANT [TIMEOUT_S [CMD...]]]: a demo device's config
# with its digest credentials (tests/support/digest_get.py says what it prints).
pg_node_get() { python3 "$ROOT/tests/support/digest_get.py" "$@"; }
