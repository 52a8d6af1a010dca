#!/usr/bin/env python3
"""sp_hold.py: many-source connection attacks for tests/t/4b and 4c.

  hold HOST PORT --sources N --per-source M [--path P] [--body BYTES]
      From 127.0.0.2 .. 127.0.0.(N+1), M connections each: a POST to P
      announcing a BYTES body, all of it sent but the last byte, then held.
      Prints "held OPEN CLOSED" (connections still open / closed by the
      server) once every body is sent or refused, then holds until killed.
  trickle HOST PORT --sources N --per-source M [--interval S] [--stats FILE]
      From the same addresses, M connections each that send a request line,
      then one header line every S seconds, never ending the headers.  A
      connection the server closes is reopened.  Prints "open N" once all
      are open; writes "open closed_by_server" to FILE every second.
Only the standard library; one thread, non-blocking sockets.
"""
import argparse
import errno
import selectors
import socket
import sys
import time


def sources(n):
    return ["127.0.0.%d" % (2 + i) for i in range(n)]


def opensock(host, port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    return s


def closed_by_peer(s):
    try:
        d = s.recv(65536)
        return d == b"" or len(d) > 0   # an answer (401, 405...) or EOF
    except BlockingIOError:
        return False
    except OSError:
        return True


def cmd_hold(a):
    sel = selectors.DefaultSelector()
    body = b"x" * (a.body - 1)
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (a.path, a.body)).encode()
    pending = {}
    for src in sources(a.sources):
        for _ in range(a.per_source):
            s = opensock(a.host, a.port, src)
            pending[s] = memoryview(head + body)
            sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    closed = 0
    deadline = time.time() + a.timeout
    while pending and time.time() < deadline:
        for key, ev in sel.select(timeout=0.5):
            s = key.fileobj
            if ev & selectors.EVENT_READ and closed_by_peer(s):
                sel.unregister(s)
                del pending[s]
                s.close()
                closed += 1
                continue
            if ev & selectors.EVENT_WRITE:
                buf = pending[s]
                try:
                    n = s.send(buf)
                except BlockingIOError:
                    continue
                except OSError:
                    sel.unregister(s)
                    del pending[s]
                    s.close()
                    closed += 1
                    continue
                buf = buf[n:]
                pending[s] = buf
                if not len(buf):
                    sel.modify(s, selectors.EVENT_READ)
    # Anything still unsent after the timeout stays held as it is.
    held = [k.fileobj for k in sel.get_map().values()]
    # Count the ones the server closes shortly after the last byte.
    end = time.time() + 1
    while time.time() < end:
        for key, ev in sel.select(timeout=0.2):
            s = key.fileobj
            if closed_by_peer(s):
                sel.unregister(s)
                held.remove(s)
                s.close()
                closed += 1
    print("held %d %d" % (len(held), closed), flush=True)
    while True:
        time.sleep(3600)


def cmd_trickle(a):
    sel = selectors.DefaultSelector()
    conns = {}          # sock -> (src, next send time)
    closed = 0

    def start(src):
        s = opensock(a.host, a.port, src)
        try:
            s.send(b"GET /001565000001.cfg HTTP/1.1\r\n")
        except OSError:
            pass    # not connected yet: the first header line goes later
        conns[s] = [src, time.time() + a.interval]
        sel.register(s, selectors.EVENT_READ)

    for src in sources(a.sources):
        for _ in range(a.per_source):
            start(src)
    print("open %d" % len(conns), flush=True)
    last_stats = 0
    n = 0
    while True:
        now = time.time()
        for key, ev in sel.select(timeout=0.1):
            s = key.fileobj
            if closed_by_peer(s):
                src = conns.pop(s)[0]
                sel.unregister(s)
                s.close()
                closed += 1
                start(src)
        for s, st in list(conns.items()):
            if now >= st[1]:
                st[1] = now + a.interval
                n += 1
                try:
                    s.send(b"X-Trickle-%d: x\r\n" % n)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    conns.pop(s)
                    sel.unregister(s)
                    s.close()
                    closed += 1
                    start(st[0])
        if a.stats and now - last_stats >= 1:
            last_stats = now
            with open(a.stats + ".tmp", "w") as f:
                f.write("%d %d\n" % (len(conns), closed))
            import os
            os.replace(a.stats + ".tmp", a.stats)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    t = sub.add_parser("trickle")
    for q in (h, t):
        q.add_argument("host")
        q.add_argument("port", type=int)
        q.add_argument("--sources", type=int, default=64)
        q.add_argument("--per-source", type=int, default=64)
    h.add_argument("--path", default="/api/v1/registrations")
    h.add_argument("--body", type=int, default=65536)
    h.add_argument("--timeout", type=float, default=40)
    t.add_argument("--interval", type=float, default=2)
    t.add_argument("--stats")
    a = p.parse_args()
    {"hold": cmd_hold, "trickle": cmd_trickle}[a.cmd](a)


if __name__ == "__main__":
    main()
