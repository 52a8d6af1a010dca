#!/usr/bin/env python3
"""free-port.py [tcp|udp]: print a loopback port free for TCP (udp: for UDP
and TCP both), picked at random below the kernel's ephemeral range, where
no outgoing connection of a suite running side by side can take it between
the pick and the listener's bind. See tests/lib.sh free_port."""
import random, socket, sys
both = sys.argv[1:] == ["udp"]
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
def free(p):
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if both else (socket.SOCK_STREAM,)
    socks = []
    try:
        for k in kinds:
            s = socket.socket(socket.AF_INET, k); socks.append(s); s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks: s.close()
if lo > 11000:
    for _ in range(200):
        p = random.randrange(10000, lo)
        if free(p): print(p); sys.exit(0)
for _ in range(50):   # a host whose ephemeral range starts low: ask the kernel
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]; t.close()
    if free(p): print(p); sys.exit(0)
sys.exit(1)
