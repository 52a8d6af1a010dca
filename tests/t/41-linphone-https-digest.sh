#!/bin/sh
# linphonec fetches its configuration over HTTPS (private CA given in
# [sip] root_ca, hostname localhost) with per-device digest credentials
# in the URL, and registers to Kamailio with what it got.  Controls: a
# wrong HTTP password, and a client that does not trust our CA, must
# both leave linphonec unprovisioned (no registration).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/peers/certs.sh"
need linphonec linphonecsh kamailio sqlite3 openssl curl python3
P="$T/pki"
make_pki "$P"
PASS='Lin-pw<&>"x1'

# Kamailio (tests/lib.sh) with the phone's digest user.
start_kamailio
add_subscriber lin1auth example.test "$PASS"

sp init >/dev/null
sp tenant add soft --device-auth digest >/dev/null
sp template set soft main registrar=example.test server=127.0.0.1 port="$KAM_PORT" transport=udp expires=120 >/dev/null
sp tenant set soft --default-template main >/dev/null
mac=$(sp device add --tenant soft --layout linphone | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
tok=$(sp account add "$mac" --username lin1 --auth-username lin1auth --password "$PASS" | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
like "$tok" '^[0-9a-f]{32}$' "softphone account has a token URL"
HP=$(sp device credentials "$mac" | sed -n 's/^  password: *//p')
like "$HP" '^[0-9a-f]{32}$' "softphone device has digest credentials"

start_sipprovd -o https_listen=127.0.0.1:0 -o tls_cert="$P/server.pem" -o tls_key="$P/server.key"
[ -n "$HTTPS_PORT" ] || bail "no https listener"
S="https://localhost:$HTTPS_PORT"
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$P/ca.pem" "$S/s/$tok")
is "$st" 401 "the token URL alone is refused on a digest tenant"

st=$(register_with good "https://$mac:$HP@localhost:$HTTPS_PORT/s/$tok" "$P/ca.pem")
like "$st" '^registered, identity=.*lin1@example.test' "linphonec fetched over HTTPS with digest credentials and registered ($st)"
grep -q "\"GET /s/<redacted>\" 200 .*\"\\(Unknown\\|Linphone\\)" "$T/access.log"; ok $? "the access log shows linphonec's authenticated 200"
grep -q "\"GET /s/<redacted>\" 401 " "$T/access.log"; ok $? "after a digest challenge (401) first"

st=$(register_with badpw "https://$mac:wrongpassword@localhost:$HTTPS_PORT/s/$tok" "$P/ca.pem")
unlike "$st" '^registered,' "with a wrong HTTP password linphonec gets no config and does not register ($st)"
grep -q "wrong digest response for user '$mac'" "$SIPPROVD_LOG"; ok $? "the daemon logs the wrong digest response"

n200=$(grep -c "\"GET /s/<redacted>\" 200 " "$T/access.log")
st=$(register_with untrusted "https://$mac:$HP@localhost:$HTTPS_PORT/s/$tok" "$P/vendor.pem")
unlike "$st" '^registered,' "a linphonec that does not trust the server's CA gets no config ($st)"
is "$(grep -c "\"GET /s/<redacted>\" 200 " "$T/access.log")" "$n200" "and no config was served to it"
done_testing
