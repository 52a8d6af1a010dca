#!/bin/sh
# Reloads under load: wrk fetches a device config and its vendor's common
# file while the layout on disk alternates between two variants and
# sipprovd gets SIGHUP 50 times.  Every response must be complete and be
# exactly one variant (body and Content-Type); the daemon must survive and
# no sanitizer may report (make asan / make tsan run this same script).
# Meanwhile unknown MACs are refused, so request threads log while SIGHUP
# re-runs log_init, and the last fetch comes just before SIGTERM, so the
# fetch-log writer is mid-batch when it is told to stop.
. "$(dirname "$0")/../lib.sh"
need curl wrk

MAC=0015654aa937
RELOADS=${RELOADS:-50}
mkdir -p "$T/tpl" "$T/stage" "$T/want"
cp "$ROOT"/templates/* "$T/tpl/"
# Variant b: its own Content-Type, one more line in the device body and in
# the common file.
cp "$ROOT/templates/yealink.cfg" "$T/stage/yealink.a"
sed -e 's|^content-type: .*|content-type: text/plain; charset=utf-8; variant=b|' \
	-e '/^## sipprov/a ## variant b' "$ROOT/templates/yealink.cfg" > "$T/stage/yealink.b"
printf 'text/plain; charset=utf-8' > "$T/want/ctype.a"
printf 'text/plain; charset=utf-8; variant=b' > "$T/want/ctype.b"
use() { cp "$T/stage/yealink.$1" "$T/stage/next.cfg" && mv "$T/stage/next.cfg" "$T/tpl/yealink.cfg"; }

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=sip.open.test >/dev/null
sp device add $MAC --tenant open --layout yealink >/dev/null
sp account add $MAC --username 1001 --auth-username auth1001 --password pw >/dev/null
export SIPPROV_TEMPLATES="$T/tpl"
start_sipprovd -o templates="$T/tpl" -o insecure_loopback=yes -o fail_threshold=100000 -o access_log=

reloads() { grep -c '^reloaded configuration' "$SIPPROVD_LOG"; }
# hup N: send SIGHUP and wait until the daemon logged its Nth reload.
hup() {
	kill -HUP "$SIPPROVD_PID"
	for _ in $(seq 1 500); do
		[ "$(reloads)" -ge "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# The two expected renders, from the daemon and checked against the CLI.
for v in a b; do
	use $v
	[ $v = b ] && { hup 1 || bail "first reload not logged"; }
	curl -s -D "$T/want/h.$v" -o "$T/want/dev.$v" "$URL/$MAC.cfg"
	curl -s -o "$T/want/common.$v" "$URL/y000000000044.cfg"
	sp render $MAC > "$T/cli.$v"
	cmp -s "$T/want/dev.$v" "$T/cli.$v"; ok $? "variant $v: served config is byte-identical to 'sipprov render'"
	like "$(tr -d '\r' < "$T/want/h.$v")" "Content-Type: $(cat "$T/want/ctype.$v")\$" "variant $v: its Content-Type"
done
cmp -s "$T/want/dev.a" "$T/want/dev.b"; ok $((!$?)) "the variants' configs differ"
cmp -s "$T/want/common.a" "$T/want/common.b"; ok $((!$?)) "the variants' common files differ"

wrk -t2 -c8 -d50s --timeout 5s -s "$ROOT/tests/peers/wrk_reload.lua" "$URL" -- \
	"/$MAC.cfg" "/y000000000044.cfg" "$T/want" > "$T/wrk.out" 2>&1 &
wrk_pid=$!
track_pid $wrk_pid
( while :; do curl -s -o /dev/null "$URL/0015ff000001.cfg"; sleep 0.01; done ) &
deny_pid=$!
track_pid $deny_pid
sleep 0.3
start=$(date +%s)
i=1 hung=0
# Bounded: wrk stops after 50 s whatever happens, and so does this loop.
while [ $i -le "$RELOADS" ] && [ $(($(date +%s) - start)) -lt 50 ]; do
	use $([ $((i % 2)) = 0 ] && echo b || echo a)
	hup $((i + 1)) || { hung=1; break; }
	sleep 0.05
	i=$((i + 1))
done
kill -INT $wrk_pid 2>/dev/null
wait $wrk_pid
kill $deny_pid; wait $deny_pid 2>/dev/null
secs=$(($(date +%s) - start))
diag "$RELOADS reloads in ${secs}s; $(grep -E 'Requests/sec|requests in' "$T/wrk.out" | tr -s ' \n' ' ')"

is "$hung/$((i - 1))" "0/$RELOADS" "every SIGHUP was answered by a reload, within 50 s"
is "$(reloads)" $((RELOADS + 1)) "$((RELOADS + 1)) reloads logged"
kill -0 "$SIPPROVD_PID" 2>/dev/null; ok $? "sipprovd is alive after $RELOADS reloads under load"
res=$(grep '^RESULT ' "$T/wrk.out")
[ -n "$res" ] || sed 's/^/# wrk: /' "$T/wrk.out"
like "$res" ' bad=0 errors=0 ' "every response was 200, complete and exactly one variant"
a=$(printf '%s' "$res" | sed -n 's/.*ok_a=\([0-9]*\).*/\1/p')
b=$(printf '%s' "$res" | sed -n 's/.*ok_b=\([0-9]*\).*/\1/p')
ok $([ "${a:-0}" -gt 0 ] && [ "${b:-0}" -gt 0 ]; echo $?) "both variants were served under load (a=$a b=$b)"
is "$(curl -s "$URL/healthz")" ok "and it still answers"
like "$(grep -c '^deny: .* ip=127.0.0.1 method=GET path=/0015ff000001.cfg$' "$SIPPROVD_LOG")" '^[1-9]' "unknown MACs were refused, and logged, during the reloads"
curl -s -o /dev/null "$URL/$MAC.cfg"
stop_sipprovd
is "$SIPPROVD_RC" 0 "SIGTERM after the stress exits 0"
done_testing
