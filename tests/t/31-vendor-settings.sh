#!/bin/bash
# 31-vendor-settings.sh: timezone, srtp and backup_server, per vendor.
# Each value is set on the template with the real CLI, every layout is
# rendered and read back by tests/support/vendor_read.py (written from
# templates/<vendor>.md); a vendor that supports the setting must carry
# the value (time zones as tzdata states them, not as sipprov prints
# them), one that does not must carry nothing and be warned about by both
# `template set` and `render`, naming the layout and the setting.
. "$(dirname "$0")/../lib.sh"
need python3 jq

READ="$ROOT/tests/support/vendor_read.py"
LAYOUTS="yealink polycom grandstream cisco snom fanvil linphone json"

sp init >/dev/null || bail "init"
sp tenant add acme --device-auth none >/dev/null || bail "tenant"
sp template set acme main registrar=example.test server=sip.example.test port=5060 transport=udp >/dev/null ||
	bail "template"
i=10
for l in $LAYOUTS; do
	mac="0015650000$i"; i=$((i + 1))
	eval "MAC_$l=$mac"
	sp device add "$mac" --tenant acme --layout "$l" --template main --model t46g >/dev/null || bail "device $l"
	sp account add "$mac" --line 1 --username "alice$i" --auth-username "alice$i" --password "pw$i" >/dev/null || bail "account $l"
done

# set KEY=VALUE...: template set, its warnings kept in $T/set.err
set_tpl() { sp template set acme main "$@" >/dev/null 2>"$T/set.err" || { sed 's/^/# /' "$T/set.err"; bail "set $*"; }; }
# set KEY=VALUE... then render every layout (warnings in $T/LAYOUT.err) and
# read them all back into $T/LAYOUT.json with one python start-up
set_all() {
	set_tpl "$@"
	local l mac
	for l in $LAYOUTS; do
		eval "mac=\$MAC_$l"
		sp render "$mac" >"$T/$l.out" 2>"$T/$l.err" || { sed 's/^/# /' "$T/$l.err"; bail "render $l"; }
	done
	python3 "$READ" --dir "$T" $LAYOUTS || bail "read back $*"
}
field() { jq -r --arg k "$2" '.[$k] // "(none)"' "$T/$1.json"; }
# check LAYOUT KEY WANT WHAT: read back KEY of LAYOUT is WANT
check() { is "$(field "$1" "$2")" "$3" "$1: $4: $2 read back"; }
# warned LAYOUT SETTING WHAT: both template set and render name it
warned() {
	grep -qF "warning: template acme/main: layout '$1' cannot express $2" "$T/set.err"
	ok $? "$1: $3: template set warns '$2'"
	local mac; eval "mac=\$MAC_$1"
	grep -qF "warning: $mac: layout '$1' cannot express $2" "$T/$1.err"
	ok $? "$1: $3: render warns '$2'"
}
not_warned() {
	! grep -q "layout '$1'" "$T/set.err" "$T/$1.err"
	ok $? "$1: $2: no warning"
}

# ---- timezone: tzdata facts as "offset|start|end|save" (week 5 = last, day 0 = Sunday) ----
declare -A TZ=(
	[Europe/Berlin]="3600|3.5.0/2|10.5.0/3|60"
	[America/New_York]="-18000|3.2.0/2|11.1.0/2|60"
	[Australia/Sydney]="36000|10.1.0/2|4.1.0/3|60"
	[Asia/Kolkata]="19800"
)
for z in Europe/Berlin America/New_York Australia/Sydney Asia/Kolkata; do
	set_all timezone="$z"
	for l in yealink polycom cisco grandstream snom; do
		check $l tz "${TZ[$z]}" "timezone=$z"
		not_warned $l "timezone=$z"
	done
	check json tz "$z" "timezone=$z"
	for l in fanvil linphone; do
		check $l tz "(none)" "timezone=$z"
		warned $l "timezone=$z" "timezone=$z"
	done
done
# a zone the database does not know: nothing rendered, warned for the layouts that map zones
set_all timezone=Mars/Olympus_Mons
for l in yealink polycom cisco grandstream snom; do
	check $l tz "(none)" "unknown zone"
	grep -qF "layout '$l' renders no time zone: timezone 'Mars/Olympus_Mons' is not in the time zone database" \
		"$T/set.err" "$T/$l.err"
	ok $? "$l: unknown zone: warned"
done
set_tpl timezone=

# ---- srtp ----
for v in off optional required; do
	set_all srtp=$v
	for l in yealink polycom grandstream snom json; do
		check $l srtp $v "srtp=$v"
		not_warned $l "srtp=$v"
	done
	if [ $v = optional ]; then
		check cisco srtp off "srtp=optional"
		warned cisco "srtp=optional" "srtp=optional"
	else
		check cisco srtp $v "srtp=$v"
		not_warned cisco "srtp=$v"
	fi
	for l in fanvil linphone; do
		check $l srtp "(none)" "srtp=$v"
		warned $l "srtp=$v" "srtp=$v"
	done
done
set_tpl srtp=

# ---- backup_server ----
for b in sip2.example.test:5080 sip3.example.test; do
	set_all backup_server=$b
	want=$b; [ "${b#*:}" = "$b" ] && want=$b:5060
	for l in yealink polycom grandstream cisco snom fanvil json; do
		check $l backup "$want" "backup_server=$b"
		not_warned $l "backup_server=$b"
	done
	check linphone backup "(none)" "backup_server=$b"
	warned linphone "backup_server=$b" "backup_server=$b"
done
set_all backup_server=
for l in yealink polycom grandstream cisco snom fanvil; do
	check $l backup "(none)" "no backup_server"
done

# ---- server and outbound proxy: the one-slot vendors warn, the others keep both ----
set_all outbound_proxy=proxy.example.test:5090
for l in yealink grandstream cisco snom fanvil; do
	warned $l "server=sip.example.test with outbound_proxy set" "server + outbound_proxy"
done
for l in polycom linphone json; do
	not_warned $l "server + outbound_proxy"
done

done_testing
