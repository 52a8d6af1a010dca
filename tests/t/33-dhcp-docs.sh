#!/bin/sh
# docs/dhcp-and-redirection.md, checked: every example configuration in it
# is accepted by the real server's own checker (dnsmasq --test, dhcpd -t,
# kea-dhcp4 -t; a broken copy of each is refused, so the check can fail),
# every URL and MAC prefix in the examples is the one the document gives
# for that vendor, and every file name it says a phone asks for is
# answered by a real sipprovd (200 with the device's credentials, 401
# without, never 404).  No DHCP server is started: nothing binds port 67.
. "$(dirname "$0")/../lib.sh"
need python3 curl dnsmasq dhcpd kea-dhcp4
DOC="$ROOT/docs/dhcp-and-redirection.md"
[ -f "$DOC" ] || bail "no $DOC"

# Fenced blocks by info string: $T/doc/<kind>.<n>
mkdir -p "$T/doc"
python3 - "$DOC" "$T/doc" <<'EOF' > "$T/blocks"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
n = 0
for m in re.finditer(r"^```([a-z0-9-]+)\n(.*?)^```$", text, re.S | re.M):
    kind, body = m.group(1), m.group(2)
    n += 1
    path = "%s/%s.%d" % (sys.argv[2], kind, n)
    open(path, "w", encoding="utf-8").write(body)
    print(kind, path)
EOF
for k in dnsmasq isc-dhcpd kea dhcp-values oui phone-requests; do
	c=$(grep -c "^$k " "$T/blocks")
	[ "$c" -ge 1 ]; ok $? "the document has a '$k' block ($c)"
done

# 1. The real programs accept each example, and refuse it broken.
check() { # check KIND FILE: the program's own syntax check
	case $1 in
	dnsmasq) dnsmasq --test -C "$2" ;;
	isc-dhcpd) dhcpd -t -cf "$2" ;;
	kea) kea-dhcp4 -t "$2" ;;
	esac
}
grep -E '^(dnsmasq|isc-dhcpd|kea) ' "$T/blocks" > "$T/examples"
while read -r kind f; do
	out=$(check "$kind" "$f" 2>&1); rc=$?
	[ $rc -eq 0 ] || printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
	ok $rc "$kind accepts $(basename "$f")"
	case $kind in
	dnsmasq) { cat "$f"; echo "dhcp-optoin=66,x"; } > "$f.bad" ;;
	isc-dhcpd) sed 's/^class "polycom"/clas "polycom"/' "$f" > "$f.bad" ;;
	kea) sed 's/"subnet4"/"subnet44"/' "$f" > "$f.bad" ;;
	esac
	check "$kind" "$f.bad" >/dev/null 2>&1; [ $? -ne 0 ]; ok $? "$kind refuses the broken copy of $(basename "$f")"
done < "$T/examples"

# 2. URLs, options and MAC prefixes in the examples against the tables.
python3 - "$T/blocks" <<'EOF' > "$T/urlcheck"
import json, re, sys
from urllib.parse import urlsplit
blocks = [l.split(" ", 1) for l in open(sys.argv[1]).read().splitlines()]
def body(kind):
    return [open(p.strip(), encoding="utf-8").read() for k, p in blocks if k == kind]
def rows(kind):
    out = []
    for b in body(kind):
        for line in b.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line.split())
    return out
values = {r[0]: (r[1].split(","), r[2]) for r in rows("dhcp-values")}
ouis = {r[0]: set(r[1:]) for r in rows("oui")}
res = []
def t(cond, desc, detail=""):
    res.append(("PASS" if cond else "FAIL", desc, detail))
def url_ok(where, vendor, opt, url):
    if vendor not in values:
        t(False, "%s: '%s' is a vendor of the dhcp-values table" % (where, vendor)); return
    opts, want = values[vendor]
    u = urlsplit(url)
    bare = u._replace(netloc=u.hostname + (":%d" % u.port if u.port else "")).geturl()
    t(bare == want, "%s: %s option %s is %s" % (where, vendor, opt, want), "got " + url)
    t(opt in opts, "%s: %s gets option %s, one the document names (%s)" % (where, vendor, opt, ",".join(opts)))
def oui_ok(where, vendor, oui):
    t(re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){2}", oui) is not None and oui in ouis.get(vendor, ()),
      "%s: %s MAC prefix %s is 3 bytes and listed for %s" % (where, vendor, oui, vendor))
def substr_ok(where, text):
    for n, s in re.findall(r"substring\([^,]+,\s*0,\s*(\d+)\)\s*==?\s*[\"']([^\"']*)[\"']", text):
        t(int(n) == len(s), "%s: substring length %s matches \"%s\"" % (where, n, s))

for i, b in enumerate(body("isc-dhcpd")):
    where, seen, scope, host_oui = "isc-dhcpd#%d" % i, set(), None, None
    substr_ok(where, b)
    for line in b.splitlines():
        m = re.match(r'\s*(class|host)\s+"?([\w-]+)"?\s*\{', line)
        if m:
            scope = (m.group(1), m.group(2)); host_oui = None
            continue
        if scope and scope[0] == "class":
            for o in re.findall(r"substring\(hardware, 1, 3\) = ([0-9a-f:]+)", line):
                oui_ok(where, scope[1], o)
        m = re.search(r"hardware ethernet ([0-9a-f:]+);", line)
        if m:
            host_oui = m.group(1)[:8]
        m = re.search(r'option (tftp-server-name|vendor-encapsulated-options) "([^"]+)"', line)
        if m:
            opt = "66" if m.group(1) == "tftp-server-name" else "43"
            vendor = scope[1] if scope and scope[0] == "class" else \
                next((v for v, s in ouis.items() if host_oui in s), "?")
            url_ok(where, vendor, opt, m.group(2)); seen.add(vendor)
    t(set(values) <= seen, "%s: every vendor of dhcp-values gets its URL" % where, "missing " + " ".join(sorted(set(values) - seen)))

for i, b in enumerate(body("kea")):
    where, seen = "kea#%d" % i, set()
    substr_ok(where, b)
    cfg = json.loads("\n".join(l for l in b.splitlines() if not l.strip().startswith("//")))
    for c in cfg["Dhcp4"]["client-classes"]:
        v = c["name"]
        for o in re.findall(r"pkt4\.mac, 0, 3\) == 0x([0-9a-fA-F]+)", c["test"]):
            oui_ok(where, v, ":".join(o.lower()[k:k + 2] for k in range(0, len(o), 2)) if len(o) == 6 else o)
        for od in c.get("option-data", []):
            if od.get("name") == "tftp-server-name":
                url_ok(where, v, "66", od["data"]); seen.add(v)
    t(set(values) <= seen, "%s: every vendor of dhcp-values gets its URL" % where, "missing " + " ".join(sorted(set(values) - seen)))

for i, b in enumerate(body("dnsmasq")):
    where, seen = "dnsmasq#%d" % i, set()
    for line in b.splitlines():
        m = re.match(r"dhcp-mac=set:([\w-]+),([0-9a-f:]{8}):\*:\*:\*$", line)
        if m:
            oui_ok(where, m.group(1), m.group(2))
        elif line.startswith("dhcp-mac="):
            t(False, "%s: dhcp-mac line is set:TAG,OUI:*:*:*" % where, line)
        m = re.match(r'dhcp-option=tag:([\w-]+),(option:tftp-server|66|43),"([^"]+)"$', line)
        if m:
            url_ok(where, m.group(1), "43" if m.group(2) == "43" else "66", m.group(3)); seen.add(m.group(1))
        elif line.startswith("dhcp-option=tag:"):
            t(False, "%s: a tagged option the check reads" % where, line)
    t(set(values) <= seen, "%s: every vendor of dhcp-values gets its URL" % where, "missing " + " ".join(sorted(set(values) - seen)))

# The values themselves: a base URL without path or trailing '/', or the
# base URL plus one file name (macros allowed).
base = {urlsplit(w)._replace(path="").geturl() for _, w in values.values()}
t(len(base) == 1, "dhcp-values: one base URL for every vendor", " ".join(sorted(base)))
for v, (_, w) in sorted(values.items()):
    p = urlsplit(w).path
    t(p == "" or re.fullmatch(r"/[A-Za-z0-9$._{}-]+", p) is not None,
      "dhcp-values: %s's value is the base URL or base/FILE (%s)" % (v, p or "no path"))
for r in res:
    print("\t".join(r))
EOF
while IFS="$(printf '\t')" read -r st desc detail; do
	[ "$st" = PASS ]; rc=$?
	[ $rc -ne 0 ] && [ -n "$detail" ] && diag "  $detail"
	ok $rc "$desc"
done < "$T/urlcheck"
[ "$(wc -l < "$T/urlcheck")" -gt 40 ]; ok $? "the URL check read the examples ($(wc -l < "$T/urlcheck") checks)"

# 3. A real sipprovd with a device of every vendor.
sp init >/dev/null || bail "init"
sp demo > "$T/demo" || bail "demo"
TOKEN=$(sed -n 's|.*/s/\([0-9a-f]\{32\}\)$|\1|p' "$T/demo")
like "$TOKEN" '^[0-9a-f]{32}$' "sipprov demo printed the softphone's token URL"
sp device add 00:26:99:0c:15:04 --tenant demo --layout cisco --model SPA504G >/dev/null &&
sp account add 0026990c1504 --username 1005 --auth-username c5t8r3e1 --password 'cisco-pw-1' >/dev/null &&
sp device add 00:04:13:74:17:67 --tenant demo --layout snom --model 715 >/dev/null &&
sp account add 000413741767 --username 1006 --auth-username s6n7m2p4 --password 'snom-pw-1' >/dev/null &&
sp device add 0c:38:3e:07:e1:6c --tenant demo --layout fanvil --model X4 >/dev/null &&
sp account add 0c383e07e16c --username 1007 --auth-username f7v4l1x9 --password 'fanvil-pw-1' >/dev/null
ok $? "devices for cisco, snom and fanvil added to the demo tenant"
mac_of() {
	case $1 in
	yealink) echo 0015654aa937 ;; polycom) echo 0004f2aabb01 ;; grandstream) echo 000b828aa872 ;;
	cisco) echo 0026990c1504 ;; snom) echo 000413741767 ;; fanvil) echo 0c383e07e16c ;;
	esac
}
for v in yealink polycom grandstream cisco snom fanvil; do
	m=$(mac_of $v)
	sp device credentials "$m" | sed -n 's/^  password: *//p' > "$T/pw.$m"
	[ -s "$T/pw.$m" ] || bail "no credentials for $m"
done
start_sipprovd
code() { curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$@"; }

# 3a. Every file name the document says a phone asks for.
grep '^phone-requests ' "$T/blocks" | cut -d' ' -f2 | xargs cat | grep -v '^#' | grep -v '^ *$' > "$T/requests"
[ "$(wc -l < "$T/requests")" -ge 15 ]; ok $? "phone-requests table read ($(wc -l < "$T/requests") rows)"
while read -r vendor name state; do
	m=$(mac_of "$vendor")
	M=$(echo "$m" | tr a-f A-F)
	p=$(printf '%s' "$name" | sed -e "s/{mac}/$m/g" -e "s/{MAC}/$M/g" -e "s/{token}/$TOKEN/g")
	case $p in /*) ;; *) p="/$p" ;; esac
	case $state in
	served)
		case $name in
		*{mac}*|*{MAC}*)
			is "$(code "$URL$p")" 401 "$vendor $p: refused without credentials (401, not 404)"
			is "$(code --digest -u "$m:$(cat "$T/pw.$m")" "$URL$p")" 200 "$vendor $p: 200 with the device's digest credentials"
			[ -s "$T/body" ]; ok $? "$vendor $p: a body" ;;
		*{token}*)
			is "$(code "$URL$p")" 200 "$vendor /s/{token}: 200 (the token is the credential)"
			[ -s "$T/body" ]; ok $? "$vendor /s/{token}: a body"
			case $p in *0) bad="${p%?}1" ;; *) bad="${p%?}0" ;; esac   # the last digit changed
			c=$(code "$URL$bad"); [ "$c" != 200 ]; ok $? "$vendor: another token is refused ($c)" ;;
		*)
			is "$(code "$URL$p")" 200 "$vendor $p: 200 without credentials (a common file, no account in it)"
			[ -s "$T/body" ]; ok $? "$vendor $p: a body" ;;
		esac ;;
	missing)
		c=$(code --digest -u "$m:$(cat "$T/pw.$m" 2>/dev/null)" "$URL$p")
		[ "$c" = 404 ] || diag "NOTE: the document says $vendor $p is not served, sipprovd now answers $c: update docs/dhcp-and-redirection.md" ;;
	*)
		ok 1 "phone-requests: state of $vendor $name is served or missing (got '$state')" ;;
	esac
done < "$T/requests"

# 3b. The file a DHCP value names (Polycom's master file, Cisco's
# spa$MA.xml, Fanvil's $mac.cfg), with the phone's macro expanded.
grep '^dhcp-values ' "$T/blocks" | cut -d' ' -f2 | xargs cat | grep -v '^#' | grep -v '^ *$' > "$T/values"
while read -r vendor opts value; do
	m=$(mac_of "$vendor")
	path=$(printf '%s' "$value" | sed -e 's|^[a-z]*://[^/]*||' -e "s/\\\$MA/$m/g" -e "s/\\\$mac/$m/g")
	[ -n "$path" ] || continue
	is "$(code --digest -u "$m:$(cat "$T/pw.$m")" "$URL$path")" 200 "$vendor: the file its DHCP value names ($path) is served"
done < "$T/values"

# 3c. Why the base URL has no trailing '/': a doubled slash is refused.
is "$(code --digest -u "0015654aa937:$(cat "$T/pw.0015654aa937")" "$URL//0015654aa937.cfg")" 404 \
	"a path with '//' (base URL written with a trailing '/') is 404"
is "$(code --digest -u "0015654aa937:$(cat "$T/pw.0015654aa937")" "$URL/0015654aa937.cfg")" 200 \
	"the same file with one '/' is 200"

# 3d. A phone nobody entered: refused alike, and listed as pending.
is "$(code "$URL/001565112233.boot")" 401 "an unknown Yealink's {mac}.boot: 401 like a known phone without credentials"
for _ in $(seq 1 50); do sp device pending | grep -q '^001565112233 ' && break; sleep 0.1; done
sp device pending | grep -q '^001565112233 *yealink .*/001565112233.boot'
ok $? "and 'sipprov device pending' lists it with layout yealink and the file it asked for"

# 3e. The isc-dhcpd host entry: its userinfo (MAC:PASSWORD) logs the phone in.
hosturl=$(grep -h 'hardware ethernet 00:04:f2:aa:bb:01' -A1 $(grep '^isc-dhcpd ' "$T/blocks" | cut -d' ' -f2) |
	sed -n 's/.*tftp-server-name "\([^"]*\)".*/\1/p' | head -1)
like "$hosturl" '^http://0004f2aabb01:PASSWORD@' "the isc-dhcpd host entry carries MAC:PASSWORD in its URL"
u=$(printf '%s' "$hosturl" | sed -e "s/PASSWORD/$(cat "$T/pw.0004f2aabb01")/" -e "s|@prov.example.com:8080/.*|@127.0.0.1:$PORT/0004f2aabb01-phone.cfg|")
is "$(code --digest "$u")" 200 "that userinfo, with the real password, fetches 0004f2aabb01-phone.cfg"
grep -q 'reg.1.auth.password' "$T/body"; ok $? "and the file is the phone's account"

done_testing
