#!/bin/sh
# Firmware downloads: sipprovd against nginx serving the same 30 MB image
# from the same disk, 100 connections each fetching it over and over
# (wrk, keep-alive), alternating the two servers ROUNDS times; then FULL
# (100) concurrent complete downloads (curl, one connection each, every
# answer checked 200 and 30 MB), alternating FULL_ROUNDS times; reported as
# throughput and ratio, with sipprovd's peak RSS.  make bench-firmware.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${SP_BUILD:=$ROOT/build}"
DUR=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-100}
FULL=${FULL:-100}
FULL_ROUNDS=${FULL_ROUNDS:-3}
for c in wrk nginx curl python3 bc; do
	command -v $c >/dev/null || { echo "bench needs $c: tools/install-deps.sh --test"; exit 1; }
done
W=$(mktemp -d /tmp/sipprov-fwbench.XXXXXX)
chmod 755 "$W"
cleanup() { [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
. "$ROOT/tools/benchdb.sh"   # free_port
P1=$(free_port); P2=$(free_port)
export SIPPROV_TEMPLATES="$ROOT/templates" SIPPROV_DB="$W/sp.db"
"$SP_BUILD/sipprov" init >/dev/null
head -c 31457280 /dev/urandom >"$W/fw.rom"
SHA=$(sha256sum <"$W/fw.rom" | cut -d' ' -f1)
"$SP_BUILD/sipprov" firmware add "$W/fw.rom" --vendor yealink --model T46S --version 1 >/dev/null
mkdir -p "$W/www/fw/$SHA" && cp "$W/fw.rom" "$W/www/fw/$SHA/fw.rom" && chmod -R a+rX "$W/www"
"$SP_BUILD/sipprovd" -d -o database="$W/sp.db" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:$P1 \
	-o hep_listen= -o admin_listen= -o access_log= -o per_ip_conn_limit=0 -o conn_limit=4096 -o log_level=warn \
	2>>"$W/sipprovd.log" &
SPID=$!
cat >"$W/nginx.conf" <<NGX
worker_processes $(nproc);
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; server { listen 127.0.0.1:$P2; root $W/www; } }
NGX
nginx -c "$W/nginx.conf" -p "$W" -g "daemon on;"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$P1/healthz" >/dev/null && break; sleep 0.05; done
U1="http://127.0.0.1:$P1/fw/$SHA/fw.rom"; U2="http://127.0.0.1:$P2/fw/$SHA/fw.rom"
[ "$(curl -fs "$U1" | sha256sum | cut -d' ' -f1)" = "$SHA" ] || { echo "sipprovd does not serve the image"; exit 1; }
[ "$(curl -fs "$U2" | sha256sum | cut -d' ' -f1)" = "$SHA" ] || { echo "nginx does not serve the image"; exit 1; }
mbps() { wrk -t2 -c"$CONNS" -d"${DUR}s" "$1" 2>&1 | awk '/Transfer\/sec/ {v=$2; u=substr(v,length(v)-1); n=v+0;
	if (u=="GB") n*=1024; else if (u=="KB") n/=1024; print n}'; }
sa=0; sb=0; i=0
while [ $i -lt "$ROUNDS" ]; do
	sa=$(echo "$sa + $(mbps "$U1")" | bc); sb=$(echo "$sb + $(mbps "$U2")" | bc); i=$((i + 1))
done
if [ "$ROUNDS" -gt 0 ]; then
	a=$(echo "scale=1; $sa / $ROUNDS" | bc); b=$(echo "scale=1; $sb / $ROUNDS" | bc)
	echo "firmware, 30 MB image, $CONNS connections, ${DUR}s x $ROUNDS rounds"
	printf '%-12s %10s MB/s\n%-12s %10s MB/s\nratio %s\n' sipprovd "$a" nginx "$b" "$(echo "scale=2; $a / $b" | bc)"
fi
# FULL downloads at once, each its own connection and the whole file: wall
# time from the first start to the last byte; MB/s = FULL * 30 / seconds.
full() {
	t0=$(date +%s.%N)
	seq "$FULL" | xargs -P "$FULL" -I{} curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "$1" >"$W/full.out"
	t1=$(date +%s.%N)
	good=$(grep -c '^200 31457280$' "$W/full.out" || true)
	[ "$good" -eq "$FULL" ] || { echo "only $good of $FULL downloads from $1 complete" >&2; exit 1; }
	echo "scale=1; $FULL * 30 / ($t1 - $t0)" | bc
}
if [ "$FULL_ROUNDS" -gt 0 ]; then
	fa=0; fb=0; i=0
	while [ $i -lt "$FULL_ROUNDS" ]; do
		fa=$(echo "$fa + $(full "$U1")" | bc); fb=$(echo "$fb + $(full "$U2")" | bc); i=$((i + 1))
	done
	a=$(echo "scale=1; $fa / $FULL_ROUNDS" | bc); b=$(echo "scale=1; $fb / $FULL_ROUNDS" | bc)
	echo "firmware, $FULL concurrent complete downloads of the 30 MB image, $FULL_ROUNDS rounds"
	printf '%-12s %10s MB/s\n%-12s %10s MB/s\nratio %s\n' sipprovd "$a" nginx "$b" "$(echo "scale=2; $a / $b" | bc)"
fi
echo "sipprovd peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$SPID/status)"
