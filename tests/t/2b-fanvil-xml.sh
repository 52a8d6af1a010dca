#!/bin/sh
# Issue 16: the fanvil-xml layout (Fanvil's XML form, templates/fanvil-xml.md).
# A running sipprovd serves {mac}.cfg to a device whose layout is fanvil-xml
# and, for the same name, the text form to a fanvil device; the XML body is
# well-formed (xmllint) and every key is read back with XPath: the accounts,
# each line key type with its W/F code, the firmware URL, the phonebook URL
# (which answers in Fanvil's directory format) and the web/menu passwords
# only as configured.  DTMF and URL keys are warned naming layout and type.
. "$(dirname "$0")/../lib.sh"
need curl xmllint sqlite3 sha256sum

# On PostgreSQL images live in firmware_dir (nothing sits beside a URL):
# name $T/firmware, the folder SQLite's default gives, in the configuration
# both the CLI (SIPPROV_CONF) and sipprovd (-f) read.
FW="$T/firmware"
if backend_is pg; then echo "firmware_dir = $FW"; else echo "# firmware/ beside $DB"; fi >"$T/fw.conf"
export SIPPROV_CONF="$T/fw.conf"
sp init >/dev/null || bail "init"
sp tenant add acme --device-auth digest >/dev/null || bail "tenant"
sp phonebook add --tenant acme --name 'Front desk' --number 200 >/dev/null || bail "contact"
head -c 200000 /dev/urandom >"$T/x4.bin"
SHA=$(sha256sum <"$T/x4.bin" | cut -d' ' -f1)
sp firmware add "$T/x4.bin" --vendor fanvil-xml --model X4 --version 2.10.2 >/dev/null 2>"$T/fw.err" ||
	bail "firmware add: $(cat "$T/fw.err")"
sp template set acme main registrar=example.test server=sip.example.test:5070 transport=tls \
	backup_server=sip2.example.test expires=600 dns_mode=srv ntp_server=pool.ntp.org >/dev/null 2>&1 || bail "template"
sp tenant set acme --default-template main >/dev/null || bail "default template"

FX=0c383e000001 FT=0c383e000002 FP=0c383e000003
sp device add $FX --tenant acme --layout fanvil-xml --model X4 >/dev/null || bail "device fanvil-xml"
sp device add $FT --tenant acme --layout fanvil --model X4 >/dev/null || bail "device fanvil"
sp device add $FP --tenant acme --layout fanvil-xml --model X4 >/dev/null || bail "device fanvil-xml 2"
for m in $FX $FT $FP; do
	sp account add $m --username 1001 --auth-username a1001 --password 'p<&>w' --display-name 'Ann & Co' >/dev/null &&
	sp account add $m --line 2 --username 1002 --auth-username a1002 --password pw2 >/dev/null || bail "accounts $m"
done
BOB='Bob <&> "Q"'
URLV='http://x.example.test/a?b=1&c=2'
sp key set $FX 1 --type line --label Main --line 1 >/dev/null &&
sp key set $FX 2 --type blf --value 1002 --label "$BOB" --line 2 >/dev/null 2>&1 &&
sp key set $FX 3 --type speed_dial --value +4930123 --label Pizza >/dev/null &&
sp key set $FX 4 --type park --value 700 --label Orbit >/dev/null &&
sp key set $FX 5 --type intercom --value 1003 --label Door >/dev/null 2>&1 &&
sp key set $FX 6 --type dtmf --value '*3' --label Rec >/dev/null 2>&1 &&
sp key set $FX 7 --type url --value "$URLV" --label Web >/dev/null 2>&1 &&
sp key set $FX 8 --type line --line 2 >/dev/null || bail "keys"
sp device set $FX firmware.X4=2.10.2 >/dev/null 2>&1 || bail "firmware setting"
printf 'Adm<&"1\n' >"$T/admin.pw"; printf 'usr&amp;2\n' >"$T/user.pw"
sp web-password set --device $FX --admin-file "$T/admin.pw" --user-file "$T/user.pw" >/dev/null || bail "web passwords"

# ---- warnings: only the types W/F give no code for, naming layout and type ----
sp render $FX >"$T/cli.xml" 2>"$T/cli.err"; ok $? "sipprov render of the fanvil-xml device"
like "$(cat "$T/cli.err")" "layout 'fanvil-xml' cannot express key\\.6\\.type=dtmf: " "a dtmf key is warned about"
like "$(cat "$T/cli.err")" "layout 'fanvil-xml' cannot express key\\.7\\.type=url: " "a url key is warned about"
unlike "$(cat "$T/cli.err")" "key\\.[1-58]\\.|firmware|password" "no other key, the firmware and the passwords not warned"
unlike "$(cat "$T/cli.err")" "Adm<|usr&" "no warning shows a password"

# ---- served by sipprovd ----
P=$(free_port)
PUB="http://127.0.0.1:$P/"
start_sipprovd -f "$SIPPROV_CONF" -o http_listen=127.0.0.1:$P -o public_url=$PUB -o fail_threshold=1000
fetch() { # mac url out
	pw=$(sp device credentials $1 | sed -n 's/^  password: *//p')
	curl -s -o "$3" -w '%{http_code}' --digest -u "$1:$pw" "$2"
}
is "$(fetch $FX "$URL/$FX.cfg" "$T/fx.xml")" 200 "fanvil-xml: {mac}.cfg served"
is "$(fetch $FT "$URL/$FT.cfg" "$T/ft.cfg")" 200 "fanvil: the same file name served to a fanvil device"
like "$(head -c 40 "$T/ft.cfg")" "^<<VOIP CONFIG FILE>>" "fanvil: the text form"
like "$(sed -n 1p "$T/fx.xml")" '^<\?xml ' "fanvil-xml: the XML form"
xmllint --noout "$T/fx.xml"; ok $? "fanvil-xml: well-formed (xmllint)"
x() { xmllint --xpath "$1" "$T/fx.xml" 2>/dev/null; }
is "$(x 'name(/*)')|$(x 'string(/VOIP_CONFIG_FILE/version)')" "VOIP_CONFIG_FILE|2.0002" "root and version as W and F write them"

# accounts
L='/VOIP_CONFIG_FILE/SIP_CONFIG_MODULE/SIP_Line_List/SIP_Line_List_Entry'
s() { x "string($L[ID='SIP$1']/$2)"; }
is "$(x "count($L)")" 2 "two SIP lines"
is "$(s 1 Phone_Number)|$(s 1 Display_Name)|$(s 1 Register_User)|$(s 1 Register_Pswd)" "1001|Ann & Co|a1001|p<&>w" \
	"SIP1: user, display name, auth user, password (parsed back unchanged)"
is "$(s 1 Register_Addr)|$(s 1 Register_Port)|$(s 1 Register_TTL)|$(s 1 Enable_Reg)" "example.test|5060|600|1" \
	"SIP1: registrar (domain), port, expiry, registration on"
is "$(s 1 Proxy_Addr)|$(s 1 Proxy_Port)" "sip.example.test|5070" "SIP1: REGISTER goes to server:port"
is "$(s 1 Backup_Addr)|$(s 1 Backup_Port)|$(s 1 Backup_Transpo)" "sip2.example.test|5060|3" "SIP1: backup server, TLS code 3"
is "$(s 1 Transport)|$(s 1 DNS_SRV)" "3|1" "SIP1: transport TLS (3), DNS SRV on"
is "$(s 2 Phone_Number)|$(s 2 Register_User)|$(s 2 Register_Pswd)" "1002|a1002|pw2" "SIP2: its own account"
is "$(x 'string(//SNTP_Server)')|$(x 'string(//Enable_SNTP)')" "pool.ntp.org|1" "NTP server"

# line keys
K='/VOIP_CONFIG_FILE/PHONE_CONFIG_MODULE/Function_Key/Function_Key_Entry'
k() { echo "$(x "string($K[ID='Fkey$1']/Type)")|$(x "string($K[ID='Fkey$1']/Value)")|$(x "string($K[ID='Fkey$1']/Title)")"; }
is "$(k 1)" "2|SIP1|Main" "Fkey1: line key, Type 2, value SIP1"
is "$(k 8)" "2|SIP2|" "Fkey8: line key on account 2"
is "$(k 2)" "1|1002@2/ba|$BOB" "Fkey2: BLF, memory key VALUE@LINE/ba, label as given"
is "$(k 3)" "1|+4930123@1/f|Pizza" "Fkey3: speed dial /f, account default 1"
is "$(k 4)" "1|700@1/c|Orbit" "Fkey4: park /c"
is "$(k 5)" "1|1003@1/i|Door" "Fkey5: intercom /i"
is "$(x "count($K)")|$(x "count($K[ID='Fkey6' or ID='Fkey7'])")" "6|0" "dtmf and url keys not written"

# firmware, phonebook, passwords
is "$(x 'string(/VOIP_CONFIG_FILE/AUTOUPDATE_CONFIG_MODULE/Auto_Image_URL)')" "${PUB}fw/$SHA/x4.bin" \
	"Auto_Image_URL: the image on public_url"
is "$(fetch $FX "$(x 'string(//Auto_Image_URL)')" "$T/img")" 200 "the firmware URL answers the phone"
is "$(sha256sum <"$T/img" | cut -d' ' -f1)" "$SHA" "and serves the image byte for byte"
PB=$(x 'string(//Xml_PhoneBook/Xml_PhoneBook_Entry[ID="XML-PBook1"]/Addr)')
is "$PB" "${PUB}pb/$FX.xml" "Xml_PhoneBook Addr: the phonebook on public_url"
is "$(fetch $FX "$PB" "$T/pb.xml")" 200 "the phonebook URL answers the phone"
is "$(xmllint --xpath 'name(/*)' "$T/pb.xml" 2>/dev/null)|$(grep -c 'Front desk' "$T/pb.xml")" "FanvilIPPhoneDirectory|1" \
	"in Fanvil's directory format, with the contact"
M='/VOIP_CONFIG_FILE/MMI_CONFIG_MODULE/MMI_Account/MMI_Account_Entry'
is "$(x "string($M[ID='Account1']/Name)")|$(x "string($M[ID='Account1']/Password)")|$(x "string($M[ID='Account1']/Level)")" \
	'admin|Adm<&"1|10' "web admin account (level 10), password unchanged"
is "$(x "string($M[ID='Account2']/Name)")|$(x "string($M[ID='Account2']/Password)")|$(x "string($M[ID='Account2']/Level)")" \
	'guest|usr&amp;2|5' "web user account (guest, level 5)"
is "$(x 'string(//Menu_Password)')" 'Adm<&"1' "Menu_Password: the admin password"

# the second device: no keys, no image, no passwords -> none of those elements
is "$(fetch $FP "$URL/$FP.cfg" "$T/fp.xml")" 200 "fanvil-xml device without extras served"
y() { xmllint --xpath "$1" "$T/fp.xml" 2>/dev/null; }
is "$(y 'count(//MMI_CONFIG_MODULE)')|$(y 'count(//Menu_Password)')|$(y 'count(//Auto_Image_URL)')|$(y 'count(//Function_Key_Entry)')" \
	"0|0|0|0" "no password, firmware or key element when none is configured"
is "$(y 'string(//Xml_PhoneBook_Entry/Addr)')" "${PUB}pb/$FP.xml" "the phonebook URL still written (public_url set)"
printf 'adm2\n' >"$T/a2.pw"
sp web-password set --device $FP --user-file "$T/a2.pw" >/dev/null || bail "user password only"
fetch $FP "$URL/$FP.cfg" "$T/fp.xml" >/dev/null
is "$(y 'count(//MMI_Account_Entry)')|$(y 'string(//MMI_Account_Entry/Name)')|$(y 'count(//Menu_Password)')" "1|guest|0" \
	"a user password alone: only the guest account, no menu password"
done_testing
