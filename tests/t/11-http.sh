#!/bin/sh
# sipprovd over real HTTP on loopback: vendor routes, byte-identity with
# `sipprov render`, ETag / If-None-Match, Cache-Control, identical refusals,
# hostile paths (.., %00, overlong, garbage), fetch records, /healthz,
# /metrics, SIGHUP reload and a clean SIGTERM exit.
. "$(dirname "$0")/../lib.sh"
need curl sqlite3

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=sip.open.test server=10.0.0.5 port=5060 transport=udp >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 00:0B:82:8A:A8:72 --tenant open --layout grandstream --model GXP2135 >/dev/null
sp device add 00-15-65-4a-a9-37 --tenant open --layout yealink >/dev/null
sp device add 0004f2aabb01 --tenant open --layout json >/dev/null
sp account add 000b828aa872 --username 1001 --auth-username gs1001auth --password 'gs<&>"pw' --display-name "Ann <\"O'Brien\"> & Co ☎" >/dev/null
sp account add 0015654aa937 --username 1002 --auth-username yl1002auth --password 'ylpw' >/dev/null
sp account add 0004f2aabb01 --username 1003 --auth-username js1003auth --password 'j"s\pw' --display-name 'Zoë "Z" \ Ü' >/dev/null
sp tenant add closed --device-auth digest >/dev/null
sp template set closed main registrar=sip.closed.test >/dev/null
sp device add 001565000099 --tenant closed --layout yealink --template main >/dev/null
sp account add 001565000099 --username 2001 --auth-username cl2001auth --password 'closedpw' >/dev/null

start_sipprovd -o insecure_loopback=yes

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }

for p in cfg000b828aa872.xml cfg000b828aa872 0015654aa937.cfg 0015654aa937.boot 0004f2aabb01.json CFG000B828AA872.XML; do
	c=$(code "$URL/$p")
	case $p in
	CFG*) is "$c" 404 "$p: file names are matched as the vendors spell them" ;;
	*) is "$c" 200 "GET /$p" ;;
	esac
done
# Yealink's boot file: only the header line, comments and include:config
# naming the MAC file (Yealink auto-provisioning guide; FusionPBX t46s {$mac}.boot)
code "$URL/0015654aa937.boot" >/dev/null
is "$(head -1 "$T/body")" "#!version:1.0.0.1" "0015654aa937.boot: Yealink's first line"
is "$(grep -v '^#' "$T/body" | grep -v '^$')" 'include:config "0015654aa937.cfg"' \
	"0015654aa937.boot: nothing but include:config of 0015654aa937.cfg (no account, no password)"
hdr=$(curl -s -D - -o /dev/null "$URL/0015654aa937.boot")
like "$hdr" 'Content-Type: text/plain' "0015654aa937.boot: the layout's content type"
is "$(code "$URL/0015654aa937.BOOT")" 404 "0015654aa937.BOOT: file names are matched as the vendors spell them"
is "$(code "$URL/000b828aa872.boot")" 401 "a Grandstream device's MAC with Yealink's boot name: refused like any other layout mismatch" 
code "$URL/cfg000B828AA872.xml" >/dev/null
is "$(cat "$T/body")" "$(sp render 000b828aa872)" "MAC in any case in the file name, same bytes as 'sipprov render'"
for m in 000b828aa872:cfg000b828aa872.xml 0015654aa937:0015654aa937.cfg 0004f2aabb01:0004f2aabb01.json; do
	curl -s "$URL/${m#*:}" > "$T/http"; sp render "${m%%:*}" > "$T/cli"
	cmp -s "$T/http" "$T/cli"; ok $? "${m#*:} is byte-identical to 'sipprov render ${m%%:*}'"
done
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["lines"][0]["display_name"] if "lines" in d else "")' "$T/http" > "$T/dn"
is "$(cat "$T/dn")" 'Zoë "Z" \ Ü' "JSON keeps quotes, backslashes and UTF-8 as data"
curl -s "$URL/cfg000b828aa872.xml" > "$T/gs.xml"
python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T/gs.xml"; ok $? "Grandstream XML with <\"'& in values is well-formed"
grep -q 'open-main@v1' "$T/gs.xml"; ok $? "rendered file names its template version (open-main@v1)"

hdr=$(curl -s -D - -o /dev/null "$URL/0015654aa937.cfg")
like "$hdr" 'Cache-Control: no-store' "Cache-Control: no-store"
etag=$(echo "$hdr" | sed -n 's/^ETag: \(.*\)\r$/\1/p')
like "$etag" '^"[0-9a-f]{32}"$' "ETag is a digest of the body"
is "$(code -H "If-None-Match: $etag" "$URL/0015654aa937.cfg")" 304 "If-None-Match with the ETag gets 304"
is "$(code -H 'If-None-Match: "nope"' "$URL/0015654aa937.cfg")" 200 "a different ETag gets 200"
sp template set open main server=10.0.0.6 >/dev/null
sleep 0.05
is "$(code -H "If-None-Match: $etag" "$URL/0015654aa937.cfg")" 200 "after a template change the old ETag no longer matches"
grep -q '10.0.0.6' "$T/body"; ok $? "the new template version is served at once"
grep -q 'open-main@v2' "$T/body"; ok $? "and names v2"

# Refusals: unknown, disabled, suspended, wrong vendor, auth failure look identical.
unknown=$(curl -s -D "$T/h1" "$URL/001565ffffff.cfg")
sp device disable 000b828aa872 >/dev/null; sleep 0.05
disabled=$(curl -s -D "$T/h2" "$URL/cfg000b828aa872.xml")
sp device enable 000b828aa872 >/dev/null
vendor=$(curl -s -D "$T/h3" "$URL/cfg0015654aa937.xml")
noauth=$(curl -s -D "$T/h4" "$URL/001565000099.cfg")
sp tenant suspend open >/dev/null; sleep 0.05
suspended=$(curl -s -D "$T/h5" "$URL/0015654aa937.cfg")
sp tenant resume open >/dev/null; sleep 0.05
st() { head -1 "$1" | tr -d '\r'; }
for i in 2 3 4 5; do is "$(st "$T/h$i")" "$(st "$T/h1")" "refusal $i has the same status as an unknown MAC"; done
is "$disabled" "$unknown" "disabled device: same body as unknown"
is "$vendor" "$unknown" "file name of another vendor: same body as unknown"
is "$noauth" "$unknown" "no credentials: same body as unknown"
is "$suspended" "$unknown" "suspended tenant: same body as unknown"
unlike "$unknown$disabled$vendor$noauth$suspended" 'pw|closedpw' "no refusal leaks a password"
for why in "unknown device" "disabled" "layout" "suspended"; do
	grep -q "deny: .*$why.* ip=127.0.0.1 " "$SIPPROVD_LOG"; ok $? "the log says which refusal it was: $why"
done

# Hostile paths: a 4xx, never a crash, and the daemon keeps serving.
for p in '/../etc/passwd' '/0015654aa937.cfg%00' '/%2e%2e/0015654aa937.cfg' '/0015654aa937.cfg/' \
	 '//0015654aa937.cfg' '/0015654aa937.cfg.bak' '/00156' '/0015654aa937zz.cfg' '/s/' '/s/zz' \
	 "/s/$(printf 'a%.0s' $(seq 1 33))" '/cfg.xml' '/%00' '/0015654aa93g.cfg'; do
	c=$(code --path-as-is "$URL$p")
	ok $(case $c in 40[04]) echo 0;; *) echo 1;; esac) "GET $p -> $c"
done
long=$(python3 -c 'print("/" + "a" * 9000)')
c=$(code "$URL$long"); ok $(case $c in 4*) echo 0;; *) echo 1;; esac) "overlong URL (9000 bytes) -> $c"
c=$(code -X POST --data x "$URL/0015654aa937.cfg"); is "$c" 405 "POST to a device route is refused"
printf 'GARBAGE\r\n\r\n' | timeout 3 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.recv(100)' "$PORT" 2>/dev/null
printf '\000\001\002\377\r\n\r\n' | timeout 3 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.recv(100)' "$PORT" 2>/dev/null
is "$(code "$URL/0015654aa937.cfg")" 200 "after hostile requests the daemon still serves"

is "$(code "$URL/healthz")" 200 "/healthz"
m=$(curl -s "$ADMIN_URL/metrics")
like "$m" 'sipprov_http_requests_total\{route="device",code="200"\} [1-9]' "/metrics counts served configs"
like "$m" 'sipprov_auth_failures_total [1-9]' "/metrics counts refusals"

# Fetch records are written behind the responses: wait for them.
for _ in $(seq 1 400); do
	n=$(sql "select count(*) from fetch_log f join device d on d.id=f.device_id where d.mac='0015654aa937' and f.status in (200,304)")
	[ "$n" -ge 4 ] && break
	sleep 0.05
done
ok $([ "$n" -ge 4 ] && echo 0 || echo 1) "fetches are recorded in fetch_log ($n rows)"
row=$(sql "select fetched_ip, fetched_version, length(fetched_digest) from device join device_fetch on device_id = id where mac='0015654aa937'")
is "$row" "127.0.0.1|2|32" "device row keeps the last fetch: source IP, version, digest"
grep -q '"GET /0015654aa937.cfg" 200' "$T/access.log"; ok $? "one access-log line per request"

# SIGHUP reloads layouts; a broken layout is refused and the old set kept.
kill -HUP "$SIPPROVD_PID"; wait_log "$SIPPROVD_LOG" 'reloaded configuration'
nl=$(ls "$ROOT/templates" | grep -cv '\.md$')   # every layout file shipped
grep -q "reloaded configuration and $nl layouts" "$SIPPROVD_LOG"; ok $? "SIGHUP reloads the configuration and the $nl layouts"
stop_sipprovd
is "$SIPPROVD_RC" 0 "SIGTERM drains and exits 0"
grep -q 'sipprovd stopped' "$SIPPROVD_LOG"; ok $? "clean shutdown logged"

# SIGHUP re-reads the config file: live keys apply, others say 'restart'.
cat > "$T/d.conf" <<CONF
database = $DB
templates = $ROOT/templates
http_listen = 127.0.0.1:0
hep_listen =
access_log = $T/a1.log
insecure_loopback = yes
CONF
"$SIPPROVD" -d -f "$T/d.conf" -o admin_listen= > "$T/d.log" 2>&1 &
pid=$!; track_pid $pid
for _ in $(seq 1 100); do p=$(sed -n 's/^http listening on .* port \([0-9]*\)$/\1/p' "$T/d.log"); [ -n "$p" ] && break; sleep 0.05; done
curl -s -o /dev/null "http://127.0.0.1:$p/0015654aa937.cfg"
sed -i -e "s|a1.log|a2.log|" -e "s|^http_listen = .*|http_listen = 127.0.0.1:1|" "$T/d.conf"
kill -HUP $pid; wait_log "$T/d.log" 'reloaded configuration'
curl -s -o /dev/null "http://127.0.0.1:$p/0015654aa937.cfg"
grep -q '"GET /0015654aa937.cfg" 200' "$T/a1.log"; ok $? "access log before the reload in the first file"
grep -q '"GET /0015654aa937.cfg" 200' "$T/a2.log"; ok $? "after SIGHUP the access log follows the new access_log"
grep -q "reload: 'http_listen' changed; restart sipprovd to apply it" "$T/d.log"; ok $? "a key that needs a restart is named"
echo 'threads = many' >> "$T/d.conf"
kill -HUP $pid; wait_log "$T/d.log" 'reload refused'
grep -q "reload refused, keeping the running configuration: .*d.conf:7: 'threads'" "$T/d.log"; ok $? "a broken config file is refused with file:line and the old one kept"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/0015654aa937.cfg")" 200 "still serving after a refused reload"
kill -TERM $pid; wait $pid; ok $? "and exits 0 on SIGTERM"
done_testing
