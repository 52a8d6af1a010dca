#!/bin/sh
# End to end with a real softphone: linphonec fetches its config from a real
# sipprovd via /s/{token} and registers to Kamailio on loopback with the
# provisioned username, auth username (different, as hosted PBXs do) and a
# password full of XML metacharacters.  A negative control serves the same
# account through a layout with username and userid swapped: then linphonec
# must NOT register, which proves the positive result comes from the values.
. "$(dirname "$0")/../lib.sh"
need linphonec linphonecsh curl

PASS='pw<>&"'"'"'x1'
start_kamailio
add_subscriber a1xyzauth example.test "$PASS"

sp init >/dev/null
sp tenant add acme --device-auth token >/dev/null
sp template set acme main registrar=example.test server=127.0.0.1 port="$KAM_PORT" transport=udp expires=120 >/dev/null
sp tenant set acme --default-template main >/dev/null
out=$(sp device add --tenant acme --layout linphone --label "Ann's laptop")
mac=$(echo "$out" | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
like "$mac" '^02[0-9a-f]{10}$' "softphone without MAC gets a locally administered id"
out=$(SIPPROV_URL=http://127.0.0.1:0 sp account add "$mac" --username alice --auth-username a1xyzauth \
	--password "$PASS" --display-name "Ann <\"O'Brien\"> & Co ☎")
token=$(echo "$out" | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
like "$token" '^[0-9a-f]{32}$' "account add prints a 128-bit token URL"

start_sipprovd
body=$(curl -s "$URL/s/$token")
cli=$(sp render "$mac")
is "$body" "$cli" "HTTP body and 'sipprov render' are byte-identical"
echo "$body" > "$T/fetched.xml"
python3 - "$T/fetched.xml" "$PASS" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"l": "http://www.linphone.org/xsds/lpconfig.xsd"}
root = ET.parse(sys.argv[1]).getroot()
entries = {(s.get("name"), e.get("name")): (e.text, e.get("overwrite")) for s in root.findall("l:section", ns) for e in s.findall("l:entry", ns)}
assert entries[("auth_info_0", "passwd")][0] == sys.argv[2], entries[("auth_info_0", "passwd")]
assert entries[("auth_info_0", "username")][0] == "alice"
assert entries[("auth_info_0", "userid")][0] == "a1xyzauth"
assert "Ann <\\\"O'Brien\\\"> & Co \u260e" in entries[("proxy_0", "reg_identity")][0], entries[("proxy_0", "reg_identity")]
assert all(v[1] == "true" for v in entries.values()), "every entry overwrite=true"
PY
ok $? "rendered XML is well-formed and carries the exact values (password, display name, user, userid)"

st=$(register_with ok "$URL/s/$token")
like "$st" '^registered, identity=.*alice@example.test' "linphonec provisioned from sipprovd registers to Kamailio"
# libpulse's runtime folder in the phone's own (removed with $T), not a
# /tmp/pulse-* linked from HOME that outlived every run.
out=$(find "$T/home.ok" -type l -lname '/tmp/*' 2>&1)
is "$out" "" "linphonec's runtime folder is inside its HOME, nothing linked from /tmp"
for _ in $(seq 1 100); do      # the writer batches: wait for it, not a fixed 0.3 s
	fetch=$(sql "select count(*) from fetch_log where status=200 and user_agent like 'Linphone%' or user_agent = 'Unknown'")
	[ "$fetch" -ge 1 ] && break
	sleep 0.1
done
ok $([ "$fetch" -ge 1 ] && echo 0 || echo 1) "the linphonec fetch is recorded in the fetch log (UA Unknown/Linphone)"
at=$(sql "select fetched_version from device join device_fetch on device_id = id where mac='$mac'")
is "$at" "1" "device row records the fetched template version"

# Negative control: the same account through a layout with the two fields swapped.
stop_sipprovd
mkdir -p "$T/swapped"; cp "$ROOT"/templates/* "$T/swapped/"
python3 - "$T/swapped/linphone.xml" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
a = re.search(r'<entry name="username"[^>]*>([^<]*)</entry>', s).group(1)
b = re.search(r'<entry name="userid"[^>]*>([^<]*)</entry>', s).group(1)
s = s.replace('<entry name="username"', '<entry name="@U@"').replace('<entry name="userid"', '<entry name="username"').replace('<entry name="@U@"', '<entry name="userid"')
open(p, "w").write(s)
PY
SIPPROV_TEMPLATES="$T/swapped" start_sipprovd -o templates="$T/swapped"
like "$(curl -s "$URL/s/$token")" '"userid" overwrite="true">alice<' "the control layout really serves the swapped fields"
st=$(register_with swapped "$URL/s/$token")
unlike "$st" '^registered,' "with username/userid swapped in the layout, linphonec does not register (got: $st)"
done_testing
