#!/bin/sh
# Issue 16: the phones' web admin and user passwords.  `sipprov
# web-password` takes them from files per tenant or per device (the
# device's wins), refuses bad input by name writing nothing, and shows the
# text only with --show-secrets; the database file holds no plaintext; each
# vendor with keys gets them in its config (read back: Yealink user:password
# lines, Cisco/Grandstream/Snom elements, Polycom attributes), the ones
# without warn without the text; sipprovd's next fetch carries a change,
# and neither its log nor the access log holds a password.
. "$(dirname "$0")/../lib.sh"
need curl jq python3 sqlite3 xmllint strings

ADMIN='Adm1n<&"'"'"'>pw'
USER='usr-pw-7781'
DEVPW='front-desk-only-55'
printf '%s\n' "$ADMIN" >"$T/admin.pw"
printf '%s\r\n' "$USER" >"$T/user.pw"
printf '%s\n' "$DEVPW" >"$T/dev.pw"
sp init >/dev/null || bail "init"
sp tenant add acme --device-auth digest >/dev/null || bail "tenant"
sp tenant add other --device-auth none >/dev/null || bail "tenant other"
sp template set acme main registrar=example.test >/dev/null || bail "template"
sp tenant set acme --default-template main >/dev/null || bail "default template"
i=0
for l in yealink cisco grandstream snom polycom fanvil linphone; do
	i=$((i + 1))
	sp device add "00156500002$i" --tenant acme --layout $l --model M$i >/dev/null || bail "device $l"
	sp account add "00156500002$i" --username "u$i" --auth-username "u$i" --password "sip$i" >/dev/null || bail "account"
	eval "MAC_$l=00156500002$i"
	eval "PW_$l=\$(sp device credentials 00156500002$i | sed -n 's/^  password: *//p')"
done
get() { # layout path out: the phone's fetch with its digest credentials
	eval "_m=\$MAC_$1 _p=\$PW_$1"
	curl -s -o "$3" --digest -u "$_m:$_p" "$URL/$2"
}
rows() { sql "SELECT count(*) FROM web_password"; }

# ---- refusals: named, nothing written ----
err=$(sp web-password set --tenant acme --admin-file "$T/nope.pw" 2>&1); rc=$?
is "$rc" 1 "a missing file is a user error"
like "$err" "--admin-file '$T/nope.pw': No such file" "and names the option and file"
: >"$T/empty.pw"
like "$(sp web-password set --tenant acme --user-file "$T/empty.pw" 2>&1)" "--user-file .*the first line is empty" \
	"an empty password is refused by option"
head -c 200 /dev/zero | tr '\0' a >"$T/long.pw"
like "$(sp web-password set --tenant acme --admin-file "$T/long.pw" 2>&1)" "--admin-file .*longer than 128 bytes" \
	"a password over 128 bytes is refused"
printf 'a\033[31mb\n' >"$T/ctl.pw"
like "$(sp web-password set --tenant acme --admin-file "$T/ctl.pw" --user-file "$T/user.pw" 2>&1)" \
	"--admin-file .*without control characters" "a control character is refused"
sp web-password set --tenant acme --device "$MAC_yealink" --admin-file "$T/admin.pw" >/dev/null 2>&1
is "$?" 2 "--tenant with --device is a usage error"
sp web-password set --tenant acme >/dev/null 2>&1
is "$?" 2 "set without a file is a usage error"
like "$(sp web-password set --tenant nope --admin-file "$T/admin.pw" 2>&1)" "nope" "an unknown tenant is named"
is "$(rows)" 0 "no refused command wrote a row"

# ---- set, show ----
out=$(sp web-password set --tenant acme --admin-file "$T/admin.pw" --user-file "$T/user.pw"); rc=$?
is "$rc" 0 "set for the tenant exits 0"
like "$out" "tenant acme: web passwords set: admin user" "and says which"
out=$(sp web-password show --tenant acme)
like "$out" "admin +set \\(tenant\\)" "show: admin set, from the tenant"
unlike "$out" "Adm1n|$USER" "show without --show-secrets prints no password"
is "$(sp --json web-password show --device "$MAC_cisco" | jq -r '.admin.from + "|" + (.user.set|tostring) + "|" + (.admin.password // "none")')" \
	"tenant|true|none" "show --json of a device: inherited from the tenant, no text"
is "$(sp --json --show-secrets web-password show --tenant acme | jq -r '.admin.password + "|" + .user.password')" \
	"$ADMIN|$USER" "--show-secrets: the texts as given (line end dropped, CRLF too)"
sp web-password set --device "$MAC_yealink" --admin-file "$T/dev.pw" >/dev/null
ok $? "a device override"
like "$(sp web-password show --device "$MAC_yealink" --show-secrets)" "admin +set \\(device\\): $DEVPW" \
	"the device's own admin password wins"
like "$(sp web-password show --tenant other)" "admin +not set" "another tenant has none"

# ---- at rest: no plaintext in the database files (a dump on PostgreSQL) ----
if backend_is sqlite; then
	for f in "$DB" "$DB-wal"; do
		[ -f "$f" ] || continue
		n=$(strings -n 6 "$f" | grep -c -e "Adm1n" -e "$USER" -e "$DEVPW")
		is "$n" 0 "$(basename "$f"): no web password in plaintext"
	done
else
	is "$(sql_dump | grep -c -e "Adm1n" -e "$USER" -e "$DEVPW")" 0 "pg_dump of the database: no web password in plaintext"
fi
enc=$(sql "SELECT password_enc FROM web_password WHERE role='user'")
unlike "$enc" "$USER" "the stored column is ciphertext"

# ---- rendered per vendor ----
READ_XML='import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot(); out = {}
for e in r.iter():
    out[e.tag] = e.text or ""
    out.update(e.attrib)
print(out.get(sys.argv[2], "-") + "|" + out.get(sys.argv[3], "-"))'
rd() { sp render "$1" 2>"$T/render.err"; }
rd "$MAC_yealink" >"$T/y.cfg"
grep -qxF "static.security.user_password = admin:$DEVPW" "$T/y.cfg"; ok $? "yealink: admin:PASSWORD line with the device's"
grep -qxF "static.security.user_password = user:$USER" "$T/y.cfg"; ok $? "yealink: user:PASSWORD line with the tenant's"
for spec in cisco:Admin_Passwd:User_Password grandstream:P2:P196 snom:http_pass:webserver_user_password \
	polycom:device.auth.localAdminPassword:device.auth.localUserPassword; do
	l=${spec%%:*}; keys=${spec#*:}
	eval "mac=\$MAC_$l"
	rd "$mac" >"$T/$l.xml"
	xmllint --noout "$T/$l.xml"; ok $? "$l: well-formed"
	is "$(python3 -c "$READ_XML" "$T/$l.xml" "${keys%%:*}" "${keys#*:}")" "$ADMIN|$USER" \
		"$l: ${keys%%:*} and ${keys#*:} read back as given"
done
for l in fanvil linphone; do
	eval "mac=\$MAC_$l"
	rd "$mac" >"$T/$l.out"
	unlike "$(cat "$T/$l.out")" "Adm1n|$USER" "$l: no password written (no reference key)"
	like "$(cat "$T/render.err")" "cannot express admin_password=\\(set\\)" "$l: render warns about the admin password"
	unlike "$(cat "$T/render.err")" "Adm1n|$USER" "$l: the warning holds no password"
done

# ---- sipprovd: a change reaches the next fetch; nothing in the logs ----
start_sipprovd
get cisco "spa$MAC_cisco.xml" "$T/c1.xml"
like "$(cat "$T/c1.xml")" "Admin_Passwd" "cisco: sipprovd serves the admin password"
printf 'changed-admin-99\n' >"$T/admin2.pw"
sp web-password set --tenant acme --admin-file "$T/admin2.pw" >/dev/null
get cisco "spa$MAC_cisco.xml" "$T/c2.xml"
like "$(cat "$T/c2.xml")" "<Admin_Passwd ua=\"na\">changed-admin-99</Admin_Passwd>" "the next fetch carries the new password"
sp web-password rm --device "$MAC_yealink" >/dev/null; ok $? "the device override removed"
get yealink "$MAC_yealink.cfg" "$T/y2.cfg"
grep -qxF "static.security.user_password = admin:changed-admin-99" "$T/y2.cfg"
ok $? "yealink falls back to the tenant's admin password"
like "$(sp web-password rm --device "$MAC_yealink" 2>&1)" "device $MAC_yealink has no web password of its own" \
	"rm of nothing is a user error"
stop_sipprovd
for f in "$SIPPROVD_LOG" "$T/access.log"; do
	n=$(grep -c -e "Adm1n" -e "$USER" -e "changed-admin" -e "$DEVPW" "$f")
	is "$n" 0 "$(basename "$f"): no web password"
done

# ---- rows go with their device and tenant ----
sp device rm "$MAC_cisco" >/dev/null 2>&1 || sp device rm "$MAC_cisco" --force >/dev/null 2>&1
sp web-password set --device "$MAC_snom" --user-file "$T/dev.pw" >/dev/null
before=$(rows)
sql_fk "DELETE FROM device WHERE mac='$MAC_snom'"
is "$(rows)" $((before - 1)) "a device's row goes with the device"
sql_fk "DELETE FROM device; DELETE FROM tenant WHERE slug='acme'"
is "$(rows)" 0 "the tenant's rows go with the tenant"
done_testing
