#!/bin/sh
# Behind a real nginx (private config, free loopback port): with
# trusted_proxies the client nginx names in X-Forwarded-For is the one
# locked out, allowlisted and logged.  21 bad fetches from 127.0.0.2
# through nginx lock out 127.0.0.2 only; 127.0.0.3 behind the same nginx
# is still served; a forged X-Forwarded-For does not escape the lockout;
# the header is ignored from a source that is not a trusted proxy.
. "$(dirname "$0")/../lib.sh"
need curl nginx

sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp template set acme main registrar=example.test >/dev/null
sp tenant set acme --default-template main >/dev/null
sp device add 001565000001 --tenant acme --layout yealink >/dev/null
sp account add 001565000001 --username u1 --auth-username a1 --password 'pw-one' >/dev/null
HP=$(sp device credentials 001565000001 | sed -n 's/^  password: *//p')
sp tenant add lan --device-auth digest --allow 127.0.0.3/32 >/dev/null
sp template set lan main registrar=example.test >/dev/null
sp tenant set lan --default-template main >/dev/null
sp device add 001565000002 --tenant lan --layout yealink >/dev/null
sp account add 001565000002 --username u2 --auth-username a2 --password 'pw-two' >/dev/null
HP2=$(sp device credentials 001565000002 | sed -n 's/^  password: *//p')

start_sipprovd -o trusted_proxies=127.0.0.1/32 -o fail_threshold=20 -o fail_window=60 -o lockout_seconds=300

NG="$T/nginx"; mkdir -p "$NG/logs"
NPORT=$(free_port)
cat > "$NG/nginx.conf" <<CONF
worker_processes 1;
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $NG/body;
	proxy_temp_path $NG/proxy;
	fastcgi_temp_path $NG/fcgi;
	uwsgi_temp_path $NG/uwsgi;
	scgi_temp_path $NG/scgi;
	server {
		listen 127.0.0.1:$NPORT;
		location / {
			proxy_pass http://127.0.0.1:$PORT;
			proxy_bind 127.0.0.1;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		}
	}
}
CONF
nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" -g 'daemon off;' &
track_pid $!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$NPORT/healthz" && break; sleep 0.05; done
NURL="http://127.0.0.1:$NPORT"
c() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

is "$(c --interface 127.0.0.3 --digest -u "001565000001:$HP" "$NURL/001565000001.cfg")" 200 "through nginx: a device is served"
codes=""
for i in $(seq 1 21); do codes="$codes $(c --interface 127.0.0.2 "$NURL/00156500ff$(printf %02d "$i").cfg")"; done
like "$codes" ' 429$' "21 bad fetches from 127.0.0.2 through nginx: locked out ($codes)"
is "$(c --interface 127.0.0.2 --digest -u "001565000001:$HP" "$NURL/001565000001.cfg")" 429 \
	"127.0.0.2 stays locked out, good credentials or not"
is "$(c --interface 127.0.0.2 -H 'X-Forwarded-For: 198.51.100.7' --digest -u "001565000001:$HP" "$NURL/001565000001.cfg")" 429 \
	"a forged X-Forwarded-For does not escape the lockout (nginx appends the real address)"
is "$(c --interface 127.0.0.3 --digest -u "001565000001:$HP" "$NURL/001565000001.cfg")" 200 \
	"127.0.0.3 behind the same nginx is still served"
grep -q "lockout: too many failed fetches ip=127.0.0.2$" "$SIPPROVD_LOG"; ok $? "the daemon log names the client, not nginx"
grep -q "lockout: .* ip=127.0.0.1$" "$SIPPROVD_LOG"; ok $((! $?)) "nginx itself is never locked out"
grep -q '^[^ ]* 127.0.0.3 "GET /001565000001.cfg" 200 ' "$T/access.log"; ok $? "the access log names the client behind nginx"

is "$(c --interface 127.0.0.3 --digest -u "001565000002:$HP2" "$NURL/001565000002.cfg")" 200 \
	"tenant allowlist 127.0.0.3/32: the client behind nginx matches it"
is "$(c --interface 127.0.0.4 --digest -u "001565000002:$HP2" "$NURL/001565000002.cfg")" 401 \
	"and 127.0.0.4 behind the same nginx does not"

# Direct, from a source that is no trusted proxy: the header means nothing.
is "$(c --interface 127.0.0.5 -H 'X-Forwarded-For: 127.0.0.3' --digest -u "001565000002:$HP2" "$URL/001565000002.cfg")" 401 \
	"X-Forwarded-For from an untrusted source is ignored"
is "$(c --interface 127.0.0.5 -H 'Forwarded: for=127.0.0.3' --digest -u "001565000002:$HP2" "$URL/001565000002.cfg")" 401 \
	"so is Forwarded"
# From the trusted address directly, RFC 7239 Forwarded names the client.
is "$(c --interface 127.0.0.1 -H 'Forwarded: for="127.0.0.3:4711";proto=http' --digest -u "001565000002:$HP2" "$URL/001565000002.cfg")" 200 \
	"Forwarded: for=\"127.0.0.3:4711\" from the trusted proxy names the client"
is "$(c --interface 127.0.0.1 -H 'X-Forwarded-For: 127.0.0.3, garbage' --digest -u "001565000002:$HP2" "$URL/001565000002.cfg")" 401 \
	"an element that does not parse stops the walk (the client is the proxy itself)"
done_testing
