#!/usr/bin/env python3
"""free-port.py [tcp|udp] [N]: print N (default 1) distinct loopback ports,
one per line, each free for TCP (udp: for UDP and TCP both), picked at
random below the kernel's ephemeral range, where no outgoing connection of
a suite running side by side can take it between the pick and the
listener's bind. $FREE_PORT_TAKEN: a file of ports handed out before,
never handed out again, and the new ones are added to it. See tests/lib.sh
free_port."""
import os, random, socket, sys
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
want = int(sys.argv[2]) if len(sys.argv) > 2 else 1
got = []
taken_file = os.environ.get("FREE_PORT_TAKEN")
taken = set()
if taken_file and os.path.exists(taken_file):
    taken = {int(l) for l in open(taken_file) if l.strip()}
def take(p):
    if p not in got and p not in taken and free(p):
        got.append(p)
if lo > 11000:
    for _ in range(200 * want):
        if len(got) == want: break
        take(random.randrange(10000, lo))
for _ in range(50 * want):   # a host whose ephemeral range starts low: ask the kernel
    if len(got) == want: break
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]; t.close()
    take(p)
if len(got) < want: sys.exit(1)
if taken_file:
    with open(taken_file, "a") as f:
        f.write("".join("%d\n" % p for p in got))
print("\n".join(map(str, got)))
