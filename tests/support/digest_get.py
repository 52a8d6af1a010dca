#!/usr/bin/env python3
# digest_get.py PORT PATH [WANT [TIMEOUT_S [CMD...]]]: GET a demo device's
# config from sipprovd on 127.0.0.1:PORT with its digest credentials (the
# demo's --http-password pw), answering a 401 (stale=true) as phones do.
# Without WANT: prints the HTTP status.  With WANT: runs CMD (if any), then
# polls until the body contains WANT or TIMEOUT_S passes, and prints
# "status ms_after_cmd cmd_ms" (or "status timeout cmd_ms", exit 1).
# For the multi-node tests (tests/pglib.sh pg_node_get).
import http.client, os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digest
port, path = int(sys.argv[1]), sys.argv[2]
want = sys.argv[3] if len(sys.argv) > 3 else None
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 0
cmd = sys.argv[5:]
mac = re.match(r"/([0-9a-f]{12})", path).group(1)
def fetch():
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        st, body = digest.get(c, path, mac, "pw")
        c.close()
        return st, body.decode(errors="replace")
    except OSError as e:
        return 0, str(e)
if want is None:
    print(fetch()[0]); sys.exit(0)
t0 = time.monotonic()
if cmd:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
t1 = time.monotonic()
st = 0
while True:
    st, body = fetch()
    if st == 200 and want in body:
        break
    if time.monotonic() - t1 > timeout:
        print("%d timeout %.1f" % (st, (t1 - t0) * 1000)); sys.exit(1)
    time.sleep(0.002)
print("%d %.1f %.1f" % (st, (time.monotonic() - t1) * 1000, (t1 - t0) * 1000))
