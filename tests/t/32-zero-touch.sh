#!/bin/bash
# 32-zero-touch.sh: every name in templates/zero-touch.md, asked of a real
# sipprovd over HTTP the way a factory-default phone asks it, answered with
# the documented content; where a file names the next file (Yealink boot
# include:config, Polycom CONFIG_FILES, Cisco Profile_Rule_B, Fanvil
# Download_Server_IP + Config_File_Name), the test expands the vendor's
# macro as the phone does ($MAC, [PHONE_MAC_ADDRESS], $MA, $mac) and
# follows it to the phone's own settings.  Files that need public_url
# answer 404 while it is unset, and a bad public_url is refused at start.
# It does not prove a phone's firmware reads the files: no phone here.
. "$(dirname "$0")/../lib.sh"
need curl python3

YL=0015654aa937 PC=0004f2aabb01 CS=0002fdff2103 SN=000413741767 FV=0c383e07e16c GS=000b828aa872
sp init >/dev/null || bail "init"
sp tenant add open --device-auth none >/dev/null || bail "tenant"
sp template set open main registrar=example.test server=sip.example.test port=5060 transport=udp >/dev/null ||
	bail "template"
sp tenant set open --default-template main >/dev/null || bail "default template"
n=0
for d in yealink:$YL:T46G polycom:$PC:VVX400 cisco:$CS:SPA504G snom:$SN:D785 fanvil:$FV:X4 grandstream:$GS:GXP2135; do
	IFS=: read -r l mac model <<<"$d"
	n=$((n + 1))
	sp device add "$mac" --tenant open --layout "$l" --model "$model" >/dev/null || bail "device $l"
	sp account add "$mac" --username "u$n$l" --auth-username "a$n$l" --password "pw$n" >/dev/null || bail "account $l"
	eval "U_$l=u$n$l"
done

sp device add f0aabbccddee --tenant open --layout fanvil --model X4 >/dev/null || bail "device f0"
sp account add f0aabbccddee --username uf0 --auth-username af0 --password pwf0 >/dev/null || bail "account f0"

code() { curl -s -o "$T/body" -w '%{http_code}' "$URL/$1"; }
# get NAME WHAT: 200 for NAME, body in $T/body
get() { local c; c=$(code "$1"); is "$c" 200 "GET /$1: 200 ($2)"; }
# xml_ok WHAT: $T/body parses as XML
xml_ok() { python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/body" 2>/dev/null; ok $? "$1: well-formed XML"; }
root_is() { is "$(python3 -c 'import sys, xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().tag)' "$T/body" 2>&1)" "$1" "$2: root element <$1>"; }
has() { grep -qF -- "$1" "$T/body"; ok $? "$2"; }
hasnt() { ! grep -qF -- "$1" "$T/body"; ok $? "$2"; }

start_sipprovd -o insecure_loopback=yes

# ---- names that need no public_url ----
# Yealink: {mac}.boot, else y000000000000.boot; both name the MAC file only.
get $YL.boot "Yealink MAC boot file"
is "$(head -1 "$T/body")" "#!version:1.0.0.1" "$YL.boot: Yealink's first line"
is "$(grep -v '^#' "$T/body" | grep -v '^$')" "include:config \"$YL.cfg\"" "$YL.boot: include:config of $YL.cfg only"
get y000000000000.boot "Yealink common boot file (no MAC boot)"
is "$(head -1 "$T/body")" "#!version:1.0.0.1" "y000000000000.boot: Yealink's first line"
inc=$(grep -v '^#' "$T/body" | grep -v '^$')
is "$inc" 'include:config "$MAC.cfg"' 'y000000000000.boot: include:config "$MAC.cfg" only'
# the phone puts its MAC for $MAC (lower case, no separators) and fetches it
f=$(sed -n 's/^include:config "\(.*\)"$/\1/p' <<<"$inc"); f=${f//\$MAC/$YL}
get "$f" "the file y000000000000.boot names, for $YL"
has "account.1.user_name = $U_yealink" "$f: the phone's account"
for xx in 00 28 66 a5; do
	get y0000000000$xx.cfg "Yealink model common file $xx"
	is "$(grep -v '^#' "$T/body" | grep -v '^$')" "sip.notify_reboot_enable = 0" "y0000000000$xx.cfg: one common key, no account"
done
get $YL.cfg "Yealink MAC file"
has "account.1.auth_name = a1yealink" "$YL.cfg: the account"

# Polycom: {mac}.cfg (asked first) and 000000000000.cfg are master files
get $PC.cfg "Polycom per-phone master file"
xml_ok "$PC.cfg"; root_is APPLICATION "$PC.cfg"
hasnt "reg.1" "$PC.cfg: a master file, no settings"
cf=$(python3 -c 'import sys, xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().get("CONFIG_FILES"))' "$T/body" 2>&1)
is "$cf" "$PC-phone.cfg" "$PC.cfg: CONFIG_FILES names $PC-phone.cfg"
get "$cf" "the file $PC.cfg names"
has "reg.1.address=\"$U_polycom@example.test\"" "$cf: the phone's registration"
get 000000000000.cfg "Polycom common master file"
xml_ok 000000000000.cfg; root_is APPLICATION 000000000000.cfg
cf=$(python3 -c 'import sys, xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().get("CONFIG_FILES"))' "$T/body" 2>&1)
is "$cf" "[PHONE_MAC_ADDRESS]-phone.cfg" "000000000000.cfg: CONFIG_FILES with Polycom's [PHONE_MAC_ADDRESS]"
get "${cf//\[PHONE_MAC_ADDRESS\]/$PC}" "the file 000000000000.cfg names, for $PC"
has "reg.1.auth.userId=\"a2polycom\"" "$PC-phone.cfg: the account"

# Snom: snom{model}.htm (general, per model) and snom{model}-{MAC}.htm
for m in 710 D785 D385; do
	get snom$m.htm "Snom general setting file, model $m as the phone sends it"
	xml_ok snom$m.htm; root_is settings snom$m.htm
	hasnt "user_" "snom$m.htm: no account"
done
SNU=$(tr a-f A-F <<<"$SN")
get snomD785-$SNU.htm "Snom D785 MAC file (upper-case D, as the phone sends it)"
xml_ok snomD785-$SNU.htm
has ">$U_snom</user_name>" "snomD785-$SNU.htm: the phone's account"
get snom710-$SNU.htm "Snom 710 MAC file"
get $SNU.xml "Snom {MAC}.xml"

# Grandstream: cfg{mac}.xml, then cfg{mac}
get cfg$GS.xml "Grandstream MAC file"
has "<P35>$U_grandstream</P35>" "cfg$GS.xml: the account"
get cfg$GS "Grandstream MAC file without extension"

# Cisco and Fanvil MAC files
get spa$CS.xml "Cisco SPA spa{mac}.xml"; has "<User_ID_1_ ua=\"na\">$U_cisco</User_ID_1_>" "spa$CS.xml: the account"
get $CS.xml "Cisco {mac}.xml"
get $FV.cfg "Fanvil MAC file"; has "SIP1 Phone Number  :$U_fanvil" "$FV.cfg: the account"

# ---- names that need public_url: 404 while it is unset ----
ZT_URL="spa504g.cfg spa508g.cfg F0V00X200000.cfg f0C00580000.cfg f0X4hw1.100.cfg"
for f in $ZT_URL; do
	is "$(code "$f")" 404 "GET /$f without public_url: 404 (it would name the phone's file by absolute URL)"
done
grep -q '"GET /spa504g.cfg" 404 .*public_url' "$T/access.log"; ok $? "the access log says why (public_url)"
# A MAC that looks like Fanvil's f0{model}.cfg is still a device file
get f0aabbccddee.cfg "a Fanvil whose MAC starts f0, like the model files"
has "SIP1 Phone Number  :uf0" "f0aabbccddee.cfg: the device's own file, not a Fanvil model file"
stop_sipprovd

# ---- a bad public_url is refused, naming the key ----
for bad in 'ftp://x' 'http://' 'http://h/<x>' 'prov.example.test' 'http://h/a"b'; do
	"$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o public_url="$bad" >"$T/n.out" 2>&1
	rc=$?
	[ $rc -ne 0 ] && grep -q "public_url" "$T/n.out"; ok $? "public_url='$bad' refused by sipprovd -n, naming public_url (rc $rc)"
done

# ---- with public_url ----
P=$(free_port)
start_sipprovd -o insecure_loopback=yes -o http_listen=127.0.0.1:$P -o public_url="http://127.0.0.1:$P/"
BASE="http://127.0.0.1:$P"
for f in spa504g.cfg spa508g.cfg; do
	get $f "Cisco SPA model profile (factory Profile_Rule /spa\$PSN.cfg)"
	xml_ok $f; root_is flat-profile $f
	rule=$(python3 -c 'import sys, xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().findtext("Profile_Rule_B"))' "$T/body")
	is "$rule" "$BASE/\$MA.xml" "$f: Profile_Rule_B is public_url/\$MA.xml (trailing / of public_url dropped)"
	hasnt "User_ID" "$f: no account"
done
# the phone expands $MA (its MAC, lower-case hex) and fetches the rule's URL
u=${rule//\$MA/$CS}
c=$(curl -s -o "$T/body" -w '%{http_code}' "$u"); is "$c" 200 "GET $u (Profile_Rule_B expanded for $CS): 200"
has "<User_ID_1_ ua=\"na\">$U_cisco</User_ID_1_>" "$u: the phone's account"

for f in F0V00X200000.cfg f0C00580000.cfg f0X4hw1.100.cfg F0V0i6100000.cfg; do
	get $f "Fanvil model file"
	has "<AUTOUPDATE_CONFIG_MODULE>" "$f: Fanvil's auto-provisioning module"
	srv=$(sed -n 's|.*<Download_Server_IP>\(.*\)</Download_Server_IP>.*|\1|p' "$T/body")
	name=$(sed -n 's|.*<Config_File_Name>\(.*\)</Config_File_Name>.*|\1|p' "$T/body")
	is "$srv" "$BASE" "$f: Download_Server_IP is public_url"
	is "$name" '$mac.cfg' "$f: Config_File_Name is \$mac.cfg"
	hasnt "Register" "$f: no account"
done
c=$(curl -s -o "$T/body" -w '%{http_code}' "$srv/${name//\$mac/$FV}"); is "$c" 200 "Fanvil: Download_Server_IP/Config_File_Name for $FV: 200"
has "SIP1 Register User :a5fanvil" "Fanvil: the phone's own file, reached from the model file"
# the common files without public_url are unchanged by it
get y000000000000.boot "Yealink common boot with public_url set"
is "$(grep -v '^#' "$T/body" | grep -v '^$')" 'include:config "$MAC.cfg"' "y000000000000.boot does not depend on public_url"
done_testing
