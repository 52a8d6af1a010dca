#!/bin/sh
# Issue 16: line keys.  Template defaults (key.N.* settings) and device
# overrides (`sipprov key set|rm|list`) merge per key; bad input is refused
# by name writing nothing; a BLF target that is no user of the tenant is
# warned about; a CSV import takes the keys as columns.  sipprovd serves a
# Yealink its keys (read back: linekey.N type codes from the vendor table),
# and a layout without line keys warns at render instead.
. "$(dirname "$0")/../lib.sh"
need curl jq sqlite3

sp init >/dev/null || bail "init"
sp tenant add acme --device-auth digest >/dev/null || bail "tenant"
sp template set acme main registrar=example.test key.1.type=line key.1.label=Main \
	key.2.type=blf key.2.value=1002 key.2.label=Bob >/dev/null || bail "template with keys"
sp tenant set acme --default-template main >/dev/null || bail "default template"
YL=001565000031 CS=001565000032
sp device add $YL --tenant acme --layout yealink --model T46G >/dev/null || bail "device"
sp device add $CS --tenant acme --layout cisco --model SPA504G >/dev/null || bail "device"
sp account add $YL --username 1001 --auth-username 1001 --password pw1 >/dev/null || bail "account"
sp account add $CS --username 1002 --auth-username 1002 --password pw2 >/dev/null || bail "account"
ov() { sql "SELECT overrides FROM device WHERE mac='$1'"; }

# ---- refusals ----
before=$(ov $YL)
err=$(sp key set $YL 3 --type bfl --value 1003 2>&1); rc=$?
is "$rc" 1 "an unknown type is a user error"
like "$err" "setting 'key.3.type': unknown key type 'bfl' \\(known: line, blf, speed_dial" "and names the setting and the types"
like "$(sp key set $YL 3 --type blf 2>&1)" "setting 'key.3.type': a blf key needs a value" "a BLF without a target is refused"
like "$(sp key set $YL 3 --type speed_dial --value 5 --line 17 2>&1)" "setting 'key.3.line': account line '17' is not 1-16" \
	"an account line out of range is refused"
like "$(sp key set $YL 49 --type line 2>&1)" "key index '49' is not 1-48" "an index over 48 is refused"
sp key set $YL 3 --value 5 >/dev/null 2>&1; is "$?" 2 "set without --type is a usage error"
is "$(ov $YL)" "$before" "no refused set wrote the overrides"
err=$(sp template set acme main key.4.value=9 2>&1); rc=$?
is "$rc" 1 "template: a key field without a type is refused"
like "$err" "setting 'key.4.value': key 4 has no type" "and named"

# ---- set, list, BLF warning ----
out=$(sp key set $YL 3 --type speed_dial --value +4930123 --label 'Pizza & Co' --line 1 2>&1); rc=$?
is "$rc" 0 "set a speed dial"
like "$out" "device $YL key 3: speed_dial \\+4930123" "set says what it set"
err=$(sp key set $YL 4 --type blf --value 1099 --label Ghost 2>&1 >/dev/null); rc=$?
is "$rc" 0 "a BLF to a stranger is stored"
like "$err" "warning: device $YL key 4: BLF target '1099' is not a user of tenant acme" "and warned about"
err=$(sp key set $YL 5 --type blf --value 1002 2>&1 >/dev/null)
unlike "$err" "warning" "a BLF to a user of the tenant (1002) is not warned about"
sp key set $YL 6 --type park --value 700 >/dev/null
sp key set $YL 7 --type intercom --value 1002 >/dev/null
sp key set $YL 8 --type dtmf --value '*3' >/dev/null
sp key set $YL 9 --type url --value 'http://x.example.test/a?b=1' --label Web >/dev/null
js=$(sp --json key list $YL 2>/dev/null)
is "$(echo "$js" | jq -r '[.[] | "\(.index):\(.type):\(.from)"] | join(" ")')" \
	"1:line:template 2:blf:template 3:speed_dial:device 4:blf:device 5:blf:device 6:park:device 7:intercom:device 8:dtmf:device 9:url:device" \
	"list --json: template and device keys in order, each with its source"
is "$(echo "$js" | jq -r '.[2].label + "|" + .[2].line')" "Pizza & Co|1" "a key keeps its label and line"
sp key set $YL 2 --type none >/dev/null
unlike "$(sp key list $YL 2>&1)" "Bob" "type none hides the template's key 2"
out=$(sp key rm $YL 2); rc=$?
is "$rc" 0 "rm the device's key 2"
like "$out" "the template's key 2 \\(blf\\) applies again" "rm says the template's key is back"
like "$(sp key rm $YL 2 2>&1)" "device $YL has no key 2 of its own" "rm of a key the device does not hold is refused"

# ---- rendered ----
PW=$(sp device credentials $YL | sed -n 's/^  password: *//p')
start_sipprovd -o fail_threshold=1000
curl -s -o "$T/y.cfg" --digest -u "$YL:$PW" "$URL/$YL.cfg"
kv() { sed -n "s/^$1 = //p" "$T/y.cfg"; }
is "$(kv linekey.2.type)|$(kv linekey.2.value)|$(kv linekey.2.label)" "16|1002|Bob" "yealink: the template's BLF (16)"
is "$(kv linekey.3.type)|$(kv linekey.3.value)|$(kv linekey.3.label)|$(kv linekey.3.line)" "13|+4930123|Pizza & Co|1" \
	"yealink: the device's speed dial (13)"
is "$(kv linekey.1.type) $(kv linekey.6.type) $(kv linekey.7.type) $(kv linekey.8.type) $(kv linekey.9.type)" \
	"15 10 14 11 17" "yealink: line 15, park 10, intercom 14, dtmf 11, url 17"
is "$(kv linekey.9.value)" "http://x.example.test/a?b=1" "yealink: a URL key's value as given"
# Cisco writes line, BLF and speed dial keys (templates/cisco.md) and warns
# about the types it has no reference for, writing nothing of them.
sp key set $CS 3 --type park --value 700 --label Orbit >/dev/null
sp render $CS >"$T/cs.xml" 2>"$T/cs.err"
like "$(cat "$T/cs.err")" "layout 'cisco' cannot express key\\.3\\.type=park" "cisco: render warns it cannot write a park key"
like "$(cat "$T/cs.xml")" "<Extended_Function_2_ ua=\"na\">fnc=sd\\+blf\\+cp;sub=1002@\\\$PROXY;nme=Bob<" "cisco: the template's BLF written"
unlike "$(cat "$T/cs.xml")" "Orbit|700" "cisco: no park key written"

# ---- CSV import: keys as columns ----
printf 'mac,layout,model,line,username,auth_username,password,key.1.type,key.1.value,key.1.label\n001565000033,yealink,T46G,1,1003,1003,pw3,blf,1001,Alice\n' >"$T/k.csv"
sp import "$T/k.csv" --tenant acme >/dev/null 2>"$T/imp.err"; ok $? "an import with key columns$(head -c 200 "$T/imp.err")"
is "$(sp --json key list 001565000033 | jq -r '.[0] | .type + "|" + .value + "|" + .label + "|" + .from')" "blf|1001|Alice|device" \
	"the imported device has the key as its own"
exp=$(sp export --tenant acme 2>/dev/null)
like "$(echo "$exp" | head -1)" "key\.1\.label,key\.1\.type,key\.1\.value,key\.3\.label,key\.3\.line" "export: the device keys are columns"
like "$(echo "$exp" | grep '^001565000033,')" ",Alice,blf,1001," "export: the imported key round-trips"
printf 'mac,layout,line,username,auth_username,password,key.1.type\n001565000034,yealink,1,1004,1004,pw4,bogus\n' >"$T/bad.csv"
err=$(sp import "$T/bad.csv" --tenant acme 2>&1); rc=$?
is "$rc" 1 "an import with a bad key type is refused"
like "$err" "key.1.type" "naming the setting"
is "$(sql "SELECT count(*) FROM device WHERE mac='001565000034'")" 0 "and writes nothing"
done_testing
