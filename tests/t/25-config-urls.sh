#!/bin/sh
# Issue 16: the phonebook and firmware URLs written into phone configs.
# A template picks an image per model (firmware.<model>=<version>); a
# version no stored image has is refused by name and writes nothing.
# sipprovd (public_url set) serves each desk phone a config whose URL keys,
# read back by tests/support/vendor_read.py (written from the vendor tables),
# lead to its phonebook in its vendor's format (xmllint well-formed) and to
# the image, byte-identical (sha256sum), fetched with the phone's own
# credentials; `sipprov render` writes the same bytes.  Vendors without a
# key warn at `template set` and write no URL.  Removing an image changes
# the served config at once (config_gen).
. "$(dirname "$0")/../lib.sh"
need curl jq python3 sqlite3 xmllint sha256sum

READ="$ROOT/tests/support/vendor_read.py"
# On PostgreSQL images live in firmware_dir (nothing sits beside a URL):
# name $T/firmware, the folder SQLite's default gives, in the configuration
# both the CLI (SIPPROV_CONF) and sipprovd (-f) read.
FW="$T/firmware"
if backend_is pg; then echo "firmware_dir = $FW"; else echo "# firmware/ beside $DB"; fi >"$T/fw.conf"
export SIPPROV_CONF="$T/fw.conf"
sp init >/dev/null || bail "init"
sp tenant add acme --device-auth digest >/dev/null || bail "tenant"
sp phonebook add --tenant acme --name 'Front desk' --number 200 >/dev/null || bail "contact"
sp phonebook add --tenant acme --name 'Lobby' --number 201 --mobile +4915112345 >/dev/null || bail "contact"

# layout model version image-name; polycom has an image but no key to say it
set -- yealink:T46G:66.86.0.15:T46G-66.86.0.15.rom cisco:SPA504G:7.6.2:spa50x-30x-7-6-2.bin \
	grandstream:GXP2135:1.0.11.3:gxp2135fw.bin polycom:VVX400:6.4.3:sip.ld snom:D785:10.1.54.13:snomD785-10.1.54.13-SIP-r.bin
for spec in "$@"; do
	IFS=: read -r l model ver file <<EOF
$spec
EOF
	head -c 300000 /dev/urandom >"$T/$file"
	sp firmware add "$T/$file" --vendor "$l" --model "$model" --version "$ver" >/dev/null || bail "firmware $l"
	eval "SHA_$l=\$(sha256sum <\"\$T/\$file\" | cut -d' ' -f1)"
done

# ---- template set: the version must be stored ----
sp template set acme main registrar=example.test server=sip.example.test >/dev/null || bail "template"
gen() { sql "SELECT count(*) FROM template_version"; }
before=$(gen)
err=$(sp template set acme main firmware.T46G=66.99.0.1 2>&1); rc=$?
is "$rc" 1 "a firmware version no image has is a user error"
like "$err" "setting 'firmware.T46G': no firmware version '66.99.0.1' of model 'T46G' is stored" \
	"the error names the setting, the version and the model"
err=$(sp template set acme main firmware.T99=1 2>&1); rc=$?
is "$rc" 1 "a model without any image is a user error"
like "$err" "setting 'firmware.T99': no firmware of model 'T99' is stored" "and is named"
err=$(sp template set acme main 'firmware.T4/6=1' 2>&1)
like "$err" "unknown setting 'firmware.T4/6'" "a model name with a slash is not a setting"
is "$(gen)" "$before" "no refused set wrote a version"
err=$(sp tenant set acme firmware.T46G=0.0.1 2>&1); rc=$?
is "$rc" 1 "tenant defaults: an unknown firmware version is a user error"
like "$err" "setting 'firmware.T46G': no firmware version '0.0.1'" "and names the setting"
is "$(sql "SELECT defaults FROM tenant WHERE slug='acme'")" "{}" "the tenant defaults were not written"
out=$(sp template set acme main firmware.T46G=66.86.0.15 firmware.spa504g=7.6.2 firmware.GXP2135=1.0.11.3 \
	firmware.VVX400=6.4.3 firmware.D785=10.1.54.13 2>&1); rc=$?
is "$rc" 0 "stored versions are accepted (model names in any case)"

i=0
for spec in "$@" fanvil:X4::; do
	i=$((i + 1))
	IFS=: read -r l model ver file <<EOF
$spec
EOF
	sp device add "00156500001$i" --tenant acme --layout "$l" --model "$model" >/dev/null || bail "device $l"
	sp account add "00156500001$i" --line 1 --username "u$i" --auth-username "u$i" --password "pw$i" >/dev/null || bail "account $l"
	eval "MAC_$l=00156500001$i"
	eval "PW_$l=\$(sp device credentials 00156500001$i | sed -n 's/^  password: *//p')"
done
err=$(sp device set "$MAC_yealink" firmware.T46G=1.1.1 2>&1); rc=$?
is "$rc" 1 "device overrides: an unknown firmware version is a user error"
like "$err" "device $MAC_yealink overrides: setting 'firmware.T46G': no firmware version '1.1.1'" "and names the setting"
is "$(sql "SELECT overrides FROM device WHERE mac='$MAC_yealink'")" "{}" "the overrides were not written"
out=$(sp template set acme main firmware.VVX400=6.4.3 firmware.D785=10.1.54.13 ntp_server=pool.ntp.org 2>&1)
like "$out" "layout 'polycom' cannot express firmware.VVX400=6.4.3: " "polycom: template set warns it cannot write the firmware"

# ---- sipprovd with public_url: every URL key leads somewhere real ----
P=$(free_port)
PUB="http://127.0.0.1:$P/"
start_sipprovd -f "$SIPPROV_CONF" -o http_listen=127.0.0.1:$P -o public_url=$PUB -o fail_threshold=1000
printf 'database = %s\npublic_url = %s\n' "$DB" "$PUB" >"$T/sipprovd.conf"
fetch() { # layout url out -> status, with the phone's digest credentials
	eval "_m=\$MAC_$1 _p=\$PW_$1"
	curl -s -o "$3" -w '%{http_code}' --digest -u "$_m:$_p" "$2"
}
cfgpath() { case $1 in yealink) echo "$2.cfg" ;; cisco) echo "spa$2.xml" ;; grandstream) echo "cfg$2.xml" ;; esac; }
root_of() { xmllint --xpath 'name(/*)' "$1" 2>/dev/null; }
for l in yealink cisco grandstream; do
	eval "mac=\$MAC_$l sha=\$SHA_$l"
	is "$(fetch $l "$URL/$(cfgpath $l $mac)" "$T/$l.out")" 200 "$l: config fetched"
	python3 "$READ" $l "$T/$l.out" >"$T/$l.json" || diag "read-back failed"
	pb=$(jq -r '.phonebook // ""' "$T/$l.json"); fw=$(jq -r '.firmware // ""' "$T/$l.json")
	case $l in
	grandstream) is "$pb" "${PUB%/}/pb/$mac/phonebook.xml" "$l: P330/P331 read back to the phonebook URL"
		like "$fw" "^${PUB%/}/fw/$sha/\$" "$l: P6767/P192 read back to the image's folder"
		fw="${fw}gxp2135fw.bin" ;;   # the phone appends its image name
	*) is "$pb" "${PUB%/}/pb/$mac.xml" "$l: the phonebook URL read back"
		like "$fw" "^${PUB%/}/fw/$sha/[^/]+\$" "$l: the firmware URL read back names the image's SHA-256" ;;
	esac
	is "$(fetch $l "$pb" "$T/$l-pb.xml")" 200 "$l: the phonebook URL answers the phone's credentials"
	xmllint --noout "$T/$l-pb.xml" 2>/dev/null
	ok $? "$l: the phonebook is well-formed XML (xmllint)"
	want=$(case $l in yealink) echo YealinkIPPhoneDirectory ;; cisco) echo CiscoIPPhoneDirectory ;;
		grandstream) echo AddressBook ;; esac)
	is "$(root_of "$T/$l-pb.xml")" "$want" "$l: in its vendor's format"
	like "$(cat "$T/$l-pb.xml")" "Lobby" "$l: with the tenant's contacts"
	is "$(curl -s -o "$T/$l.fw" -w '%{http_code}' "$fw")" 200 "$l: the firmware URL answers"
	is "$(sha256sum <"$T/$l.fw" | cut -d' ' -f1)" "$sha" "$l: and gives the image, byte-identical"
	"$SIPPROV" -f "$T/sipprovd.conf" -d "$DB" render "$mac" >"$T/$l.cli" 2>/dev/null
	cmp -s "$T/$l.cli" "$T/$l.out"
	ok $? "$l: 'sipprov render' writes the same bytes as sipprovd"
done
# Snom: firmware_status names a per-phone file whose <firmware> is the image
is "$(fetch snom "$URL/snomD785-$(echo $MAC_snom | tr a-f A-F).htm" "$T/snom.out")" 200 "snom: config fetched"
st=$(xmllint --xpath 'string(//firmware_status)' "$T/snom.out")
is "$st" "${PUB%/}/$(echo $MAC_snom | tr a-f A-F)-firmware.xml" "snom: firmware_status names the phone's firmware file"
is "$(xmllint --xpath 'string(//update_policy)' "$T/snom.out")" "auto_update" "snom: update_policy auto_update"
is "$(fetch snom "$st" "$T/snom-fw.xml")" 200 "snom: the firmware file answers the phone's credentials"
fw=$(xmllint --xpath 'string(/firmware-settings/firmware)' "$T/snom-fw.xml")
like "$fw" "^${PUB%/}/fw/$SHA_snom/" "snom: its <firmware> is the image's URL"
is "$(curl -s "$fw" | sha256sum | cut -d' ' -f1)" "$SHA_snom" "snom: which gives the image, byte-identical"
for l in polycom fanvil; do
	eval "mac=\$MAC_$l"
	"$SIPPROV" -f "$T/sipprovd.conf" -d "$DB" render "$mac" >"$T/$l.cli" 2>"$T/$l.err"
	unlike "$(cat "$T/$l.cli")" "/fw/|/pb/" "$l: no URL key written (no reference key)"
done
like "$(cat "$T/polycom.err")" "cannot express firmware.VVX400=6.4.3" "polycom: render warns about the firmware too"

# ---- an image a setting picks stays; unpicked, it can go ----
err=$(sp firmware rm --vendor cisco --model SPA504G --version 7.6.2 2>&1); rc=$?
is "$rc" 1 "an image the template still picks is not removed"
like "$err" "still picked by 1 setting: template acme/main" "the refusal names who picks it"
sp template set acme main firmware.spa504g= >/dev/null; ok $? "the template stops picking it"
sp firmware rm --vendor cisco --model SPA504G --version 7.6.2 >/dev/null; ok $? "then the cisco image is removed"
fetch cisco "$URL/$(cfgpath cisco $MAC_cisco)" "$T/cisco2.out" >/dev/null
unlike "$(cat "$T/cisco2.out")" "Upgrade_Rule" "cisco: the next fetch carries no Upgrade_Rule"
like "$(cat "$T/cisco2.out")" "XML_Directory_Service_URL" "cisco: the phonebook URL stays"

# ---- without public_url: no URL at all ----
stop_sipprovd
start_sipprovd -f "$SIPPROV_CONF" -o fail_threshold=1000
is "$(fetch yealink "$URL/$MAC_yealink.cfg" "$T/y3.out")" 200 "yealink without public_url: served"
unlike "$(cat "$T/y3.out")" "remote_phonebook|firmware.url" "yealink without public_url: no URL key"
done_testing
