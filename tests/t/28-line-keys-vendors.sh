#!/bin/sh
# Issue 16: line keys for every vendor.  One device per layout gets a key of
# every type through `sipprov key set`; sipprovd serves its config, which is
# read back with the vendor's own table (xmllint for XML, a key = value
# parser for Yealink) key by key; each type a layout cannot write is warned
# about naming layout and type, and written nowhere.  A second device per
# layout imported from CSV with the same key columns renders the same bytes.
# Expansion-module keys (ext.M.N.*, `key set --module M`): Yealink and Cisco
# write them, the others warn.
. "$(dirname "$0")/../lib.sh"
need curl xmllint sqlite3

sp init >/dev/null || bail "init"
sp tenant add acme --device-auth digest >/dev/null || bail "tenant"
sp template set acme main registrar=example.test >/dev/null || bail "template"
sp tenant set acme --default-template main >/dev/null || bail "default template"

LAYOUTS="yealink cisco snom polycom grandstream fanvil"
BOB='Bob <&> "Q"'
URLV='http://x.example.test/a?b=1&c=2'
n=50
csv="mac,layout,model,line,username,auth_username,password"
for k in 1 2 3 4 5 6 7; do csv="$csv,key.$k.type,key.$k.value,key.$k.label,key.$k.line"; done
for k in 1.1 1.2 2.40; do csv="$csv,ext.$k.type,ext.$k.value,ext.$k.label,ext.$k.line"; done
echo "$csv" >"$T/keys.csv"
for l in $LAYOUTS; do
	n=$((n + 1)); m=0015650000$n; i=0015650001$n
	eval "MAC_$l=$m IMP_$l=$i"
	sp device add $m --tenant acme --layout $l --model X1 >/dev/null || bail "device $l"
	sp account add $m --username 1001 --auth-username 1001 --password pw1 >/dev/null || bail "account $l"
	sp key set $m 1 --type line --label Main --line 1 >/dev/null &&
	sp key set $m 2 --type blf --value 1002 --label "$BOB" --line 2 >/dev/null 2>&1 &&
	sp key set $m 3 --type speed_dial --value +4930123 --label Pizza >/dev/null &&
	sp key set $m 4 --type park --value 700 --label Orbit >/dev/null &&
	sp key set $m 5 --type intercom --value 1003 --label Door >/dev/null 2>&1 &&
	sp key set $m 6 --type dtmf --value '*3' --label Rec >/dev/null &&
	sp key set $m 7 --type url --value "$URLV" --label Web >/dev/null || bail "keys $l"
	sp key set $m 1 --module 1 --type blf --value 1004 --label Eve >/dev/null 2>&1 &&
	sp key set $m 2 --module 1 --type park --value 701 >/dev/null &&
	sp key set $m 40 --module 2 --type speed_dial --value 5551 --line 2 >/dev/null || bail "module keys $l"
	printf '%s,%s,X1,1,1001,1001,pw1,line,,Main,1,blf,1002,"Bob <&> ""Q""",2,speed_dial,+4930123,Pizza,,park,700,Orbit,,intercom,1003,Door,,dtmf,*3,Rec,,url,%s,Web,,blf,1004,Eve,,park,701,,,speed_dial,5551,,2\n' \
		$i $l "$URLV" >>"$T/keys.csv"
done
sp import "$T/keys.csv" --tenant acme >/dev/null 2>"$T/imp.err"; ok $? "CSV import of six devices with seven key columns each"

# ---- the CLI device and the imported one render the same ----
for l in $LAYOUTS; do
	eval "m=\$MAC_$l i=\$IMP_$l"
	sp render $m >"$T/$l.cli" 2>"$T/$l.err"; ok $? "$l: render the CLI device"
	sp render $i 2>/dev/null | sed "s/$i/$m/g; s/$(echo $i | tr a-f A-F)/$(echo $m | tr a-f A-F)/g" >"$T/$l.imp"
	is "$(cmp "$T/$l.cli" "$T/$l.imp" 2>&1)" "" "$l: CSV import with key columns renders the same bytes as key set"
done

# ---- unsupported types: warned, naming layout and type; nothing else warned ----
warns() { # layout "types it cannot write"
	for t in line:1 blf:2 speed_dial:3 park:4 intercom:5 dtmf:6 url:7; do
		ty=${t%:*} k=${t#*:}
		if echo " $2 " | grep -q " $ty "; then
			like "$(cat "$T/$1.err")" "layout '$1' cannot express key\\.$k\\.type=$ty: " "$1: a $ty key is warned about"
		else
			unlike "$(cat "$T/$1.err")" "key\\.$k\\.type" "$1: a $ty key is not warned about"
		fi
	done
}
warns yealink ""
warns cisco "park intercom dtmf url"
warns snom ""
warns polycom "line speed_dial intercom dtmf url"
warns grandstream "line url"
warns fanvil "line blf speed_dial park intercom dtmf url"
for l in snom polycom grandstream fanvil; do
	like "$(cat "$T/$l.err")" "layout '$l' cannot express ext\.[0-9.]+\.type=" "$l: expansion-module keys warned about"
	unlike "$(cat "$T/$l.cli")" "1004|5551" "$l: no expansion-module key written"
done
unlike "$(cat "$T/yealink.err")" "ext\." "yealink: no expansion-module key warned about"
like "$(cat "$T/cisco.err")" "layout 'cisco' cannot express ext\.1\.2\.type=park: " "cisco: a park key on a module warned about"
like "$(sp key list $MAC_yealink 2>/dev/null)" "
1 +1 +blf +1004 +Eve +1 +device" "key list shows module 1's key 1"
err=$(sp key set $MAC_yealink 41 --module 1 --type blf --value 1 2>&1); rc=$?
is "$rc:$err" "1:error: key index '41' is not 1-40" "a module key index over 40 is refused"
like "$(sp key set $MAC_yealink 1 --module 7 --type blf --value 1 2>&1)" "--module '7' is not 1-6" "a module over 6 is refused"

# ---- served by sipprovd, read back with each vendor's table ----
start_sipprovd -o fail_threshold=1000
fetch() { # layout path
	eval "m=\$MAC_$1"
	pw=$(sp device credentials $m | sed -n 's/^  password: *//p')
	curl -s -o "$T/$1.got" -w '%{http_code}' --digest -u "$m:$pw" "$URL/$2"
}
x() { xmllint --xpath "$2" "$T/$1.got" 2>/dev/null; }

is "$(fetch yealink $MAC_yealink.cfg)" 200 "yealink: fetched"
kv() { sed -n "s/^$1 = //p" "$T/yealink.got"; }
is "$(kv linekey.1.type)|$(kv linekey.1.line)|$(kv linekey.1.label)" "15|1|Main" "yealink: key 1 line (15) on account 1"
is "$(kv linekey.2.type)|$(kv linekey.2.value)|$(kv linekey.2.label)|$(kv linekey.2.line)" "16|1002|$BOB|2" \
	"yealink: key 2 BLF (16), label as given, account 2"
is "$(kv linekey.3.type)|$(kv linekey.3.value)|$(kv linekey.3.line)" "13|+4930123|1" "yealink: key 3 speed dial (13), account default 1"
is "$(kv linekey.4.type)|$(kv linekey.4.value)|$(kv linekey.5.type)|$(kv linekey.5.value)" "10|700|14|1003" \
	"yealink: park (10) and intercom (14)"
is "$(kv linekey.6.type)|$(kv linekey.6.value)|$(kv linekey.7.type)|$(kv linekey.7.value)" "11|*3|17|$URLV" "yealink: dtmf (11) and url (17)"
is "$(kv expansion_module.1.key.1.type)|$(kv expansion_module.1.key.1.value)|$(kv expansion_module.1.key.1.label)" "16|1004|Eve" \
	"yealink: module 1 key 1 BLF"
is "$(kv expansion_module.1.key.2.type)|$(kv expansion_module.1.key.2.value)" "10|701" "yealink: module 1 key 2 park"
is "$(kv expansion_module.2.key.40.type)|$(kv expansion_module.2.key.40.value)|$(kv expansion_module.2.key.40.line)" "13|5551|2" \
	"yealink: module 2 key 40 speed dial on account 2"

is "$(fetch cisco spa$MAC_cisco.xml)" 200 "cisco: fetched"
xmllint --noout "$T/cisco.got"; ok $? "cisco: well-formed"
is "$(x cisco 'string(//Extension_1_)')|$(x cisco 'string(//Short_Name_1_)')|$(x cisco 'string(//Extended_Function_1_)')" "1|Main|" \
	"cisco: key 1 shows account 1, labelled"
is "$(x cisco 'string(//Extension_2_)')|$(x cisco 'string(//Short_Name_2_)')" "Disabled|$BOB" "cisco: key 2 a function key, label as given"
is "$(x cisco 'string(//Extended_Function_2_)')" "fnc=sd+blf+cp;sub=1002@\$PROXY;nme=$BOB" "cisco: key 2 BLF function"
is "$(x cisco 'string(//Extended_Function_3_)')" "fnc=sd;ext=+4930123@\$PROXY;nme=Pizza" "cisco: key 3 speed dial function"
is "$(x cisco 'string(//Unit_1_Key_1)')" "fnc=sd+blf+cp;sub=1004@\$PROXY;nme=Eve" "cisco: module 1 key 1 BLF"
is "$(x cisco 'string(//Unit_2_Key_40)')" "fnc=sd;ext=5551@\$PROXY;nme=5551" "cisco: module 2 key 40 speed dial"
is "$(x cisco 'count(//*[starts-with(name(),"Unit_")])')" 2 "cisco: the module park key not written"
is "$(x cisco 'count(//*[starts-with(name(),"Extension_") or starts-with(name(),"Short_Name_") or starts-with(name(),"Extended_Function_")])')" 9 \
	"cisco: keys 4-7 (park, intercom, dtmf, url) not written"

is "$(fetch snom $(echo $MAC_snom | tr a-f A-F).xml)" 200 "snom: fetched"
xmllint --noout "$T/snom.got"; ok $? "snom: well-formed"
sf() { x snom "string(//fkey[@idx='$1']${2-})"; }
is "$(sf 0)|$(sf 0 /@context)|$(sf 0 /@label)" "line|1|Main" "snom: idx 0 a line key on account 1"
is "$(sf 1)|$(sf 1 /@context)|$(sf 1 /@label)" "blf 1002|2|$BOB" "snom: idx 1 BLF on account 2, label as given"
is "$(sf 2)|$(sf 2 /@context)" "speed +4930123|active" "snom: idx 2 speed dial on the active account"
is "$(sf 3)|$(sf 4)|$(sf 5)|$(sf 6)" "orbit 700|icom 1003|dtmf *3|action_url $URLV" "snom: park, intercom, dtmf, url"
is "$(x snom 'count(//fkey)')" 7 "snom: seven keys"

is "$(fetch polycom $MAC_polycom-phone.cfg)" 200 "polycom: fetched"
xmllint --noout "$T/polycom.got"; ok $? "polycom: well-formed"
pa() { x polycom "string(//attendant/@attendant.resourceList.$1)"; }
is "$(pa 2.address)|$(pa 2.label)|$(pa 2.type)" "1002|$BOB|normal" "polycom: resource 2 BLF (normal)"
is "$(pa 4.address)|$(pa 4.label)|$(pa 4.type)" "700|Orbit|" "polycom: resource 4 park, no type"
is "$(x polycom 'count(//attendant)')" 2 "polycom: line, speed dial, intercom, dtmf, url not written"

is "$(fetch grandstream cfg$MAC_grandstream.xml)" 200 "grandstream: fetched"
xmllint --noout "$T/grandstream.got"; ok $? "grandstream: well-formed"
gp() { r=""; for p in "$@"; do r="$r$(x grandstream "string(//config/P$p)")|"; done; echo "$r"; }
is "$(gp 324 304 305 306)" "1|1|$BOB|1002|" "grandstream: MPK 2 BLF (1), account 2 (1)"
is "$(gp 325 307 308 309)" "0|0|Pizza|+4930123|" "grandstream: MPK 3 speed dial (0), account 1 (0)"
is "$(gp 326 312 327 315 328 318)" "9|700|10|1003|5|*3|" "grandstream: MPK 4 park (9), 5 intercom (10), 6 DTMF (5)"
is "$(x grandstream 'count(//config/P323 | //config/P329)')" 0 "grandstream: MPK 1 (line) and 7 (url) not written"

is "$(fetch fanvil $MAC_fanvil.cfg)" 200 "fanvil: fetched"
unlike "$(cat "$T/fanvil.got")" "Fkey|1002|Pizza|Orbit" "fanvil: no key written"
done_testing
