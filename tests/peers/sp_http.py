#!/usr/bin/env python3
"""sp_http.py: HTTP(S) clients for the security tests (tests/t/4x-*.sh).

  get URL [--cacert CA] [--user U --password P --algo MD5|SHA-256]
      [--source IP] [--method PUT --data FILE] [-o BODYFILE]
      One request with RFC 7616 digest (choosing the challenge whose
      algorithm is --algo, which curl cannot do: it takes the first);
      prints the final status code.
  flood BASEURL --count N --source IP --secret S [--out DIR]
      N fetches of random MACs' {mac}.cfg from one source address; prints
      a JSON summary (statuses, first 429, distinct 401 bodies, bodies
      holding the secret).
  slow HOST PORT --count N --source IP [--tls] [--stats FILE]
      N connections that each send one byte per second of a request that
      never ends (--tls: of a TLS ClientHello, then hold); a connection the
      server closes is replaced; prints "open N", runs until killed,
      writing "bytes_sent reconnects" to FILE every second.
  wrkauth BASEURL PATH USER PASSWORD N FILE [--cacert CA]
      Fetch one MD5 challenge for PATH and write N Authorization headers
      (nc = 1..N) to FILE, for wrk's digest benchmark.
  raw HOST PORT REQUEST [--timeout S]
      Send REQUEST (Python escapes: \\r\\n, \\x1b; bytes as written) on
      one plain TCP connection; print "STATUS STATE", STATUS the first
      response's code (or "none" if nothing came within S seconds) and
      STATE "closed" if the server then closed the connection within 1 s,
      else "open".  For framing and log-escaping tests curl cannot write.
Only the standard library; no secrets are printed.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import re
import socket
import ssl
import sys
import time
import urllib.parse


def connect(url, cacert, source, timeout=10):
    u = urllib.parse.urlsplit(url)
    src = (source, 0) if source else None
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cacert) if cacert else ssl._create_unverified_context()
        return http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx,
                                           source_address=src)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, source_address=src)


def parse_challenges(values):
    out = []
    for v in values:
        if not v.lower().startswith("digest "):
            continue
        params = dict((k.lower(), a if a else b) for k, a, b in
                      re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', v[7:]))
        out.append(params)
    return out


def H(algo, s):
    h = hashlib.sha256() if algo.upper() == "SHA-256" else hashlib.md5()
    h.update(s.encode())
    return h.hexdigest()


def authorization(ch, algo, user, password, method, uri, nc):
    realm, nonce = ch["realm"], ch["nonce"]
    cnonce = os.urandom(8).hex()
    ha1 = H(algo, f"{user}:{realm}:{password}")
    ha2 = H(algo, f"{method}:{uri}")
    ncs = f"{nc:08x}"
    resp = H(algo, f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'algorithm={algo}, response="{resp}", qop=auth, nc={ncs}, cnonce="{cnonce}", '
            f'opaque="{ch.get("opaque", "")}"')


def pick(challenges, algo):
    for ch in challenges:
        if ch.get("algorithm", "MD5").upper() == algo.upper():
            return ch
    return None


def cmd_get(a):
    u = urllib.parse.urlsplit(a.url)
    path = u.path or "/"
    body = open(a.data, "rb").read() if a.data else None
    c = connect(a.url, a.cacert, a.source)
    c.request(a.method, path, body=body)
    r = c.getresponse()
    data = r.read()
    if r.status == 401 and a.user is not None:
        ch = pick(parse_challenges(r.msg.get_all("WWW-Authenticate") or []), a.algo)
        if ch is None:
            print("no %s challenge" % a.algo, file=sys.stderr)
            print(r.status)
            return
        hdr = {"Authorization": authorization(ch, a.algo, a.user, a.password, a.method, path, 1)}
        if r.will_close:
            c.close()
            c = connect(a.url, a.cacert, a.source)
        c.request(a.method, path, body=body, headers=hdr)
        r = c.getresponse()
        data = r.read()
    if a.o:
        with open(a.o, "wb") as f:
            f.write(data)
    print(r.status)


def cmd_flood(a):
    statuses = {}
    bodies401 = set()
    secret_hits = 0
    first429 = None
    b = a.secret.encode()
    for i in range(a.count):
        mac = "%012x" % random.getrandbits(48)
        c = connect(a.base, a.cacert, a.source)
        try:
            c.request("GET", "/%s.cfg" % mac, headers={"Connection": "close"})
            r = c.getresponse()
            data = r.read()
            st = r.status
            if st == 401:
                chs = parse_challenges(r.msg.get_all("WWW-Authenticate") or [])
                kinds = ",".join(sorted(ch.get("algorithm", "?").lower() for ch in chs))
                bodies401.add((data, kinds))
        except (OSError, http.client.HTTPException):
            st, data = 0, b""
        finally:
            c.close()
        statuses[st] = statuses.get(st, 0) + 1
        if b in data:
            secret_hits += 1
        if st == 429 and first429 is None:
            first429 = i + 1
    print(json.dumps({"statuses": {str(k): v for k, v in sorted(statuses.items())},
                      "first429": first429, "distinct401": len(bodies401),
                      "body401": [x[0].decode(errors="replace") for x in bodies401],
                      "challenges401": [x[1] for x in bodies401], "secret_hits": secret_hits}))


def client_hello():
    """The first flight of a real TLS handshake, to trickle to an HTTPS port."""
    ctx = ssl._create_unverified_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def cmd_slow(a):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.count + 64)), hard))
    if a.tls:
        req = client_hello()
    else:
        req = b"GET /001565aabbcc.cfg HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000

    def opened():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((a.source, 0))
        s.setblocking(False)
        s.connect_ex((a.host, a.port))
        return [s, 0]

    conns = [opened() for _ in range(a.count)]
    print("open %d" % len(conns), flush=True)
    sent = refused = 0
    while True:
        time.sleep(1)
        for c in conns:
            if c[1] >= len(req):
                continue   # whole flight sent: just hold the connection open
            try:
                c[1] += c[0].send(req[c[1]:c[1] + 1])
                sent += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                # Closed by the server (per-IP limit): come back with a new one.
                refused += 1
                c[0].close()
                c[:] = opened()
        if a.stats:
            with open(a.stats, "w") as f:
                f.write("%d %d\n" % (sent, refused))


def cmd_wrkauth(a):
    c = connect(a.base, a.cacert, None)
    c.request("GET", a.path)
    r = c.getresponse()
    r.read()
    ch = pick(parse_challenges(r.msg.get_all("WWW-Authenticate") or []), "MD5")
    if r.status != 401 or ch is None:
        sys.exit("expected a 401 with an MD5 challenge, got %d" % r.status)
    with open(a.file, "w") as f:
        for nc in range(1, a.n + 1):
            f.write(authorization(ch, "MD5", a.user, a.password, "GET", a.path, nc) + "\n")


def cmd_raw(a):
    req = a.request.encode("latin-1").decode("unicode_escape").encode("latin-1")
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.sendall(req)
    data = b""
    status = "none"
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    if b"\r\n\r\n" in data:
        head, body = data.split(b"\r\n\r\n", 1)
        status = head.split(b" ")[1].decode()
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        want = int(m.group(1)) if m else 0
        try:
            while len(body) < want:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
        except socket.timeout:
            pass
    state = "open"
    s.settimeout(1)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                state = "closed"
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        state = "closed"
    print(status, state)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get")
    g.add_argument("url")
    g.add_argument("--cacert")
    g.add_argument("--user")
    g.add_argument("--password", default="")
    g.add_argument("--algo", default="MD5")
    g.add_argument("--source")
    g.add_argument("--method", default="GET")
    g.add_argument("--data")
    g.add_argument("-o")
    f = sub.add_parser("flood")
    f.add_argument("base")
    f.add_argument("--count", type=int, default=5000)
    f.add_argument("--source", default="127.0.0.1")
    f.add_argument("--secret", required=True)
    f.add_argument("--cacert")
    s = sub.add_parser("slow")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=int, default=1000)
    s.add_argument("--source", default="127.0.0.1")
    s.add_argument("--tls", action="store_true")
    s.add_argument("--stats")
    w = sub.add_parser("wrkauth")
    w.add_argument("base")
    w.add_argument("path")
    w.add_argument("user")
    w.add_argument("password")
    w.add_argument("n", type=int)
    w.add_argument("file")
    w.add_argument("--cacert")
    r = sub.add_parser("raw")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("request")
    r.add_argument("--timeout", type=float, default=5)
    a = p.parse_args()
    {"get": cmd_get, "flood": cmd_flood, "slow": cmd_slow, "wrkauth": cmd_wrkauth, "raw": cmd_raw}[a.cmd](a)


if __name__ == "__main__":
    main()
