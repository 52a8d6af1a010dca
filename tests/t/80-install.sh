#!/bin/sh
# `make install PREFIX=/usr` into a DESTDIR after a plain `make` (as the
# quickstart leaves the tree), in a build folder of its own so the suite's
# build is not touched: /usr is compiled in, every file is where the FHS and
# systemd want it, systemd-sysusers and systemd-tmpfiles accept the entries
# (run with --root=DESTDIR), the unit passes `systemd-analyze verify` and
# rates 2.0 or lower in `systemd-analyze security`, and the installed
# binaries, run with the installed configuration (its /var and /usr paths
# moved under the test folder, nothing else changed), create a database,
# serve a phone, tell readiness over NOTIFY_SOCKET, and reopen a log that
# the installed logrotate snippet rotated.
. "$(dirname "$0")/../lib.sh"
need make systemd-analyze systemd-sysusers systemd-tmpfiles logrotate setpriv python3 curl
[ "$(id -u)" -eq 0 ] || bail "needs root: systemd-tmpfiles --root and init chown; setpriv plays the service user"

B="$T/build"
D="$T/root"
# A plain make: nothing from an outer make (make asan exports CC and CFLAGS).
unset MAKEFLAGS MFLAGS MAKELEVEL CC CFLAGS LDFLAGS EXTRA_CFLAGS EXTRA_LDFLAGS PREFIX DESTDIR SYSCONFDIR LOCALSTATEDIR
make -s -C "$ROOT" -j2 B="$B" >"$T/make.log" 2>&1; ok $? "plain make (PREFIX=/usr/local) into a fresh build folder"
make -s -C "$ROOT" B="$B" PREFIX=/usr DESTDIR="$D" install >"$T/install.log" 2>&1
rc=$?; [ $rc -eq 0 ] || sed 's/^/# /' "$T/install.log" | tail -20
ok $rc "make install PREFIX=/usr DESTDIR=... after it"

for f in usr/bin/sipprov usr/sbin/sipprovd usr/share/sipprov/templates/yealink.cfg \
	usr/share/man/man1/sipprov.1 usr/share/man/man5/sipprovd.conf.5 usr/share/man/man8/sipprovd.8 \
	usr/lib/systemd/system/sipprovd.service usr/lib/sysusers.d/sipprov.conf usr/lib/tmpfiles.d/sipprov.conf \
	usr/share/bash-completion/completions/sipprov etc/logrotate.d/sipprov etc/sipprov/sipprovd.conf \
	usr/share/sipprov/sipprovd.conf.example; do
	[ -f "$D/$f" ]; ok $? "installed /$f"
done
[ -x "$D/usr/sbin/sipprovd" ] && [ -x "$D/usr/bin/sipprov" ]; ok $? "the programs are executable"
unlike "$(find "$D" -path '*/local/*' | head -3)" . "nothing installed under a /usr/local path"

# What the binaries have compiled in: the /usr of this install, not the
# /usr/local of the build before it (the bug: "layouts folder
# '/usr/local/share/sipprov/templates'").
mkdir -p "$T/empty"
out=$(cd "$T/empty" && "$D/usr/sbin/sipprovd" -n -f /dev/null -o database="$T/never.db" 2>&1)
like "$out" "layouts folder '/usr/share/sipprov/templates'" "sipprovd falls back to the installed layouts in /usr/share"
[ ! -e "$T/never.db" ]; ok $? "the failed check created no database"
out=$(cd "$T/empty" && env -u SIPPROV_TEMPLATES "$D/usr/bin/sipprov" -f /dev/null layout list 2>&1)
like "$out" "'/usr/share/sipprov/templates'" "the CLI falls back to the installed layouts in /usr/share"
like "$("$D/usr/bin/sipprov" help)" "named in /etc/sipprov/sipprovd.conf," "the CLI's default config is /etc/sipprov/sipprovd.conf"

conf="$D/etc/sipprov/sipprovd.conf"
is "$(sed -n 's/^database = //p' "$conf")" /var/lib/sipprov/sipprov.db "installed config: database under /var/lib/sipprov"
is "$(sed -n 's/^templates = //p' "$conf")" /usr/share/sipprov/templates "installed config: layouts in /usr/share/sipprov"
is "$(stat -c %a "$conf")" 640 "installed config is mode 0640 (it may carry api_token)"
is "$(grep -v '^\(database\|templates\) = ' "$conf")" "$(grep -v '^\(database\|templates\) = ' "$ROOT/etc/sipprovd.conf")" \
	"installed config is the documented one but for database and templates"
unit="$D/usr/lib/systemd/system/sipprovd.service"
like "$(grep '^ExecStart=' "$unit")" '^ExecStart=/usr/sbin/sipprovd -d -f /etc/sipprov/sipprovd.conf$' "unit starts the installed sipprovd with the installed config"
unlike "$(cat "$unit" "$D/usr/lib/tmpfiles.d/sipprov.conf" "$D/usr/lib/sysusers.d/sipprov.conf" "$D/etc/logrotate.d/sipprov")" '@[A-Z]+@' \
	"no @VAR@ left in the generated files"

# A second install keeps an edited configuration.
echo "# edited by the admin" >> "$conf"
make -s -C "$ROOT" B="$B" PREFIX=/usr DESTDIR="$D" install >"$T/install2.log" 2>&1
grep -q '^# edited by the admin' "$conf"; ok $? "reinstall keeps the admin's sipprovd.conf"
[ -f "$D/etc/sipprov/sipprovd.conf.dist" ]; ok $? "and puts the new default beside it as sipprovd.conf.dist"

# make test runs its suites side by side, each a make of the same build
# folder, and every make rewrites the paths stamp: two at once must not
# trip over each other's temporary file (26 of 100 pairs failed with
# "mv: cannot stat 'build/paths.stamp.tmp'" when it had a fixed name).
fails=0
for _ in $(seq 1 100); do
	make -s -C "$ROOT" B="$B" "$B/paths.stamp" >>"$T/stamp.log" 2>&1 &
	make -s -C "$ROOT" B="$B" "$B/paths.stamp" >>"$T/stamp.log" 2>&1 || fails=$((fails + 1))
	wait $! || fails=$((fails + 1))
done
is "$fails" 0 "100 pairs of makes rewriting the paths stamp at once: none fails"
is "$(ls "$B" | grep -c '^paths\.stamp.')" 0 "and no temporary stamp is left behind"

# sysusers and tmpfiles entries, applied to the DESTDIR as to a system.
systemd-sysusers --root="$D" >"$T/sysusers.log" 2>&1; ok $? "systemd-sysusers --root accepts sysusers.d/sipprov.conf"
uid=$(awk -F: '$1 == "sipprov" {print $3}' "$D/etc/passwd")
gid=$(awk -F: '$1 == "sipprov" {print $3}' "$D/etc/group")
like "$uid" '^[0-9]+$' "it creates the system user sipprov (uid $uid)"
is "$(awk -F: '$1 == "sipprov" {print $7}' "$D/etc/passwd")" /usr/sbin/nologin "sipprov cannot log in"
systemd-tmpfiles --root="$D" --create >"$T/tmpfiles.log" 2>&1; ok $? "systemd-tmpfiles --root --create accepts tmpfiles.d/sipprov.conf"
is "$(stat -c '%u:%g %a' "$D/var/lib/sipprov")" "$uid:$gid 2770" "state folder /var/lib/sipprov: sipprov's, setgid, group may use it"
is "$(stat -c '%u:%g %a' "$D/var/log/sipprov")" "$uid:$gid 750" "log folder /var/log/sipprov: sipprov's"
is "$(stat -c '%u:%g %a' "$conf")" "0:$gid 640" "config: root's, readable by group sipprov"

# The unit: verify needs ExecStart to exist, so it checks a copy whose
# ExecStart names the DESTDIR binary (the path itself was checked above).
mkdir -p "$T/unit"
sed "s|^ExecStart=/usr/sbin/|ExecStart=$D/usr/sbin/|" "$unit" > "$T/unit/sipprovd.service"
out=$(MANPATH="$D/usr/share/man" systemd-analyze verify "$T/unit/sipprovd.service" 2>&1)
rc=$?; ok $rc "systemd-analyze verify: clean, man pages of Documentation= found"
is "$out" "" "systemd-analyze verify prints nothing"
systemd-analyze security --offline=true "$unit" > "$T/security.txt" 2>&1
score=$(sed -n 's/.*Overall exposure level for sipprovd.service: \([0-9.]*\) .*/\1/p' "$T/security.txt")
diag "systemd-analyze security: $(grep 'Overall' "$T/security.txt")"
like "$score" '^[0-9]+\.[0-9]$' "systemd-analyze security gives a figure"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; ok $? "exposure $score is 2.0 or lower (OK)"
for k in 'User=sipprov' 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'UMask=0077' 'ProtectSystem=strict' \
	'ReadWritePaths=/var/lib/sipprov /var/log/sipprov' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
	'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service'; do
	grep -qxF "$k" "$unit"; ok $? "unit: $k"
done

# The installed binaries with the installed configuration, its /var and
# /usr paths moved under $T.  There is no user sipprov on this host:
# nobody:nogroup plays the service user and uid 65533 in group nogroup an
# admin of the sipprov group; root runs init as the README says.
SU=nobody SG=nogroup
suid=$(id -u $SU); sgid=$(getent group $SG | cut -d: -f3)
chmod 711 "$T"
V="$T/var"
install -d -m 755 "$V" "$V/lib" "$V/log" "$T/cwd"
install -d -m 2770 -o $SU -g $SG "$V/lib/sipprov"
install -d -m 750 -o $SU -g $SG "$V/log/sipprov"
sed -e "s|/var/lib/sipprov|$V/lib/sipprov|" -e "s|/usr/share/sipprov|$D/usr/share/sipprov|" "$conf" > "$T/sipprovd.conf"
chgrp $SG "$T/sipprovd.conf"; chmod 640 "$T/sipprovd.conf"
# The installed CLI with only the config to go by: as root, as the service
# user, as an admin in its group.  (Not the harness's SIPPROV_KEY_FILE either,
# which names the key of its PostgreSQL store under SP_BACKEND=pg.)
cli() {
	(cd "$T/cwd" && env -u SIPPROV_DB -u SIPPROV_TEMPLATES -u SIPPROV_KEY -u SIPPROV_KEY_FILE \
		SIPPROV_CONF="$T/sipprovd.conf" "$@")
}
S() { cli "$D/usr/bin/sipprov" "$@"; }
SVC() { cli setpriv --reuid="$suid" --regid="$sgid" --clear-groups "$D/usr/bin/sipprov" "$@"; }
ADMIN() { cli setpriv --reuid=65533 --regid=65533 --groups="$sgid" "$D/usr/bin/sipprov" "$@"; }

out=$(S init); ok $? "sipprov init by root with the config's database (no -d, no SIPPROV_DB)"
like "$out" "gave .*sipprov.db.key to uid $suid" "init says it gave the key to the state folder's owner"
is "$(stat -c '%u:%g %a' "$V/lib/sipprov/sipprov.db")" "$suid:$sgid 660" "database: the service user's, group read-write"
is "$(stat -c '%u:%g %a' "$V/lib/sipprov/sipprov.db.key")" "$suid:$sgid 600" "key: the service user's, mode 0600"
[ ! -e "$T/cwd/sipprovd.conf" ]; ok $? "init writes no sipprovd.conf into the current folder when a config names the database"
S demo > "$T/demo.out"; ok $? "sipprov demo through the config"
like "$(S layout list)" 'yealink' "the CLI reads the installed layouts named in the config"
token=$(sed -n 's|.*/s/\([0-9a-f]*\)$|\1|p' "$T/demo.out")
like "$token" '^[0-9a-f]{32}$' "demo printed a token URL"
out=$(ADMIN device list 2>&1); rc=$?
is "$rc" 0 "an admin in the group lists devices with no -d: the config names the database"
like "$out" '020000001004 +demo' "and sees the demo devices"
out=$(ADMIN render 02:00:00:00:10:04 2>&1); rc=$?
is "$rc" 1 "the admin cannot render (needs the service user's key)"
like "$out" "key file '.*sipprov.db.key' is not readable by you: run this command as its owner" \
	"and is told to run it as the key's owner"
SVC render 02:00:00:00:10:04 > "$T/rendered"; ok $? "the service user renders"

sock="$T/notify.sock"
cat > "$T/listen.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(30)
with open(sys.argv[2], "w") as f:
    while True:
        try:
            d = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write(d + "\n"); f.flush()
        if d == "STOPPING=1":
            break
PY
python3 "$T/listen.py" "$sock" "$T/notify.out" &
track_pid $!
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.05; done
# As the unit runs it: the service user, umask 0077, -d -f CONFIG. Every
# listener on a free port: make test runs this script in two suites side
# by side, and the installed config's fixed ports (8080, 8081, 9060) made
# the second daemon fail to bind (CI of b0fb47f, ASan suite).
(cd "$T/cwd" && umask 077 && NOTIFY_SOCKET="$sock" exec setpriv --reuid="$suid" --regid="$sgid" --clear-groups \
	"$D/usr/sbin/sipprovd" -d -f "$T/sipprovd.conf" \
	-o http_listen=127.0.0.1:0 -o admin_listen=127.0.0.1:0 -o hep_listen= \
	-o access_log="$V/log/sipprov/access.log") >"$T/d.log" 2>&1 &
dpid=$!
track_pid $dpid
for _ in $(seq 1 200); do grep -q READY=1 "$T/notify.out" 2>/dev/null && break; sleep 0.05; done
grep -qx READY=1 "$T/notify.out"; rc=$?
[ $rc -eq 0 ] || sed 's/^/# sipprovd: /' "$T/d.log"
ok $rc "installed sipprovd, as the service user, sends READY=1 to NOTIFY_SOCKET"
port=$(sed -n 's/^http listening on .* port \([0-9][0-9]*\)$/\1/p' "$T/d.log" | head -1)
curl -fsS "http://127.0.0.1:$port/s/$token" > "$T/fetched"; ok $? "it serves the demo softphone from the installed layouts"
cmp -s "$T/fetched" "$T/rendered"; ok $? "the fetched config is byte-identical to 'sipprov render' through the config"
is "$(stat -c '%g %a' "$V/lib/sipprov/sipprov.db-wal" 2>&1)" "$sgid 660" "under umask 0077 the daemon's -wal stays group read-write"
ADMIN tenant add admins --device-auth digest >/dev/null; ok $? "the admin writes while the daemon runs"
curl -fsS -o /dev/null "http://127.0.0.1:$port/s/$token"; ok $? "and the daemon serves on"

# logrotate: the installed snippet with its folder moved under $T, the
# stand-in user in 'su' and 'create', and this daemon's pid to signal.
sed -e "s|/var/log/sipprov|$V/log/sipprov|" -e "s|sipprov sipprov$|$SU $SG|" \
	-e "s|systemctl reload sipprovd.service|kill -HUP $dpid|" "$D/etc/logrotate.d/sipprov" > "$T/logrotate.conf"
grep -q "kill -HUP $dpid" "$T/logrotate.conf" && grep -q "su $SU $SG" "$T/logrotate.conf"
ok $? "logrotate snippet: su to the service user, postrotate signals sipprovd"
curl -s -o /dev/null "http://127.0.0.1:$port/healthz"
logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" > "$T/logrotate.log" 2>&1
rc=$?; [ $rc -eq 0 ] || sed 's/^/# /' "$T/logrotate.log"; ok $rc "logrotate runs the snippet"
[ -s "$V/log/sipprov/access.log.1" ]; ok $? "access.log rotated to access.log.1"
for _ in $(seq 1 100); do grep -q "reloaded configuration" "$T/d.log" && break; sleep 0.05; done
curl -s -o /dev/null "http://127.0.0.1:$port/s/$token"
for _ in $(seq 1 40); do [ -s "$V/log/sipprov/access.log" ] && break; sleep 0.05; done
like "$(cat "$V/log/sipprov/access.log" 2>/dev/null)" "/s/" "after postrotate's SIGHUP the daemon logs to the new access.log"

kill -TERM $dpid
for _ in $(seq 1 100); do kill -0 $dpid 2>/dev/null || break; sleep 0.05; done
wait $dpid; ok $? "SIGTERM: exit 0"
grep -qx STOPPING=1 "$T/notify.out"; ok $? "it sends STOPPING=1 when it drains"
done_testing
