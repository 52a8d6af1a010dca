#!/usr/bin/env python3
# dnsd.py: a tiny DNS server for tests that need names to resolve for real
# (through glibc's stub resolver) inside a private network namespace.
# Usage: dnsd.py ZONEFILE [ADDR [PORT]]  (default 127.0.0.1 53).  The zone
# file is read on every query, so a test can move a record while it runs.
# Lines: "NAME A ADDRESS" or "NAME SERVFAIL"; any other name is NXDOMAIN;
# a name with an A record has no AAAA (NOERROR, empty answer).
# Not a resolver: no recursion, no TCP, no other record types.
import socket
import struct
import sys


def load(path):
    zone = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 2:
                zone[w[0].lower().rstrip(".")] = w[1:]
    return zone


def answer(q, zone):
    qid, flags = struct.unpack("!HH", q[:4])
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace").lower())
        i += 1 + q[i]
    if i + 5 > len(q):
        return None, ""
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels)
    rec, rr, rcode = zone.get(name), b"", 3          # NXDOMAIN
    if rec and rec[0] == "SERVFAIL":
        rcode = 2
    elif rec:
        rcode = 0
        if qtype == 1 and rec[0] == "A" and len(rec) > 1:
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton(rec[1])
    flags = 0x8180 | (flags & 0x0100) | rcode        # response, RD copied, RA
    hdr = struct.pack("!HHHHHH", qid, flags, 1, 1 if rr else 0, 0, 0)
    return hdr + question + rr, "%s type %d -> rcode %d %s" % (name, qtype, rcode, rec or "")


def main():
    path = sys.argv[1]
    addr = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 53
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 17:
            continue
        r, what = answer(q, load(path))
        if r:
            print(what, flush=True)
            s.sendto(r, peer)


if __name__ == "__main__":
    main()
