#!/bin/sh
# /metrics lives on the admin listener (admin_listen), never on the phone
# listener, where it is an unknown path byte for byte.  There it needs no
# token: metrics_allow still guards it, so only those sources (default
# loopback) read it; any other source gets the admin listener's 404 for an
# unknown resource, byte for byte.  Bad CIDR lists and insecure_loopback with trusted_proxies
# stop the daemon at start with the key named.
. "$(dirname "$0")/../lib.sh"
need curl

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 0015654aa937 --tenant open --layout yealink >/dev/null
TOK=$(sp api-token add t49 2>/dev/null)

get() { # get NAME SOURCE URL [curl args]: status to $st, headers+body to $T/NAME
	n=$1 src=$2 u=$3; shift 3
	st=$(curl -s -D "$T/$n.h" -o "$T/$n.b" -w '%{http_code}' --interface "$src" "$@" "$u")
	set -- "$n"
	sed -e '/^Date:/d' "$T/$1.h" "$T/$1.b" > "$T/$1"
}

start_sipprovd
curl -s -o /dev/null "$URL/0015654aa937.cfg"
get m1 127.0.0.1 "$ADMIN_URL/metrics"
is "$st" 200 "default: loopback reads /metrics on the admin listener, no token needed"
grep -q '^sipprov_' "$T/m1.b"; ok $? "and gets the counters"
grep -q 'sipprov_http_requests_total{route="device",code="200"} 1' "$T/m1.b"; ok $? "counting the phone listener's requests"
get p1 127.0.0.1 "$URL/metrics"
is "$st" 404 "the phone listener does not serve /metrics, even to loopback"
get p2 127.0.0.1 "$URL/nothing-here"
cmp -s "$T/p1" "$T/p2"; ok $? "there it is an unknown path, byte for byte"
stop_sipprovd

start_sipprovd -o metrics_allow=127.0.0.2/32,::1
get m2 127.0.0.2 "$ADMIN_URL/metrics"
is "$st" 200 "metrics_allow=127.0.0.2/32: 127.0.0.2 reads /metrics"
get m3 127.0.0.1 "$ADMIN_URL/metrics"
is "$st" 404 "127.0.0.1 (not listed): 404"
get u3 127.0.0.1 "$ADMIN_URL/api/v1/nothing-here" -H "Authorization: Bearer $TOK"
is "$st" 404 "an unknown API resource (with a token) is 404"
cmp -s "$T/m3" "$T/u3"; ok $? "the same headers and body as that unknown resource"
grep -q 'sipprov_' "$T/m3.b"; ok $((! $?)) "no counter in it"
get m3b 127.0.0.1 "$ADMIN_URL/metrics" -H "Authorization: Bearer $TOK"
is "$st" 404 "a token does not open /metrics to an unlisted source: metrics_allow decides"
stop_sipprovd

start_sipprovd -o metrics_allow=
get m4 127.0.0.1 "$ADMIN_URL/metrics"
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
