#!/bin/sh
# A right digest response on a nonce that is not accepted (a replay, a
# nonce that is not ours) is answered 401 with stale=true, so a phone
# retries at once with the new nonce instead of failing; a wrong response
# is still a plain 401, and so is a response computed for another path.
# Nonces are stateless (nonce.c): one issued before a restart is still
# good after it, as it would be on another node of the same database.
# Before, libmicrohttpd's nonce table dropped nonces in a boot storm and
# refused 2-5% of phones with correct credentials.
. "$(dirname "$0")/../lib.sh"
need python3

sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp template set acme main registrar=acme.example.com server=sip.example.com port=5060 transport=udp >/dev/null
sp device add 00:15:65:00:00:10 --tenant acme --layout yealink --template main >/dev/null
PW=$(sp device credentials 00:15:65:00:00:10 | sed -n 's/^  password: *//p')
start_sipprovd
python3 - "$PORT" "$PW" "$T/challenge" >"$T/out" <<'PY'
import hashlib, http.client, re, sys
port, pw = int(sys.argv[1]), sys.argv[2]
path, user = "/001565000010.cfg", "001565000010"
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
def get(auth=None):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", path, headers={"Authorization": auth} if auth else {})
    r = c.getresponse(); body = r.read(); c.close()
    return r.status, [v for k, v in r.getheaders() if k.lower() == "www-authenticate"], body
def answer(challenge, password, nc="00000001", p=path):
    nonce = re.search(r'nonce="([^"]+)"', challenge).group(1)
    opaque = re.search(r'opaque="([^"]+)"', challenge).group(1)
    ha1 = md5(user + ":sipprov:" + password)
    resp = md5("%s:%s:%s:0a4f113b:auth:%s" % (ha1, nonce, nc, md5("GET:" + p)))
    return ('Digest username="%s", realm="sipprov", nonce="%s", uri="%s", response="%s", algorithm=MD5, '
            'qop=auth, nc=%s, cnonce="0a4f113b", opaque="%s"' % (user, nonce, p, resp, nc, opaque))
st, ch, _ = get()
print("challenge", st, 'stale="true"' in ch[0])
auth = answer(ch[0], pw)
st, ch2, body = get(auth)
print("first", st, b"sipprov acme-main@v1" in body)
st, ch3, body = get(auth)
print("replay", st, 'stale="true"' in (ch3[0] if ch3 else ""), body.decode().strip())
st, ch4, _ = get()
st, ch5, body = get(answer(ch4[0], "wrong-password"))
print("wrong", st, 'stale="true"' in (ch5[0] if ch5 else ""))
st, ch6, _ = get()
st, ch7, body = get(answer(ch6[0], pw))
print("after", st)
st, ch8, _ = get()
st, ch9, body = get(answer(ch8[0], pw, p="/001565000011.cfg"))
print("otherpath", st, 'stale="true"' in (ch9[0] if ch9 else ""))
n = re.search(r'nonce="([^"]+)"', ch8[0]).group(1)
forged = ch8[0].replace(n, n[:-1] + ("0" if n[-1] != "0" else "1"))
st, ch10, body = get(answer(forged, pw))
print("forged", st, 'stale="true"' in (ch10[0] if ch10 else ""))
st, ch11, _ = get()
open(sys.argv[3], "w").write(ch11[0])
PY
ok $? "the digest exchange ran"
is "$(sed -n 1p "$T/out")" "challenge 401 False" "no credentials: a fresh challenge, not stale"
is "$(sed -n 2p "$T/out")" "first 200 True" "the right response is served"
is "$(sed -n 3p "$T/out")" "replay 401 True unauthorized" "a replayed right response: 401 stale=true, no config"
is "$(sed -n 4p "$T/out")" "wrong 401 False" "a wrong response: a plain 401, not stale"
is "$(sed -n 5p "$T/out")" "after 200" "the phone's retry with a new nonce is served"
is "$(sed -n 6p "$T/out")" "otherpath 401 False" "a response computed for another path: a plain 401"
is "$(sed -n 7p "$T/out")" "forged 401 True" "a nonce that is not ours: 401 stale=true"
like "$(cat "$SIPPROVD_LOG")" "right digest response but the nonce was not accepted .*stale=true" "the log says why"
like "$(cat "$SIPPROVD_LOG")" "digest uri '/001565000011.cfg' is not the requested path" "the log names the wrong uri"

like "$(cat "$SIPPROVD_LOG")" "wrong digest response for user '001565000010' \\(MD5\\)" "a wrong password is still named"

# A nonce issued before a restart is answered after it.
stop_sipprovd
start_sipprovd
python3 - "$PORT" "$PW" "$T/challenge" >"$T/out2" <<'PY'
import hashlib, http.client, re, sys
port, pw = int(sys.argv[1]), sys.argv[2]
path, user = "/001565000010.cfg", "001565000010"
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
ch = open(sys.argv[3]).read()
nonce = re.search(r'nonce="([^"]+)"', ch).group(1)
resp = md5("%s:%s:00000001:0a4f113b:auth:%s" % (md5(user + ":sipprov:" + pw), nonce, md5("GET:" + path)))
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", path, headers={"Authorization": 'Digest username="%s", realm="sipprov", nonce="%s", uri="%s", '
          'response="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b", opaque="sipprov"'
          % (user, nonce, path, resp)})
r = c.getresponse(); body = r.read()
print(r.status, b"sipprov acme-main@v1" in body)
PY
is "$(cat "$T/out2")" "200 True" "a nonce from before the restart: served"
done_testing
