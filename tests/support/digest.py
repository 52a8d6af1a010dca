# digest.py: a GET answered the way a phone answers sipprovd's HTTP digest
# challenge (realm "sipprov", qop=auth, the username is the device's MAC),
# including a 401 with stale=true: the new nonce is answered, up to three
# times.  Shared by the tests that fetch demo devices' configs.
import hashlib, re

def md5(s):
    return hashlib.md5(s.encode()).hexdigest()

def get(conn, path, mac, password):
    """GET path on conn (an http.client connection); returns (status, body bytes)."""
    conn.request("GET", path)
    r = conn.getresponse(); body = r.read()
    for _ in range(3):
        if r.status != 401:
            break
        nonce = re.search(r'nonce="([^"]+)"', r.getheader("WWW-Authenticate")).group(1)
        resp = md5("%s:%s:00000001:c0ffee:auth:%s" % (md5(mac + ":sipprov:" + password), nonce, md5("GET:" + path)))
        conn.request("GET", path, headers={"Authorization": 'Digest username="%s", realm="sipprov", nonce="%s", '
                     'uri="%s", response="%s", qop=auth, nc=00000001, cnonce="c0ffee"' % (mac, nonce, path, resp)})
        r = conn.getresponse(); body = r.read()
    return r.status, body
