#!/bin/sh
# `sipprov account qr`: the softphone's token URL as a QR code on the
# terminal, as PNG and as SVG.  Each form is decoded by a real QR reader
# (zbarimg from zbar-tools) and the decoded URL is fetched from a running
# sipprovd: the scanned code provisions the softphone.  Files are 0600
# whatever the umask, never overwritten without --force; desk-phone
# layouts, revoked tokens and two formats at once are refused; showing the
# code is audited without the token.
. "$(dirname "$0")/../lib.sh"
need zbarimg python3 curl sqlite3 linphonec linphonecsh

MAC=02:00:00:00:10:04
DESK=00:15:65:4a:a9:37
start_kamailio
add_subscriber a1xyzauth example.test 'pw-Qr1x'
sp init >/dev/null
sp tenant add acme --device-auth token >/dev/null
sp template set acme main registrar=example.test server=127.0.0.1 port="$KAM_PORT" transport=udp expires=120 >/dev/null
sp device add $MAC --tenant acme --layout linphone --template main >/dev/null
out=$(sp account add $MAC --username alice --auth-username a1xyzauth --password 'pw-Qr1x')
url=$(echo "$out" | sed -n 's|^token url: ||p')
sp device add $DESK --tenant acme --layout yealink --template main >/dev/null
sp account add $DESK --username bob --auth-username b2xyzauth --password 'pw-Qr2x' >/dev/null

start_sipprovd
export SIPPROV_URL="$URL"
url="$URL/s/${url##*/s/}"
like "$url" "^http://127.0.0.1:$PORT/s/[0-9a-f]{32}\$" "the account has a token URL"

# zbarimg prints "QR-Code:<text>"; its ImageMagick may chatter on stderr.
decode() { zbarimg -q --raw "$1" 2>/dev/null; }

# PNG
umask 000
out=$(sp account qr $MAC --png "$T/a.png"); rc=$?
is "$rc" 0 "qr --png exits 0"
like "$out" "written to $T/a.png \\(mode 0600\\)" "says where the code went"
unlike "$out" "${url##*/s/}" "the file form does not print the token"
is "$(stat -c %a "$T/a.png")" 600 "the PNG is 0600 under umask 000"
is "$(head -c 8 "$T/a.png" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a "a PNG signature"
is "$(decode "$T/a.png")" "$url" "zbarimg reads the token URL from the PNG"
body=$(curl -s "$(decode "$T/a.png")")
like "$body" 'name="username" overwrite="true">alice<' "fetching the scanned URL serves the softphone's config"
st=$(register_with qr "$(decode "$T/a.png")")
like "$st" '^registered, identity=.*alice@example.test' "linphonec provisioned from the scanned URL registers to Kamailio"
umask 077

# SVG: well-formed, drawn back into a bitmap from its path and decoded.
sp account qr $MAC --svg "$T/a.svg" >/dev/null
is "$?" 0 "qr --svg exits 0"
is "$(stat -c %a "$T/a.svg")" 600 "the SVG is 0600"
python3 - "$T/a.svg" "$T/svg.pbm" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
n = int(root.get('viewBox').split()[2])
grid = [[0] * n for _ in range(n)]
for x, y in re.findall(r'M(\d+) (\d+)h1v1h-1z', root.find(ns + 'path').get('d')):
    grid[int(y)][int(x)] = 1
with open(sys.argv[2], 'w') as f:
    f.write('P1\n%d %d\n' % (n * 4, n * 4))
    for row in grid:
        line = ' '.join(str(v) for v in row for _ in range(4))
        f.write((line + '\n') * 4)
EOF
ok $? "the SVG parses as XML"
is "$(decode "$T/svg.pbm")" "$url" "zbarimg reads the token URL from the SVG's drawing"

# Terminal: half blocks, light modules drawn; turned back into a bitmap.
sp account qr $MAC >"$T/term.txt"
is "$?" 0 "qr on the terminal exits 0"
is "$(tail -1 "$T/term.txt")" "token url: $url" "the URL follows the code"
python3 - "$T/term.txt" "$T/term.pbm" <<'EOF'
import sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()[:-1]
top = {'\u2588': (0, 0), '\u2580': (0, 1), '\u2584': (1, 0), ' ': (1, 1)}   # 1 = dark
rows = []
for l in lines:
    rows.append([top[c][0] for c in l]); rows.append([top[c][1] for c in l])
w = len(rows[0])
with open(sys.argv[2], 'w') as f:
    f.write('P1\n%d %d\n' % (w * 4, len(rows) * 4))
    for r in rows:
        f.write((' '.join(str(v) for v in r for _ in range(4)) + '\n') * 4)
EOF
is "$(decode "$T/term.pbm")" "$url" "zbarimg reads the token URL from the terminal drawing"

# Refusals change nothing.
before=$(sha256sum <"$T/a.png")
err=$(sp account qr $MAC --png "$T/a.png" 2>&1); rc=$?
is "$rc" 1 "an existing file is a user error"
like "$err" "cannot create '$T/a.png': File exists \\(--force replaces it\\)" "the error names the file and --force"
is "$(sha256sum <"$T/a.png")" "$before" "the existing file is untouched"
sp --force account qr $MAC --png "$T/a.png" >/dev/null
is "$?" 0 "--force replaces it"
is "$(decode "$T/a.png")" "$url" "the replaced file holds the code"

sp account qr $MAC --png "$T/b.png" --svg "$T/b.svg" >/dev/null 2>&1
is "$?" 2 "two formats at once is a usage error"
[ ! -e "$T/b.png" ] && [ ! -e "$T/b.svg" ]
ok $? "no file written for a usage error"

err=$(sp account qr $DESK 2>&1 >/dev/null); rc=$?
is "$rc" 1 "a desk phone's account has no QR code"
like "$err" "layout 'yealink' is fetched by MAC" "the error names the layout"

err=$(sp account qr 02:00:00:00:99:99 2>&1 >/dev/null)
is "$?" 1 "an unknown device is a user error"

sp account token $MAC --revoke >/dev/null
err=$(sp account qr $MAC 2>&1 >/dev/null); rc=$?
is "$rc" 1 "a revoked token has no QR code"
like "$err" "no active token .*--rotate" "the error says how to get a token"
new=$(sp account token $MAC --rotate | sed -n 's|^token url: ||p')
sp account qr $MAC --png "$T/c.png" >/dev/null
is "$(decode "$T/c.png")" "$new" "after a rotation the code carries the new URL"

# Audited: who showed which line, never the token.
n=$(sql "SELECT count(*) FROM audit_log WHERE action='account.qr' AND object='account 1 on $MAC'")
is "$n" 5 "each code shown is in the audit log"
tok=${url##*/s/}
n=$(sql "SELECT count(*) FROM audit_log WHERE lower(detail||before_digest||after_digest) LIKE lower('%$tok%')")
is "$n" 0 "the audit log never holds the token"

done_testing
