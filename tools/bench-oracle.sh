#!/bin/sh
# Existence-oracle benchmark (issue 11, item 3): does a request for an
# unknown MAC or token cost what a known one costs?  Medians over REQS
# (default 2,000) requests each, on one kept-alive connection, without
# credentials (every MAC answer is the same 401): known MAC, unknown MAC;
# /s/<token>: valid (200), revoked (401), unknown (401).  Then a
# classifier: 200 MACs (100 known), 6 requests each in random order, each
# MAC called known when its median is nearer the known median; accuracy
# (50% is chance), and the best any threshold could do.
# A benchmark, not a test: timings are reported, never asserted.
# SP_BUILD (default ./build).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${SP_BUILD:=$ROOT/build}"
REQS=${REQS:-2000}
W=$(mktemp -d /tmp/sipprov-oracle.XXXXXX)
cleanup() { [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
export SIPPROV_TEMPLATES="$ROOT/templates" SIPPROV_DB="$W/sp.db"
SP="$SP_BUILD/sipprov"
$SP init >/dev/null
$SP tenant add acme --device-auth digest --device-auth token >/dev/null
$SP template set acme main registrar=example.test server=127.0.0.1 port=5060 transport=udp >/dev/null
$SP tenant set acme --default-template main >/dev/null
for i in $(seq 1 100); do
	mac=$(printf '0015650a%04x' "$i")
	$SP device add "$mac" --tenant acme --layout yealink >/dev/null
	$SP account add "$mac" --username "u$i" --auth-username "a$i" --password "pw-$i" >/dev/null
	echo "$mac" >> "$W/known"
done
tok() { # tok LABEL: a linphone softphone with a token; prints the token
	out=$($SP device add --tenant acme --layout linphone --label "$1")
	mac=$(echo "$out" | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
	SIPPROV_URL=http://127.0.0.1:0 $SP account add "$mac" --username "$1" --auth-username "$1" --password pw |
		sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p'
	echo "$mac" > "$W/mac.$1"
}
VALID=$(tok valid)
REVOKED=$(tok revoked)
$SP account token "$(cat "$W/mac.revoked")" --revoke >/dev/null
. "$ROOT/tools/benchdb.sh"   # free_port
PORT=$(free_port)
"$SP_BUILD/sipprovd" -d -o database="$W/sp.db" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:$PORT \
	-o hep_listen= -o access_log= -o fail_threshold=1000000 -o threads=2 2>"$W/d.log" &
SPID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
python3 - "$PORT" "$REQS" "$W/known" "$VALID" "$REVOKED" <<'PY'
import random, socket, statistics, sys, time
port, reqs, known_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
valid, revoked = sys.argv[4], sys.argv[5]
known = [l.strip() for l in open(known_file)]
random.seed(11)
unknown = ["0015650b%04x" % random.randrange(65536) for _ in range(100)]
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def one(path):
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\n\r\n" % path).encode()
    t0 = time.perf_counter_ns()
    s.sendall(req)
    buf = b""
    while True:
        buf += s.recv(65536)
        h, sep, body = buf.partition(b"\r\n\r\n")
        if sep:
            cl = [l for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if len(body) >= int(cl[0].split(b":")[1]):
                break
    return (time.perf_counter_ns() - t0) / 1000.0, h.split(b" ")[1].decode()

def median(paths):
    ts, codes = [], set()
    for i in range(reqs):
        t, c = one(paths[i % len(paths)])
        ts.append(t); codes.add(c)
    return statistics.median(ts), ",".join(sorted(codes))

for _ in range(500):                      # warm up (and fill the render cache)
    one("/%s.cfg" % random.choice(known))
rows = [("known MAC", ["/%s.cfg" % m for m in known]),
        ("unknown MAC", ["/%s.cfg" % m for m in unknown]),
        ("valid token", ["/s/" + valid]),
        ("revoked token", ["/s/" + revoked]),
        ("unknown token", ["/s/%032x" % random.getrandbits(128) for _ in range(200)])]
med = {}
for name, paths in rows:
    med[name], codes = median(paths)
    print("%-14s median %6.1f us over %d requests (status %s)" % (name, med[name], reqs, codes))
print("unknown/known MAC: %+.1f us; unknown/revoked token: %+.1f us" %
      (med["unknown MAC"] - med["known MAC"], med["unknown token"] - med["revoked token"]))
# Classifier: 6 requests per MAC, interleaved in random order.
macs = [(m, True) for m in known] + [(m, False) for m in unknown]
order = [m for m in macs for _ in range(6)]
random.shuffle(order)
samples = {m: [] for m, _ in macs}
for m, _ in order:
    samples[m].append(one("/%s.cfg" % m)[0])
mid = (med["known MAC"] + med["unknown MAC"]) / 2
lo_is_known = med["known MAC"] <= med["unknown MAC"]
meds = [(statistics.median(samples[m]), k) for m, k in macs]
right = sum(1 for v, k in meds if ((v <= mid) == lo_is_known) == k)
best = 0
for thr, _ in meds:
    r = sum(1 for v, k in meds if (v <= thr) == k)
    best = max(best, r, len(meds) - r)
print("classifier, 6 requests per MAC, 200 MACs: %.1f%% (midpoint of the medians), best threshold %.1f%%" %
      (100.0 * right / len(meds), 100.0 * best / len(meds)))
PY
