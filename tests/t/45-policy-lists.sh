#!/bin/sh
# Tenant policy lists written with spaces are stored canonical and served
# as written (issue 10): an allowlist '10.0.0.0/8, 127.0.0.0/8' lets
# 127.0.0.1 in, 'digest, token' serves the token URL.  A legacy row written
# behind the CLI's back (as older versions stored it) is served alike, and
# a bad item is refused with the field and the item named.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3
sp init >/dev/null
tpl() { sp template set "$1" main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null &&
	sp tenant set "$1" --default-template main >/dev/null; }
sp tenant add lan --device-auth none --allow '10.0.0.0/8, 127.0.0.0/8' >/dev/null || bail "tenant lan"
tpl lan
sp tenant add soft --device-auth 'digest, token' >/dev/null || bail "tenant soft"
tpl soft
sp tenant add old --device-auth none --allow 10.0.0.0/8 >/dev/null || bail "tenant old"
tpl old
sp device add 001565000045 --tenant lan --layout yealink >/dev/null
sp device add 001565000046 --tenant old --layout yealink >/dev/null
soft=$(sp device add --tenant soft --layout linphone | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
sp account add 001565000045 --username u45 --auth-username a45 --password 'Pol-45-pw' >/dev/null
sp account add 001565000046 --username u46 --auth-username a46 --password 'Pol-46-pw' >/dev/null
tok=$(sp account add "$soft" --username u47 --auth-username a47 --password 'Pol-47-pw' | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
like "$tok" '^[0-9a-f]{32}$' "token URL for the digest+token tenant"

is "$(sp tenant show lan --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["allow"])')" \
	"10.0.0.0/8,127.0.0.0/8" "allowlist stored canonical"
is "$(sp tenant show soft --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["device_auth"])')" \
	"digest,token" "device auth stored canonical"
# Legacy: what an older version stored for the same command.
sql "UPDATE tenant SET allow_cidrs = '10.0.0.0/8, 127.0.0.0/8,' WHERE slug = 'old'"

start_sipprovd -o insecure_loopback=yes -o fail_threshold=1000
get() { curl -s -o "$T/body" -w '%{http_code}' "$URL$1"; }
is "$(get /001565000045.cfg)" 200 "allowlist '10.0.0.0/8, 127.0.0.0/8' serves 127.0.0.1"
grep -q 'Pol-45-pw' "$T/body"; ok $? "... the device's config"
is "$(get "/s/$tok")" 200 "device auth 'digest, token' serves the token URL"
grep -q 'Pol-47-pw' "$T/body"; ok $? "... the softphone's config"
is "$(get /001565000046.cfg)" 200 "a legacy stored allowlist with spaces serves 127.0.0.1"
! grep -q "outside tenant" "$SIPPROVD_LOG"; ok $? "no allowlist refusal in the log"

# Still refused where the policy says so.
sp tenant set lan --allow '10.0.0.0/8 ,192.0.2.0/24' >/dev/null
sleep 0.1
is "$(get /001565000045.cfg)" 401 "127.0.0.1 outside '10.0.0.0/8 ,192.0.2.0/24': refused"
! grep -q 'Pol-45-pw' "$T/body"; ok $? "... without the password"

# Bad input: the field and the item named, nothing written.
out=$(sp tenant set lan --allow '10.0.0.0/8, 10.0.0.0/33' 2>&1); rc=$?
ok $((rc == 0)) "a bad CIDR is refused"
like "$out" 'allowed source "10.0.0.0/33" is not an address or CIDR' "the error names the field and the item"
out=$(sp tenant set soft --device-auth 'digest, tokn' 2>&1); rc=$?
ok $((rc == 0)) "an unknown device auth mode is refused"
like "$out" 'device_auth "tokn" is not one of none, digest, mtls, token' "the error names the field and the item"
is "$(sp tenant show lan --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["allow"])')" \
	"10.0.0.0/8,192.0.2.0/24" "nothing written by the refused change"
done_testing
