#!/bin/sh
# Tenant phonebook: `sipprov phonebook add|list|rm|import` checks every
# field by name and an import with any bad row writes nothing; sipprovd
# serves each desk phone its tenant's contacts at /pb/{mac}.xml in its
# layout's vendor format, well-formed and parsed back equal to the list
# (another tenant's contacts absent, hostile names escaped), authenticated
# like the config fetch: every refusal is byte-identical to a config one.
. "$(dirname "$0")/../lib.sh"
need curl jq python3 sqlite3 xmllint

sp init >/dev/null
sp tenant add acme --device-auth digest >/dev/null
sp tenant add other --device-auth digest >/dev/null
sp tenant add empty >/dev/null
count() { sql "SELECT count(*) FROM contact"; }

# ---- CLI: add, list, rm ----
out=$(sp phonebook add --tenant acme --name 'Front desk' --number 200 --group Office); rc=$?
is "$rc" 0 "add exits 0"
like "$out" "contact 'Front desk' added to tenant acme" "add says what it added"
sp phonebook add --tenant acme --name "<script>&\"'" --number 201 --mobile +4915112345 --other '*99#' >/dev/null
ok $? "a name with XML specials is text like any other"
sp phonebook add --tenant acme --name 'Zoë Müller' --number 202 --group Office >/dev/null
sp phonebook add --tenant acme --name 'Zoë Müller' --number 203 >/dev/null
ok $? "one name may have a second office number"
sp phonebook add --tenant other --name 'Secret Person' --number 999 >/dev/null
sp phonebook add --tenant empty --name 'Gone Soon' --number 1 >/dev/null
is "$(count)" 6 "six contacts stored"

before=$(count)
err=$(sp phonebook add --tenant acme --name Bad --number 12a 2>&1); rc=$?
is "$rc" 1 "a bad number is a user error"
like "$err" "--number '12a': use only the digits 0-9 and '\\+', '\\*', '#'" "the error names the field and the allowed characters"
err=$(sp phonebook add --tenant acme --name Bad --number 1 --mobile '0171 555' 2>&1)
like "$err" "--mobile '0171 555'" "a mobile number with a space is named"
err=$(sp phonebook add --tenant acme --name "$(printf 'Tab\there')" --number 1 2>&1)
like "$err" "--name .*not UTF-8 text without control characters" "a control character in a name is refused"
err=$(sp phonebook add --tenant acme --name "$(printf 'bad\377utf8')" --number 1 2>&1)
like "$err" "--name 'bad\\\\xffutf8' is not UTF-8" "invalid UTF-8 is refused, shown escaped"
err=$(sp phonebook add --tenant acme --name "$(printf '%065d' 0)" --number 1 2>&1)
like "$err" "--name .*65 characters \\(at most 64\\)" "a name over 64 characters is refused"
err=$(sp phonebook add --tenant acme --name X --number 123456789012345678901234567890123 2>&1)
like "$err" "--number .*at most 32" "a number over 32 characters is refused"
err=$(sp phonebook add --tenant acme --name X --number 1 --group "$(printf 'a\033[31m')" 2>&1)
like "$err" "--group 'a\\\\x1b\\[31m' is not UTF-8 text" "a group with an escape sequence is refused, shown escaped"
err=$(sp phonebook add --tenant acme --name 'Front desk' --number 200 2>&1); rc=$?
is "$rc" 1 "a duplicate is a user error"
like "$err" "tenant 'acme' already has contact 'Front desk' with number '200'" "the duplicate is named"
err=$(sp phonebook add --tenant nope --name X --number 1 2>&1)
like "$err" "nope" "an unknown tenant is named"
sp phonebook add --tenant acme --name X >/dev/null 2>&1
is "$?" 2 "a missing --number is a usage error"
is "$(count)" "$before" "no refused add wrote a row"

js=$(sp --json phonebook list --tenant acme)
is "$(echo "$js" | jq length)" 4 "list --json has acme's four contacts"
is "$(echo "$js" | jq -r '.[] | select(.number=="201") | .name + "|" + .mobile + "|" + .other')" \
	"<script>&\"'|+4915112345|*99#" "a contact keeps its name, mobile and other number"
unlike "$(sp phonebook list --tenant acme)" "Secret Person" "another tenant's contact is not listed"
out=$(sp phonebook rm --tenant acme --name 'Zoë Müller'); rc=$?
is "$rc" 0 "rm exits 0"
like "$out" "removed from tenant acme \\(2 entries\\)" "rm removes every entry of the name"
err=$(sp phonebook rm --tenant acme --name 'Zoë Müller' 2>&1); rc=$?
is "$rc" 1 "rm of a missing name is a user error"
like "$err" "tenant 'acme' has no contact 'Zoë Müller'" "and names it"
sql_fk "DELETE FROM tenant WHERE slug='empty'"
is "$(count)" 3 "a tenant's contacts go with the tenant"

# ---- CLI: import ----
printf 'name,number,mobile,group\n"Müller, Hans",210,+491701234567,Sales\nLobby,211,,\n' >"$T/good.csv"
out=$(sp phonebook import "$T/good.csv" --tenant acme --dry-run); rc=$?
is "$rc" 0 "import --dry-run exits 0"
like "$out" "dry run: 2 contacts would be added to tenant acme; nothing written" "dry run says what it would do"
is "$(count)" 3 "dry run wrote nothing"
printf 'name,number,group\nOk One,300,\nBad Num,30-1,\n"Ctl\001",302,\nFront desk,200,\nOk One,300,\n' >"$T/bad.csv"
err=$(sp phonebook import "$T/bad.csv" --tenant acme 2>&1); rc=$?
is "$rc" 1 "an import with bad rows is a user error"
like "$err" "row 2 \\(line 3\\), column 'number': '30-1': use only the digits" "a bad number: row, line and column"
like "$err" "row 3 \\(line 4\\), column 'name': 'Ctl\\\\x01' is not UTF-8 text" "a control character: row and column"
like "$err" "row 4 \\(line 5\\), column 'number': contact 'Front desk' with number '200' is already in" \
	"a contact already stored: row and column"
like "$err" "row 5 \\(line 6\\), column 'number': contact 'Ok One' with number '300' is already in .*earlier in this file" \
	"a duplicate within the file: row and column"
like "$err" "4 errors; nothing written" "it counts the errors and says nothing was written"
is "$(count)" 3 "the good rows of a bad file were not written either"
printf 'name,phone\nA,1\n' >"$T/cols.csv"
err=$(sp phonebook import "$T/cols.csv" --tenant acme 2>&1)
like "$err" "unknown column 'phone' \\(known: name, number, mobile, other, group\\)" "an unknown column is named"
like "$err" "missing required column 'number'" "a missing column is named"
printf 'name,number\n"unterminated,1\n' >"$T/quote.csv"
err=$(sp phonebook import "$T/quote.csv" --tenant acme 2>&1); rc=$?
is "$rc" 1 "a malformed CSV is a user error"
like "$err" "row 1 \\(line 2\\)" "and its row is named"
is "$(count)" 3 "nothing written by refused imports"
out=$(sp phonebook import "$T/good.csv" --tenant acme); rc=$?
is "$rc" 0 "import exits 0"
like "$out" "2 contacts added to tenant acme" "import says how many"
is "$(sp --json phonebook list --tenant acme | jq -r '.[] | select(.number=="210") | .name + "|" + .mobile + "|" + .group')" \
	"Müller, Hans|+491701234567|Sales" "a quoted name with a comma, its mobile and group are stored"
is "$(count)" 5 "five contacts after the import"

# ---- serving ----
# Parse a phonebook back into sorted "name<TAB>number" lines, checking the
# root element of the vendor's format; exits 1 on anything unexpected.
cat >"$T/pb.py" <<'PY'
import sys, xml.etree.ElementTree as ET
fmt, path = sys.argv[1], sys.argv[2]
root = ET.parse(path).getroot()
spec = {  # root, entry path, name child, number children
    "yealink": ("YealinkIPPhoneDirectory", "DirectoryEntry", "Name", ["Telephone"]),
    "fanvil": ("FanvilIPPhoneDirectory", "DirectoryEntry", "Name", ["Telephone", "Mobile", "Other"]),
    "cisco": ("CiscoIPPhoneDirectory", "DirectoryEntry", "Name", ["Telephone"]),
    "polycom": ("directory", "item_list/item", "ln", ["ct"]),
    "snom": ("tbook", "item", "first_name", ["number"]),
    "grandstream": ("AddressBook", "Contact", "FirstName", ["Phone/phonenumber"]),
}[fmt]
if root.tag != spec[0]:
    sys.exit("root is %s, not %s" % (root.tag, spec[0]))
out = []
for e in root.findall(spec[1]):
    name = e.findtext(spec[2])
    for tag in spec[3]:
        for n in e.findall(tag):
            out.append("%s\t%s" % (name, n.text))
if fmt == "grandstream":  # groups: declared once, referenced by id
    groups = {g.findtext("id"): g.findtext("name") for g in root.findall("pbgroup")}
    for e in root.findall("Contact"):
        if e.findtext("Group") is not None:
            out.append("group\t%s\t%s" % (e.findtext("FirstName"), groups[e.findtext("Group")]))
print("\n".join(sorted(out)))
PY
expect() { # tenant [with-groups]
	sp --json phonebook list --tenant "$1" | jq -r --arg g "${2:-}" \
		'.[] | (.name + "\t" + (.number, .mobile, .other | select(. != ""))),
		       (select($g != "" and .group != "") | "group\t" + .name + "\t" + .group)' | LC_ALL=C sort
}
pyexpect() { expect "$@" | python3 -c 'import sys; print("\n".join(sorted(sys.stdin.read().splitlines())))'; }

i=0
for L in yealink polycom cisco grandstream snom fanvil; do
	i=$((i + 1))
	sp device add "0015650000a$i" --tenant acme --layout $L >/dev/null 2>&1
	eval "PW_$L=\$(sp device credentials 0015650000a$i | sed -n 's/^  password: *//p')"
done
sp device add 0015650000b1 --tenant other --layout yealink >/dev/null 2>&1
PW_other=$(sp device credentials 0015650000b1 | sed -n 's/^  password: *//p')
sp device add 0015650000c1 --tenant acme --layout linphone >/dev/null 2>&1
ok $? "a linphone device in acme (a layout without a phonebook format)"
PW_linphone=$(sp device credentials 0015650000c1 | sed -n 's/^  password: *//p')
like "$PW_linphone" '^[0-9a-f]{16,}$' "with digest credentials"

start_sipprovd -o fail_threshold=1000
get() { # url user password out -> status
	curl -s -o "$4" -w '%{http_code}' --digest -u "$2:$3" "$1"
}
i=0
for L in yealink polycom cisco grandstream snom fanvil; do
	i=$((i + 1))
	eval "pw=\$PW_$L"
	st=$(get "$URL/pb/0015650000a$i.xml" "0015650000a$i" "$pw" "$T/$L.xml")
	is "$st" 200 "$L: /pb/{mac}.xml with the device's digest credentials: 200"
	[ "$st" = 200 ] || diag "$(grep deny "$SIPPROVD_LOG" | tail -2) pw=$pw"
	xmllint --noout "$T/$L.xml" 2>"$T/lint"
	ok $? "$L: well-formed XML (xmllint)$(head -c 200 "$T/lint")"
	got=$(python3 "$T/pb.py" $L "$T/$L.xml" 2>&1)
	want=$(pyexpect acme $([ $L = grandstream ] && echo groups))
	is "$got" "$want" "$L: the entries parsed back are acme's contacts"
	unlike "$(cat "$T/$L.xml")" "Secret Person|999" "$L: the other tenant's contact is absent"
	unlike "$(cat "$T/$L.xml")" "<script>" "$L: the hostile name is escaped"
done
ct=$(curl -s -o /dev/null -w '%{content_type}' --digest -u "0015650000a1:$PW_yealink" "$URL/pb/0015650000a1.xml")
is "$ct" "text/xml; charset=utf-8" "served as text/xml"
st=$(get "$URL/pb/0015650000a4/phonebook.xml" 0015650000a4 "$PW_grandstream" "$T/gs2.xml")
is "$st" 200 "grandstream: /pb/{mac}/phonebook.xml (P331 path + phonebook.xml): 200"
cmp -s "$T/gs2.xml" "$T/grandstream.xml"
ok $? "grandstream: the same phonebook at both paths"
st=$(get "$URL/0015650000A2-directory.xml" 0015650000a2 "$PW_polycom" "$T/pc2.xml")
is "$st" 200 "polycom: /{MAC}-directory.xml from the boot server: 200"
cmp -s "$T/pc2.xml" "$T/polycom.xml"
ok $? "polycom: the same phonebook at both paths"
st=$(get "$URL/pb/0015650000b1.xml" 0015650000b1 "$PW_other" "$T/other.xml")
is "$st" 200 "the other tenant's phone gets its phonebook"
is "$(python3 "$T/pb.py" yealink "$T/other.xml")" "$(printf 'Secret Person\t999')" "with only its tenant's contact"

# ---- refusals: byte-identical to a config refusal ----
# Status line and every header but Date, with the digest nonce masked (it
# is fresh per challenge), then the body.
refusal() { # url [curl args...] -> normalized response
	u=$1; shift
	curl -s -D "$T/h" -o "$T/b" "$@" "$u"
	grep -v '^Date:' "$T/h" | sed 's/nonce="[^"]*"/nonce="N"/'
	cat "$T/b"
}
base=$(refusal "$URL/0015650000ff.cfg")
like "$base" "^HTTP/1.1 401" "the config refusal of an unknown MAC is a 401"
like "$base" "WWW-Authenticate: Digest" "with a digest challenge"
# curl --digest asks twice (challenge, then answer): two refusals.
base2=$(refusal "$URL/0015650000a1.cfg" --digest -u 0015650000a1:wrong)
is "$(echo "$base2" | grep -c '^HTTP/1.1 401')" 2 "a known phone's config with a wrong password: refused twice"
nb=$(echo "$base2" | wc -l); n1=$(echo "$base" | wc -l)
is "$(echo "$base2" | tail -n "$n1")" "$base" "the last refusal is the unknown MAC's ($nb lines)"
is "$(refusal "$URL/pb/0015650000ff.xml")" "$base" "unknown MAC phonebook: identical to the config refusal"
is "$(refusal "$URL/pb/0015650000a1.xml")" "$base" "known MAC without credentials: identical"
is "$(refusal "$URL/pb/0015650000a1.xml" --digest -u 0015650000a1:wrong)" "$base2" "wrong password: identical"
is "$(refusal "$URL/pb/0015650000a1.xml" --digest -u "0015650000b1:$PW_other")" "$base2" \
	"another tenant's phone's credentials: identical"
is "$(refusal "$URL/pb/0015650000ff.xml" --digest -u "0015650000a1:$PW_yealink")" "$base2" \
	"valid credentials on an unknown MAC's URL: identical"
is "$(refusal "$URL/0015650000a1-directory.xml" --digest -u "0015650000a1:$PW_yealink")" "$base2" \
	"a Yealink phone asking for the Polycom file name: identical (as a wrong-vendor config)"
is "$(refusal "$URL/pb/0015650000c1.xml" --digest -u "0015650000c1:$PW_linphone")" "$base2" \
	"a layout without a phonebook format (linphone): identical"
is "$(refusal "$URL/pb/0015650000a1.xml/x")" "$(refusal "$URL/0015650000a1.cfg/x")" \
	"a path that is no phonebook falls through to the device routes"
log=$(cat "$T/access.log")
like "$log" '"GET /pb/0015650000a1.xml" 200 [0-9]+ "[^"]*" 0015650000a1' "a served phonebook is in the access log with its MAC"
done_testing
