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

# Kamailio on the first free port of 28060-28099 (this test's range).
port_free() { python3 -c "import socket,sys
for t in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s=socket.socket(socket.AF_INET,t); s.bind(('127.0.0.1',$1)); s.close()" 2>/dev/null; }
KAM_PORT=""
for p in $(seq 28060 28099); do port_free "$p" && { KAM_PORT=$p; break; }; done
[ -n "$KAM_PORT" ] || bail "no free port in 28060-28099 for kamailio"
HEP_PORT=""
for p in $(seq 28100 28199); do port_free "$p" && { HEP_PORT=$p; break; }; done
KAM_DIR="$T/kam"; mkdir -p "$KAM_DIR"
sqlite3 "$KAM_DIR/kam.db" < /usr/share/kamailio/db_sqlite/standard-create.sql
sqlite3 "$KAM_DIR/kam.db" < /usr/share/kamailio/db_sqlite/auth_db-create.sql
sqlite3 "$KAM_DIR/kam.db" "INSERT INTO subscriber(username,domain,password,ha1,ha1b) VALUES ('lin1auth','example.test','$(printf %s "$PASS" | sed "s/'/''/g")','','')"
sed -e "s|@DIR@|$KAM_DIR|g" -e "s|@PORT@|$KAM_PORT|g" -e "s|@HEP@|$HEP_PORT|g" \
	"$ROOT/tests/peers/kamailio.cfg.in" > "$KAM_DIR/kamailio.cfg"
kamailio -f "$KAM_DIR/kamailio.cfg" -P "$KAM_DIR/kam.pid" -E >"$KAM_DIR/kam.log" 2>&1
for _ in $(seq 1 100); do [ -s "$KAM_DIR/kam.pid" ] && break; sleep 0.05; done
[ -s "$KAM_DIR/kam.pid" ] || { sed 's/^/# kamailio: /' "$KAM_DIR/kam.log" | tail -20; bail "kamailio did not start"; }
track_pid "$(cat "$KAM_DIR/kam.pid")"
sleep 0.3

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
