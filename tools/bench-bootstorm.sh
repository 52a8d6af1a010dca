#!/bin/sh
# A boot storm: PHONES Yealink phones each doing what it does at boot, one
# connection per request: the common file, its MAC file (401 digest
# challenge), the MAC file again with the MD5 response computed from the
# real nonce (tests/bench/bootstorm.c; a 401 stale=true is answered once
# more, as phones do).  Over HTTP, HTTPS (RSA-2048, full handshakes) and
# HTTPS with each phone resuming its first connection's TLS session on the
# next two (both servers resume), the same for phones that speak TLS 1.2 at
# most (a session ticket, no key exchange), against nginx serving the same files,
# same requests per phone, no auth (the limit).  Each storm meets a freshly started sipprovd, so every MAC
# file misses the render cache, as in a real storm.  Reported as phones
# provisioned per second, the fleet's time, boot latency, and sipprovd's
# peak RSS.  ROUNDS (default 3) storms per server and protocol, alternating;
# the ratio is nginx's fleet time over sipprovd's, each summed over them.
# PROTOS picks the storms (default: http https https-resumed
# https-tls12-resumed); a 1,000,000-phone fleet, HTTP only:
#   PHONES=1000000 ROUNDS=1 PROTOS=http make bench-bootstorm
# SP_OPTS: more sipprovd options (e.g. "-o render_cache_disk=0" for an A/B).
# --pg: on a throwaway PostgreSQL cluster (tools/bench.sh --pg passes its
# own in SP_BENCH_PG instead); --pg-cpu=N: with the server alone on CPU N.
# make bench-bootstorm.
set -eu
PG= PG_CPU_ARG=
for a in "$@"; do
	case $a in
	--pg) PG=1 ;;
	--pg-cpu=*) PG=1; PG_CPU_ARG=${a#--pg-cpu=} ;;
	*) echo "usage: tools/bench-bootstorm.sh [--pg | --pg-cpu=N]"; exit 2 ;;
	esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${SP_BUILD:=$ROOT/build}"
PHONES=${PHONES:-10000}
PROTOS=${PROTOS:-http https https-resumed https-tls12-resumed}
THREADS=${THREADS:-64}
ROUNDS=${ROUNDS:-3}
for c in nginx openssl curl python3 bc cc; do
	command -v $c >/dev/null || { echo "bench needs $c: tools/install-deps.sh --test"; exit 1; }
done
W=$(mktemp -d /tmp/sipprov-storm.XXXXXX)
chmod 755 "$W"
cleanup() { [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
. "$ROOT/tools/benchdb.sh"
[ -z "$PG" ] || bench_pg_start "$PG_CPU_ARG"
P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port); P5=$(free_port); P6=$(free_port)
cc -std=c11 -D_GNU_SOURCE -O2 -o "$W/bootstorm" "$ROOT/tests/bench/bootstorm.c" -lssl -lcrypto -lpthread
DB=$(bench_db storm)
export SIPPROV_TEMPLATES="$ROOT/templates" SIPPROV_DB="$DB" SIPPROV_KEY_FILE="$W/storm.key"
"$SP_BUILD/sipprov" init >/dev/null
"$SP_BUILD/sipprov" demo --devices $((2 * PHONES)) --http-password stormpw >/dev/null   # even ones are Yealink
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/k.pem" -out "$W/c.pem" -days 2 -subj /CN=localhost >/dev/null 2>&1
# A fresh sipprovd for each storm: its render cache starts empty, as after
# a real power cut (a warm cache would serve every phone from memory).
RSS_PEAK=0
DROPPED=0
start_sp() {
	if [ -n "${SPID:-}" ]; then
		r=$(awk '/VmHWM/ {print $2}' /proc/$SPID/status)
		[ "$r" -gt "$RSS_PEAK" ] && RSS_PEAK=$r
		kill "$SPID"; wait "$SPID" 2>/dev/null || true
	fi
	"$SP_BUILD/sipprovd" -d -o database="$DB" -o key_file="$W/storm.key" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:$P1 \
		-o https_listen=127.0.0.1:$P3 -o tls_cert="$W/c.pem" -o tls_key="$W/k.pem" -o hep_listen= -o admin_listen=127.0.0.1:$P6 \
		-o access_log= -o per_ip_conn_limit=0 -o fail_threshold=1000000 -o log_level=warn \
		$(bench_copy_opt "$W/copy.db") ${SP_OPTS:-} 2>>"$W/sipprovd.log" &
	SPID=$!
	for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$P1/healthz" >/dev/null && break; sleep 0.05; done
	bench_copy_wait "$P6"
}
start_sp
# The same bytes for nginx: each phone's files fetched through sipprovd
# with its digest, by the storm client itself (a storm of its own).
mkdir -p "$W/www"
"$W/bootstorm" 127.0.0.1 "$P1" "$PHONES" "$THREADS" '0015%08x' stormpw y000000000000.cfg '{mac}.cfg' \
	--save "$W/www" >/dev/null || { echo "bench: the files for nginx could not be fetched"; exit 1; }
chmod -R a+rX "$W/www"
cat >"$W/nginx.conf" <<NGX
worker_processes $(nproc);
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; default_type text/plain;
  server { listen 127.0.0.1:$P2; root $W/www; }
  # nginx 1.22 offers TLS 1.2 at most unless told: both servers on the
  # same protocol, or the ratio compares TLS 1.3 against TLS 1.2.
  server { listen 127.0.0.1:$P4 ssl; root $W/www; ssl_certificate $W/c.pem; ssl_certificate_key $W/k.pem;
           ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off; ssl_session_tickets off; }
  server { listen 127.0.0.1:$P5 ssl; root $W/www; ssl_certificate $W/c.pem; ssl_certificate_key $W/k.pem;
           ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m; ssl_session_tickets on; }
}
NGX
nginx -c "$W/nginx.conf" -p "$W" -g "daemon on;"
sleep 0.3
storm() { "$W/bootstorm" 127.0.0.1 "$1" "$PHONES" "$THREADS" '0015%08x' stormpw y000000000000.cfg '{mac}.cfg' $2; }
field() { echo "$1" | tr ' ' '\n' | sed -n "/^$2\$/{n;p}"; }
echo "database: $(bench_backend)"
echo "boot storm: $PHONES Yealink phones, $THREADS at a time, 3 requests each (common, MAC 401, MAC with digest)"
printf '%-20s %-10s %10s %10s %8s %10s %10s %8s %8s %8s\n' proto server phones/s fleet_s failed p50_ms p99_ms retries resumed tls
for proto in $PROTOS; do
	case $proto in
	http) a=$P1; b=$P2; f="" ;;
	https) a=$P3; b=$P4; f=--tls ;;
	https-resumed) a=$P3; b=$P5; f="--tls --resume" ;;
	*) a=$P3; b=$P5; f="--tls --tls12 --resume" ;;
	esac
	# ROUNDS storms per server, alternating (a fresh sipprovd each): one
	# storm lasts a second or two, and this VM's speed drifts by tens of
	# percent within minutes.  The ratio is of the fleet times summed.
	ta=0; tb=0; same=yes
	for _ in $(seq 1 "$ROUNDS"); do
		start_sp
		sa=$(storm "$a" "$f" || true)
		# fetch_log rows the writer sampled out under the storm (history
		# only: each device's last fetch is always written).
		DROPPED=$((DROPPED + $(bench_counters "$P6" sipprov_fetch_log_dropped_total)))
		sb=$(storm "$b" "$f --no-auth" || true)
		for s in "sipprovd:$sa" "nginx:$sb"; do
			r=${s#*:}
			printf '%-20s %-10s %10s %10s %8s %10s %10s %8s %8s %8s\n' $proto "${s%%:*}" "$(field "$r" phones_per_s)" \
				"$(field "$r" seconds)" "$(field "$r" failed)" "$(field "$r" boot_p50_ms)" "$(field "$r" boot_p99_ms)" \
				"$(field "$r" stale_retries)" "$(field "$r" resumed)" "$(field "$r" tls_version)"
		done
		[ "$(field "$sa" tls_version)" = "$(field "$sb" tls_version)" ] || same=no
		ta=$(echo "$ta + $(field "$sa" seconds)" | bc); tb=$(echo "$tb + $(field "$sb" seconds)" | bc)
	done
	[ $same = yes ] || { echo "bench: sipprovd and nginx chose different TLS versions: no ratio"; continue; }
	echo "$proto ratio (phones/s): $(echo "scale=2; $tb / $ta" | bc) (fleet $(echo "scale=2; $ta / $ROUNDS" | bc) s" \
		"against $(echo "scale=2; $tb / $ROUNDS" | bc) s, mean of $ROUNDS alternating)"
done
r=$(awk '/VmHWM/ {print $2}' /proc/$SPID/status); [ "$r" -gt "$RSS_PEAK" ] && RSS_PEAK=$r
echo "sipprovd peak RSS: $RSS_PEAK kB (each storm starts a fresh sipprovd: every fetch misses the render cache)"
echo "fetch_log rows sampled out in sipprovd's storms: $DROPPED"
