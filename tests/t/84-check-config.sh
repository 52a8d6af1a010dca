#!/bin/sh
# sipprovd -n checks what a start would meet and changes nothing: each bad
# case (an address that is not one, one this host does not have, a missing
# or mismatched TLS certificate/key, a wrong key file, a missing database, a
# database from a newer sipprov, a firmware_dir that is missing, not a
# folder or not writable) is named, exit is nonzero, and the
# database file is byte-for-byte and mtime unchanged, with no -wal/-shm
# left, or still absent.  A good configuration says "configuration OK" and
# really starts; an old database is reported, not migrated.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need openssl sqlite3 sha256sum curl
P="$T/pki"
make_pki "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/stray.key" -out "$P/stray.pem" -days 2 \
	-subj "/CN=stray" 2>/dev/null || bail "openssl: stray pair"
chmod 600 "$P/stray.key"
expired_cert "$P" expired "/CN=localhost"

sp init >/dev/null || bail "init"
sp tenant add acme >/dev/null || bail "tenant"
# On PostgreSQL: the dump of the database (no file of ours to hash).
state() {
	if backend_is sqlite; then
		printf '%s %s %s' "$(sha256sum < "$DB" | cut -c1-16)" "$(stat -c %Y.%y "$DB")" \
			"$(ls "$DB"-wal "$DB"-shm "$DB"-journal 2>/dev/null | wc -l)"
	else
		sql_dump | sha256sum | cut -c1-16
	fi
}
before=$(state)
check() { "$SIPPROVD" -n -f /dev/null -o database="$DB" -o templates="$ROOT/templates" \
	-o http_listen=127.0.0.1:0 -o hep_listen= -o admin_listen=127.0.0.1:0 "$@" 2>&1; }

out=$(check); rc=$?
is "$rc" 0 "a good configuration: exit 0"
like "$out" "^configuration OK$" "and says configuration OK"

# One bad case each: the error names the key and the value.
bad() { # bad DESCRIPTION REGEX -o ...
	desc=$1 re=$2; shift 2
	out=$(check "$@"); rc=$?
	ok $((rc == 0)) "$desc: exit $rc"
	like "$out" "$re" "$desc: named in the error"
	unlike "$out" "configuration OK" "$desc: no 'configuration OK'"
	is "$(state)" "$before" "$desc: database unchanged (sha256, mtime, no -wal/-shm)"
}
bad "http_listen=999.1.1.1:80" "error: http_listen: .*'999.1.1.1' is not an IP address" -o http_listen=999.1.1.1:80
bad "http_listen on an address this host lacks" "error: http_listen: cannot bind '192.0.2.1:8080': Cannot assign" \
	-o http_listen=192.0.2.1:8080
bad "https_listen with a missing certificate" "error: tls_cert: cannot read '$P/missing.pem': No such file" \
	-o https_listen=127.0.0.1:0 -o tls_cert="$P/missing.pem" -o tls_key="$P/server.key"
bad "https_listen with a missing key" "error: tls_key: cannot read '$P/missing.key'" \
	-o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/missing.key"
bad "admin_listen=999.1.1.1:80" "error: admin_listen: .*'999.1.1.1' is not an IP address" -o admin_listen=999.1.1.1:80
bad "admin_tls_cert missing" "error: admin_tls_cert: cannot read '$P/missing.pem'" \
	-o admin_tls_cert="$P/missing.pem" -o admin_tls_key="$P/server.key"
bad "admin_tls_key of another certificate" \
	"error: admin_tls_key '$P/stray.key' does not match the certificate in '$P/server.pem'" \
	-o admin_tls_cert="$P/server.pem" -o admin_tls_key="$P/stray.key"
bad "https_listen with the key of another certificate" \
	"error: tls_key '$P/stray.key' does not match the certificate in '$P/server.pem'" \
	-o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/stray.key"
bad "https_listen without tls_cert" "error: https_listen needs tls_cert and tls_key" -o https_listen=127.0.0.1:0
bad "tls_cert that is not PEM" "error: tls_cert '$P/ca.srl': .*" \
	-o https_listen=127.0.0.1:0 -o tls_cert="$P/ca.srl" -o tls_key="$P/server.key"
# The rule sipprovd applies when it loads a certificate (start and SIGHUP):
# an expired one is refused here too, for either listener.
bad "an expired tls_cert" "error: tls_cert '$P/expired.pem' expired" \
	-o https_listen=127.0.0.1:0 -o tls_cert="$P/expired.pem" -o tls_key="$P/expired.key"
bad "an expired admin_tls_cert" "error: admin_tls_cert '$P/expired.pem' expired" \
	-o admin_tls_cert="$P/expired.pem" -o admin_tls_key="$P/expired.key"
bad "hep_listen on an address this host lacks" "hep_listen '192.0.2.1:9999': cannot bind" \
	-o hep_listen=192.0.2.1:9999 -o hep_auth_key=k
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/other.key"; echo >> "$T/other.key"; chmod 600 "$T/other.key"
bad "a key file of another database" "error: key file '$T/other.key' does not match this database" \
	-o key_file="$T/other.key"
bad "a missing key file" "cannot open key file '$T/none.key'" -o key_file="$T/none.key"
# firmware_dir: sipprov firmware add writes there and sipprovd serves from
# there.  A named folder that is missing (an unmounted share), not a folder
# or not readable by the daemon's user is an error (writing is the CLI's,
# often another user: a root-owned 0755 folder is fine); the default firmware/ beside a SQLite file
# may be missing (the first add makes it), not be something else.
printf 'x\n' > "$T/fwfile"
mkdir -p "$T/fw"
bad "firmware_dir missing" "error: firmware_dir '$T/nofw': No such file or directory" -o firmware_dir="$T/nofw"
bad "firmware_dir a file" "error: firmware_dir '$T/fwfile': not a directory" -o firmware_dir="$T/fwfile"
out=$(check -o firmware_dir="$T/fw"); rc=$?
is "$rc" 0 "firmware_dir an existing folder: OK ($out)"
# render_cache_dir: without it sipprovd starts with the memory cache only,
# so a warning that names it, and the configuration is still OK.
out=$(check -o render_cache_dir="$T/norc"); rc=$?
is "$rc" 0 "render_cache_dir missing: still exit 0"
like "$out" "warning: render_cache_dir '$T/norc': No such file or directory; rendered configs would be kept in memory only" \
	"render_cache_dir missing: a warning naming it"
like "$out" "configuration OK" "render_cache_dir missing: configuration OK"
unlike "$(check -o render_cache_dir="$T/norc" -o render_cache_disk=0)" "render_cache_dir" \
	"render_cache_disk = 0: the folder is not looked at"
like "$(check -o render_cache_dir="$T/fwfile")" "warning: render_cache_dir '$T/fwfile': not a directory" \
	"render_cache_dir a file: a warning naming it"
# Not readable: root reads anywhere, so as root the check runs as nobody
# (through $T, traversable for that moment; other errors of nobody's, the
# database and key it cannot read, are not this check's).
fw_check() {
	if [ "$(id -u)" -eq 0 ]; then
		chmod o+x "$T"
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$SIPPROVD" -n -f /dev/null \
			-o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 -o hep_listen= \
			-o admin_listen= -o firmware_dir="$T/fw" 2>&1
		chmod o-x "$T"
	else
		check -o firmware_dir="$T/fw"
	fi
}
chmod 555 "$T/fw"
unlike "$(fw_check)" "firmware_dir" "firmware_dir readable, not writable (555): no error about it"
chmod 311 "$T/fw"
like "$(fw_check)" "error: firmware_dir '$T/fw': not readable by this user" "firmware_dir not readable: named in the error"
chmod 755 "$T/fw"
if backend_is sqlite; then
	printf 'x\n' > "$T/firmware"
	bad "firmware/ beside the database a file" "error: firmware folder \(firmware_dir unset\) '$T/firmware': not a directory"
	rm -f "$T/firmware"
else
	skip_check "the default firmware/ beside the database: a SQLite file's folder (PostgreSQL has no default)"
fi

# Everything wrong at once: every problem listed, not only the first.
out=$(check -o http_listen=999.1.1.1:80 -o https_listen=127.0.0.1:0 -o tls_cert="$P/missing.pem" \
	-o tls_key="$P/server.key")
like "$out" "configuration has 2 problems" "two problems at once: both listed"
like "$out" "http_listen" "(the address)"
like "$out" "tls_cert" "(the certificate)"
# The good certificate pair passes.
out=$(check -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key"); rc=$?
is "$rc" 0 "the matching certificate and key: OK ($out)"

# An address in use (here by a running sipprovd) is a warning, not an error:
# "sipprovd -n && systemctl reload sipprovd" runs next to the daemon.
start_sipprovd
out=$(check -o http_listen=127.0.0.1:$PORT); rc=$?
is "$rc" 0 "http_listen held by the running sipprovd: exit 0"
like "$out" "warning: http_listen '127.0.0.1:$PORT': address in use" "but a warning says so"
stop_sipprovd
before=$(state)

# A missing database is an error and is not created.
if backend_is sqlite; then
	out=$("$SIPPROVD" -n -f /dev/null -o database="$T/absent.db" -o key_file="$DB.key" -o templates="$ROOT/templates" \
		-o http_listen=127.0.0.1:0 2>&1); rc=$?
	ok $((rc == 0)) "a missing database: exit $rc"
	like "$out" "error: database '$T/absent.db': no such file" "named in the error"
	[ ! -e "$T/absent.db" ] && [ ! -e "$T/absent.db-wal" ]; ok $? "and not created"
else
	skip_check "a missing database file, and no file (nor -wal) created for it"
fi

# A database from a newer sipprov: refused, untouched.
sql "INSERT INTO schema_migration VALUES (999, '999_future', 0)"
before=$(state)
bad "a database newer than the binary" "error: database '$DB_SHOWN' has schema 999, newer than this sipprov" 

# A database behind the binary: reported, left as it is (sipprovd migrates
# it at start, after a backup; -n does neither).
sql "DELETE FROM schema_migration WHERE number IN (999, 9);
	ALTER TABLE registration DROP COLUMN reason; ALTER TABLE registration DROP COLUMN reason_detail"
before=$(state)
out=$(check); rc=$?
is "$rc" 0 "a database one migration behind: exit 0 (a start would migrate it)"
like "$out" "note: database '$DB_SHOWN' lacks 1 migration of this sipprov \(the first 009\); sipprovd will back it up and migrate it" "and says so"
is "$(state)" "$before" "not migrated by -n"
if backend_is sqlite; then
	ls "$DB".pre-* >/dev/null 2>&1; ok $((! $?)) "no backup made by -n"
else
	skip_check "the backup before a migration is a .pre-NNN.bak file beside a SQLite database"
fi
done_testing
