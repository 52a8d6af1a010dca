#!/bin/sh
# Issue 18's decision data: http_listen served by libmicrohttpd
# (phone_server=mhd) against sipprovd's own listener (phone_server=own,
# server/daemon/phone_listen.c) against nginx serving the same files, all
# three in one run, plain HTTP only: keep-alive, one connection per request
# (cache hits), and the boot storm (common file, MAC 401, MAC with digest;
# a fresh sipprovd per storm so every MAC file misses the render cache).
# Each case alternates the three servers ROUNDS times and reports means
# (this VM's speed drifts, so only ratios within one run compare).
# DEVICES (2000), SECONDS_PER_RUN (3), ROUNDS (2), PHONES (1000),
# THREADS (CPUs), STORM_THREADS (64).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${SP_BUILD:=$ROOT/build}"
DEVICES=${DEVICES:-2000}
DUR=${SECONDS_PER_RUN:-3}
ROUNDS=${ROUNDS:-2}
PHONES=${PHONES:-1000}
THREADS=${THREADS:-$(nproc)}
STORM_THREADS=${STORM_THREADS:-64}
for c in wrk nginx curl python3 bc cc; do
	command -v $c >/dev/null || { echo "bench needs $c: tools/install-deps.sh --test"; exit 1; }
done
W=$(mktemp -d /tmp/sipprov-benchl.XXXXXX)
chmod 755 "$W"
PIDS=
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; sleep 0.5; rm -rf "$W"; }
trap cleanup EXIT
. "$ROOT/tools/benchdb.sh"
PM=$(free_port); PO=$(free_port); PN=$(free_port)
# Two databases: wrk's fleet served without auth on loopback (bench.sh's),
# the storm's with each phone's digest password (bench-bootstorm.sh's).
DB=$(bench_db sp)
SDB=$(bench_db storm)
export SIPPROV_TEMPLATES="$ROOT/templates"
SIPPROV_DB="$DB" SIPPROV_KEY_FILE="$W/sp.key" "$SP_BUILD/sipprov" init >/dev/null
SIPPROV_DB="$DB" SIPPROV_KEY_FILE="$W/sp.key" "$SP_BUILD/sipprov" demo --devices "$DEVICES" >/dev/null
SIPPROV_DB="$SDB" SIPPROV_KEY_FILE="$W/storm.key" "$SP_BUILD/sipprov" init >/dev/null
SIPPROV_DB="$SDB" SIPPROV_KEY_FILE="$W/storm.key" "$SP_BUILD/sipprov" demo --devices $((2 * PHONES)) \
	--http-password stormpw >/dev/null
cc -std=c11 -D_GNU_SOURCE -O2 -o "$W/bootstorm" "$ROOT/tests/bench/bootstorm.c" -lssl -lcrypto -lpthread

# sp MODE PORT [DB KEY]: a fresh sipprovd; its pid in SP_<MODE>.
sp() {
	eval "old=\${SP_$1:-}"
	[ -n "$old" ] && { kill "$old"; wait "$old" 2>/dev/null || true; }
	"$SP_BUILD/sipprovd" -d -o database="${3:-$DB}" -o key_file="${4:-$W/sp.key}" -o templates="$ROOT/templates" \
		-o http_listen=127.0.0.1:$2 -o hep_listen= -o admin_listen= -o access_log= -o insecure_loopback=yes \
		-o threads="$THREADS" -o per_ip_conn_limit=0 -o fail_threshold=1000000 -o log_level=warn \
		-o phone_server="$1" 2>>"$W/sipprovd.log" &
	eval "SP_$1=$!"
	PIDS="$PIDS $!"
	for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$2/healthz" >/dev/null && break; sleep 0.05; done
}
sp mhd "$PM"
sp own "$PO" "$SDB" "$W/storm.key"
mkdir -p "$W/www"
# The same bytes for nginx, fetched through sipprovd (JSON without auth on
# loopback; Yealink files with each phone's digest).
python3 - "$PM" "$DEVICES" "$PHONES" "$W/www" "$PO" <<'PY'
import hashlib, http.client, re, sys
port, n, phones, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
c = http.client.HTTPConnection("127.0.0.1", port)
def get(path, auth=None):
    c.request("GET", path, headers={"Authorization": auth} if auth else {})
    r = c.getresponse(); return r, r.read()
for i in range(1, n, 2):
    path = "/0015%08x.json" % (0x10000000 + i)
    r, body = get(path)
    if r.status != 200: sys.exit("prerender %s: %d" % (path, r.status))
    open(out + path, "wb").write(body)
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[5]))   # the storm's database
r, body = get("/y000000000000.cfg"); open(out + "/y000000000000.cfg", "wb").write(body)
for i in range(phones):
    mac = "0015%08x" % (0x10000000 + 2 * i); path = "/%s.cfg" % mac
    r, body = get(path)
    for attempt in range(3):
        if r.status == 200: break
        nonce = re.search(r'nonce="([^"]+)"', r.getheader("WWW-Authenticate")).group(1)
        resp = md5("%s:%s:00000001:c0ffee:auth:%s" % (md5(mac + ":sipprov:stormpw"), nonce, md5("GET:" + path)))
        r, body = get(path, 'Digest username="%s", realm="sipprov", nonce="%s", uri="%s", response="%s", '
                      'qop=auth, nc=00000001, cnonce="c0ffee"' % (mac, nonce, path, resp))
    if r.status != 200: sys.exit("prerender %s: %d" % (path, r.status))
    open(out + path, "wb").write(body)
PY
chmod -R a+rX "$W/www"
cat >"$W/nginx.conf" <<NGX
worker_processes $THREADS;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  default_type application/json;
  server { listen 127.0.0.1:$PN; root $W/www; add_header Cache-Control no-store; }
}
NGX
nginx -c "$W/nginx.conf" -p "$W" -g "daemon on;"
sleep 0.3
one=$(ls "$W/www" | grep json | head -1)
sp own "$PO"
for p in $PM $PO; do
	curl -fs "http://127.0.0.1:$p/$one" | cmp -s - "$W/www/$one" || { echo "bench: bodies differ on port $p"; exit 1; }
done

run() { # run URL CLOSE -> requests/s
	DEVICES=$DEVICES CLOSE=$2 wrk -t2 -c50 -d"${DUR}s" -s "$ROOT/tests/bench/rand.lua" "$1" 2>&1 |
		awk '/Requests\/sec/ {r=$2} /Non-2xx/ {bad=$NF} /Socket errors/ {print "wrk: " $0 > "/dev/stderr"} END {if (bad) print "error: " bad " non-2xx responses" > "/dev/stderr"; print r}'
}
storm() { "$W/bootstorm" 127.0.0.1 "$1" "$PHONES" "$STORM_THREADS" '0015%08x' stormpw y000000000000.cfg '{mac}.cfg' $2; }
field() { echo "$1" | tr ' ' '\n' | sed -n "/^$2\$/{n;p}"; }
r2() { echo "scale=2; $1 / $2" | bc; }
echo "bench-listener: $DEVICES devices, $PHONES storm phones, $THREADS server threads, $ROUNDS x ${DUR}s alternating runs, $(nproc) CPUs shared with the client"
echo "database: $(bench_backend); $(uptime)"
printf '%-28s %10s %10s %10s %9s %9s\n' case mhd/s own/s nginx/s mhd/nginx own/nginx
for c in "keep-alive:0" "one connection per request:1"; do
	m=0; o=0; n=0; i=0
	while [ $i -lt "$ROUNDS" ]; do
		m=$(echo "$m + $(run "http://127.0.0.1:$PM/" "${c#*:}")" | bc)
		o=$(echo "$o + $(run "http://127.0.0.1:$PO/" "${c#*:}")" | bc)
		n=$(echo "$n + $(run "http://127.0.0.1:$PN/" "${c#*:}")" | bc)
		i=$((i + 1))
	done
	m=$(echo "$m / $ROUNDS" | bc); o=$(echo "$o / $ROUNDS" | bc); n=$(echo "$n / $ROUNDS" | bc)
	printf '%-28s %10.0f %10.0f %10.0f %9s %9s\n' "${c%:*}" "$m" "$o" "$n" "$(r2 "$m" "$n")" "$(r2 "$o" "$n")"
done
# Boot storms: phones/s, each sipprovd freshly started (cold render cache).
m=0; o=0; n=0; i=0; fails=""
while [ $i -lt "$ROUNDS" ]; do
	sp mhd "$PM" "$SDB" "$W/storm.key"; s=$(storm "$PM" "" || true); m=$(echo "$m + $(field "$s" phones_per_s)" | bc)
	fails="$fails mhd:$(field "$s" failed)"
	sp own "$PO" "$SDB" "$W/storm.key"; s=$(storm "$PO" "" || true); o=$(echo "$o + $(field "$s" phones_per_s)" | bc)
	fails="$fails own:$(field "$s" failed)"
	s=$(storm "$PN" "--no-auth" || true); n=$(echo "$n + $(field "$s" phones_per_s)" | bc)
	fails="$fails nginx:$(field "$s" failed)"
	i=$((i + 1))
done
m=$(echo "$m / $ROUNDS" | bc); o=$(echo "$o / $ROUNDS" | bc); n=$(echo "$n / $ROUNDS" | bc)
printf '%-28s %10.0f %10.0f %10.0f %9s %9s\n' "boot storm (phones/s)" "$m" "$o" "$n" "$(r2 "$m" "$n")" "$(r2 "$o" "$n")"
echo "storm failures:$fails"
echo "peak RSS kB: mhd $(awk '/VmHWM/ {print $2}' /proc/$SP_mhd/status), own $(awk '/VmHWM/ {print $2}' /proc/$SP_own/status)"
echo "$(uptime)"
