#!/usr/bin/env python3
# alg.py: a NAT router with a broken SIP ALG, for tests.  UDP only.
# Usage: alg.py LISTEN_PORT PUBLIC_IP REGISTRAR_PORT [REGISTRAR_IP]
# The phone sends to 127.0.0.1:LISTEN_PORT; the router forwards each
# datagram from its public side (PUBLIC_IP, one mapped port per phone
# address) to the registrar, and rewrites the phone's address in Via and
# Contact the way broken ALGs do: the public IP, but the phone's private
# port, not the mapped one.  Replies sent to that Via go nowhere; replies
# that reach the mapped port are passed back.  Not a real NAT: no SDP, no
# TCP, no timeouts.
import select
import socket
import sys

listen_port, public_ip, reg_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
reg_ip = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inside.bind(("127.0.0.1", listen_port))
maps = {}       # phone (ip, port) -> public socket
back = {}       # public socket -> phone (ip, port)
print("ready", flush=True)


def rewrite(data, phone):
    old = ("%s:%d" % phone).encode()
    new = ("%s:%d" % (public_ip, phone[1])).encode()
    out = []
    for line in data.split(b"\r\n"):
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"contact", b"m"):
            line = line.replace(old, new)
        out.append(line)
    return b"\r\n".join(out)


while True:
    ready, _, _ = select.select([inside] + list(back), [], [])
    for s in ready:
        data, peer = s.recvfrom(65536)
        if s is inside:
            pub = maps.get(peer)
            if not pub:
                pub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                pub.bind((public_ip, 0))
                maps[peer], back[pub] = pub, peer
                print("map %s:%d -> %s:%d" % (peer + pub.getsockname()), flush=True)
            pub.sendto(rewrite(data, peer), (reg_ip, reg_port))
        else:
            inside.sendto(data, back[s])
