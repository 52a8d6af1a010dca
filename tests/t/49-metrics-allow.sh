#!/bin/sh
# /metrics off the phone listener: only metrics_allow sources (default
# loopback) read it; any other source gets the 404 of an unknown path,
# byte for byte.  Bad CIDR lists and insecure_loopback with trusted_proxies
# stop the daemon at start with the key named.
. "$(dirname "$0")/../lib.sh"
need curl

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 0015654aa937 --tenant open --layout yealink >/dev/null

get() { # get NAME SOURCE PATH: status to $st, headers+body to $T/NAME
	st=$(curl -s -D "$T/$1.h" -o "$T/$1.b" -w '%{http_code}' --interface "$2" "$URL$3")
	sed -e '/^Date:/d' "$T/$1.h" "$T/$1.b" > "$T/$1"
}

start_sipprovd
curl -s -o /dev/null "$URL/0015654aa937.cfg"
get m1 127.0.0.1 /metrics
is "$st" 200 "default: loopback reads /metrics"
grep -q '^sipprov_' "$T/m1.b"; ok $? "and gets the counters"
stop_sipprovd

start_sipprovd -o metrics_allow=127.0.0.2/32,::1
get m2 127.0.0.2 /metrics
is "$st" 200 "metrics_allow=127.0.0.2/32: 127.0.0.2 reads /metrics"
get m3 127.0.0.1 /metrics
is "$st" 404 "127.0.0.1 (not listed): 404"
get u3 127.0.0.1 /nothing-here
cmp -s "$T/m3" "$T/u3"; ok $? "the same headers and body as an unknown path"
grep -q 'sipprov_' "$T/m3.b"; ok $((! $?)) "no counter in it"
stop_sipprovd

start_sipprovd -o metrics_allow=
get m4 127.0.0.1 /metrics
is "$st" 404 "metrics_allow empty: nobody"
stop_sipprovd

for bad in "metrics_allow=10.0.0.0/33" "trusted_proxies=not-an-address"; do
	"$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 -o hep_listen= \
		-o "$bad" > "$T/bad.log" 2>&1
	rc=$?
	ok $((rc == 0)) "$bad: the daemon refuses to start (exit $rc)"
	grep -q "'${bad%%=*}'" "$T/bad.log"; ok $? "and names the key"
done
"$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 -o hep_listen= \
	-o trusted_proxies=127.0.0.1 -o insecure_loopback=yes > "$T/bad.log" 2>&1
rc=$?
ok $((rc == 0)) "insecure_loopback with trusted_proxies: refused at start (exit $rc)"
grep -q "insecure_loopback cannot be used with trusted_proxies" "$T/bad.log"; ok $? "and says why"
done_testing
