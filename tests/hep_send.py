#!/usr/bin/env python3
"""tests/hep_send.py: build and send HEP v3 datagrams for the integration
tests (Kamailio's chunk order).  Usage:
  hep_send.py PORT register CALLID CSEQ USER [TRANSPORT] [UA]
  hep_send.py PORT response CALLID CSEQ CODE
  hep_send.py PORT garbage N SEED      N random/mutated datagrams
  hep_send.py PORT flood N SOURCES CODE [PREFIX]
                                       N REGISTER + CODE pairs, users PREFIXi,
                                       phone addresses 10.9.x.y (SOURCES of them)
  hep_send.py PORT load N USERS RATE   N REGISTER + 200 pairs for users u000001..
                                       u<USERS> (cycling), RATE pairs per second
$HEP_SEND_FROM: the local address to send from (default any).
"""
import os, random, socket, struct, sys, time

def chunk(t, v, vendor=0):
    return struct.pack('>HHH', vendor, t, len(v) + 6) + v

def hep(payload, proto=17, sport=5070, dport=5060, src=(127, 0, 0, 1)):
    body = b''.join([chunk(1, b'\x02'), chunk(2, bytes([proto])), chunk(3, bytes(src)),
                     chunk(4, bytes([127, 0, 0, 1])), chunk(7, struct.pack('>H', sport)),
                     chunk(8, struct.pack('>H', dport)), chunk(9, struct.pack('>I', 1700000000)),
                     chunk(10, struct.pack('>I', 1)), chunk(11, b'\x01'), chunk(12, struct.pack('>I', 2001)),
                     chunk(15, payload)])
    return b'HEP3' + struct.pack('>H', len(body) + 6) + body

def register(callid, cseq, user, transport='UDP', ua='hep_send'):
    return ('REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:5070;branch=z9hG4bK%s\r\n'
            'From: <sip:%s@example.test>;tag=1\r\nTo: <sip:%s@example.test>\r\nCall-ID: %s\r\n'
            'CSeq: %s REGISTER\r\nContact: <sip:%s@127.0.0.1:5070>\r\nUser-Agent: %s\r\nExpires: 300\r\n'
            'Content-Length: 0\r\n\r\n' % (transport, cseq, user, user, callid, cseq, user, ua)
            ).encode('utf-8', 'surrogateescape')   # a UA argument's raw bytes go as they came

def response(callid, cseq, code):
    return ('SIP/2.0 %s X\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK%s\r\n'
            'To: <sip:x@example.test>;tag=2\r\nCall-ID: %s\r\nCSeq: %s REGISTER\r\n'
            'Content-Length: 0\r\n\r\n' % (code, cseq, callid, cseq)).encode()

def garbage(n, seed, send):
    rnd = random.Random(int(seed))
    good = hep(register('g', 1, 'g'))
    for i in range(n):
        k = i % 4
        if k == 0:
            d = rnd.randbytes(rnd.randint(0, 1500))
        elif k == 1:
            d = b'HEP3' + rnd.randbytes(rnd.randint(0, 600))
        elif k == 2:
            d = bytearray(good)
            for _ in range(rnd.randint(1, 8)):
                d[rnd.randrange(len(d))] = rnd.randrange(256)
            d = bytes(d[:rnd.randint(0, len(d))]) if rnd.random() < 0.3 else bytes(d)
        else:
            # valid HEP framing around a random or mangled SIP payload
            p = bytearray(register('r%d' % i, rnd.randint(1, 9), 'u%d' % rnd.randint(0, 50)))
            for _ in range(rnd.randint(0, 6)):
                p[rnd.randrange(len(p))] = rnd.randrange(256)
            d = hep(bytes(p))
        send(d)

def flood(n, sources, code, prefix, send):
    for i in range(n):
        k = i % sources
        src = (10, 9, k // 256, k % 256)
        cid = '%s-flood-%d' % (prefix, i)
        send(hep(register(cid, 1, '%s%d' % (prefix, i)), src=src))
        send(hep(response(cid, 1, code), src=src))
        if i % 50 == 49:
            time.sleep(0.02)    # ~2,500 pairs/s: no loss in the socket buffer

def load(n, users, rate, send):
    t0 = time.monotonic()
    for i in range(n):
        cid = 'load-%d-%d' % (os.getpid(), i)
        send(hep(register(cid, 1, 'u%06d' % (i % users + 1))))
        send(hep(response(cid, 1, 200)))
        ahead = t0 + (i + 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)

def main():
    port = int(sys.argv[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if os.environ.get('HEP_SEND_FROM'):
        s.bind((os.environ['HEP_SEND_FROM'], 0))
    send = lambda d: s.sendto(d, ('127.0.0.1', port))
    what = sys.argv[2]
    if what == 'register':
        send(hep(register(sys.argv[3], sys.argv[4], sys.argv[5], *(sys.argv[6:8]))))
    elif what == 'response':
        send(hep(response(sys.argv[3], sys.argv[4], sys.argv[5])))
    elif what == 'garbage':
        garbage(int(sys.argv[3]), sys.argv[4], send)
    elif what == 'flood':
        flood(int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else 'junk', send)
    elif what == 'load':
        load(int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), send)

main()
