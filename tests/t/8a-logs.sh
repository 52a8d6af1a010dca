#!/bin/sh
# Logs as operations read them.  The access log in its three formats
# (sipprov, Apache/nginx combined, combined plus microseconds), with the
# protocol, HEAD logged as HEAD, token URLs redacted and client bytes
# escaped in each, switched by SIGHUP; syslog priority prefixes on the
# daemon's standard error when it is the journal (JOURNAL_STREAM matches its
# dev:ino) or when log_priority_prefix=yes, and never otherwise.
. "$(dirname "$0")/../lib.sh"
need curl python3 stat
HTTP="python3 $ROOT/tests/peers/sp_http.py"

sp init >/dev/null
sp tenant add open --device-auth none >/dev/null
sp template set open main registrar=example.test >/dev/null
sp tenant set open --default-template main >/dev/null
sp device add 0015650008a1 --tenant open --layout yealink >/dev/null
sp tenant add soft --device-auth token >/dev/null
sp template set soft main registrar=example.test >/dev/null
sp tenant set soft --default-template main >/dev/null
soft=$(sp device add --tenant soft --layout linphone | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
tok=$(sp account add "$soft" --username s1 --auth-username s1auth --password 'pwS' | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
like "$tok" '^[0-9a-f]{32}$' "softphone token"
A="$T/access.log"
conf="$T/sipprovd.conf"
printf 'access_log_format = sipprov\n' > "$conf"

start_sipprovd -f "$conf"
curl -s -o /dev/null -A 'Yealink SIP-T46G 66.86.0.15' "$URL/0015650008a1.cfg"
curl -s -o /dev/null -I -A 'Yealink SIP-T46G 66.86.0.15' "$URL/0015650008a1.cfg"
sleep 0.2
l1=$(sed -n 1p "$A"); l2=$(sed -n 2p "$A")
like "$l1" '^[0-9-]{10}T[0-9:]{8}Z 127\.0\.0\.1 "GET /0015650008a1\.cfg" 200 [1-9][0-9]* "Yealink SIP-T46G 66\.86\.0\.15" 0015650008a1$' \
	"sipprov format (the default): unchanged"
like "$l2" '"HEAD /0015650008a1\.cfg" 200 0 "Yealink' "a HEAD is logged as HEAD, with no body bytes"

# combined, by SIGHUP
printf 'access_log_format = combined\n' > "$conf"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do grep -q 'reloaded configuration' "$SIPPROVD_LOG" && break; sleep 0.05; done
: > "$A.before"; cp "$A" "$A.before"
curl -s -o /dev/null -A 'Yealink SIP-T46G' -e 'http://ref.example/x' "$URL/0015650008a1.cfg"
curl -s -o /dev/null --http1.0 -A '' "$URL/0015650008a1.cfg"
curl -s -o /dev/null "$URL/s/$tok"
$HTTP raw 127.0.0.1 "$PORT" "GET /0015650008a1.cfg HTTP/1.1\r\nHost: x\r\nReferer: r\x1b[2Jx\"y\r\nUser-Agent: ua\x07\r\nConnection: close\r\n\r\n" >/dev/null
sleep 0.2
new=$(tail -n +$(($(wc -l < "$A.before") + 1)) "$A")
c1=$(echo "$new" | sed -n 1p); c2=$(echo "$new" | sed -n 2p); c3=$(echo "$new" | sed -n 3p); c4=$(echo "$new" | sed -n 4p)
like "$c1" '^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "GET /0015650008a1\.cfg HTTP/1\.1" 200 [1-9][0-9]* "http://ref\.example/x" "Yealink SIP-T46G"$' \
	"combined after SIGHUP: Apache/nginx combined with the protocol and Referer"
like "$c2" '"GET /0015650008a1\.cfg HTTP/1\.0" 200 [0-9]+ "-" "-"$' "HTTP/1.0 is logged as such; no Referer or User-Agent: \"-\""
like "$c3" '"GET /s/<redacted> HTTP/1\.1" 200 ' "a token URL is redacted in combined"
grep -qF "$tok" "$A"; ok $((! $?)) "the token appears in no access log line"
like "$c4" '"r\\x1b\[2Jx\\x22y" "ua\\x07"$' "client bytes in Referer and User-Agent escaped (ESC, quote, BEL)"
[ "$(python3 -c "import re,sys
pat=re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] \"([^\"]*)\" (\d{3}) (\d+|-) \"([^\"]*)\" \"([^\"]*)\"\$')
print(all(pat.match(l) for l in open('$A').read().splitlines()[-4:]))")" = True ]
ok $? "every combined line parses with the standard combined pattern"

# combined_duration
printf 'access_log_format = combined_duration\n' > "$conf"
kill -HUP "$SIPPROVD_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'reloaded configuration' "$SIPPROVD_LOG")" -ge 2 ] && break; sleep 0.05; done
curl -s -o /dev/null "$URL/0015650008a1.cfg"
curl -s -o /dev/null "$URL/0015650008ff.cfg"
sleep 0.2
d1=$(tail -2 "$A" | head -1); d2=$(tail -1 "$A")
like "$d1" '"GET /0015650008a1\.cfg HTTP/1\.1" 200 [0-9]+ "-" "curl/[^"]*" [0-9]+$' "combined_duration: combined, then microseconds"
like "$d2" '"GET /0015650008ff\.cfg HTTP/1\.1" 401 ' "a refusal is logged too"
us=${d1##* }
[ "$us" -gt 0 ] && [ "$us" -lt 5000000 ]; ok $? "the duration is plausible ($us us)"
stop_sipprovd

# Bad values: refused at start, the key named.
out=$("$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o access_log_format=apache 2>&1)
like "$?:$out" "^1:.*access_log_format 'apache' unknown" "an unknown access_log_format is refused, named"
out=$("$SIPPROVD" -n -o database="$DB" -o templates="$ROOT/templates" -o log_priority_prefix=maybe 2>&1)
like "$?:$out" "^1:.*log_priority_prefix 'maybe' unknown" "an unknown log_priority_prefix is refused, named"

# Priority prefixes.  daemon JS [-o ...]: run sipprovd in the foreground
# with stderr to $T/d.log and JOURNAL_STREAM=JS ("" unset) until it is
# ready or exits, then stop it.
daemon() {
	_js=$1; shift
	: > "$T/d.log"
	[ "$_js" = self ] && _js=$(stat -c '%d:%i' "$T/d.log")
	if [ -n "$_js" ]; then export JOURNAL_STREAM="$_js"; else unset JOURNAL_STREAM; fi
	# No admin listener: its default port (8081) is fixed, and make test
	# runs this file in two suites side by side.
	"$SIPPROVD" -d -o database="$DB" -o templates="$ROOT/templates" -o http_listen=127.0.0.1:0 \
		-o hep_listen= -o admin_listen= -o access_log= "$@" 2>>"$T/d.log" &
	_p=$!; track_pid $_p
	for _ in $(seq 1 100); do grep -q 'ready (' "$T/d.log" && break; kill -0 $_p 2>/dev/null || break; sleep 0.05; done
	kill -TERM $_p 2>/dev/null; wait $_p 2>/dev/null
	unset JOURNAL_STREAM
}
# A warning at start for the priority checks: on SQLite a database file
# readable by others; PostgreSQL has no file of ours, so there an access
# log that cannot be opened (a folder that does not exist) warns instead.
if backend_is sqlite; then
	chmod 0644 "$DB"
	warn_opt="-o access_log="
	warn_re="is readable by others"
else
	warn_opt="-o access_log=$T/nowhere/access.log"
	warn_re="cannot open access log"
fi
# shellcheck disable=SC2086 # warn_opt is two words
daemon "" $warn_opt
like "$(head -1 "$T/d.log")" "^warning: .*$warn_re" "no JOURNAL_STREAM: no prefix"
grep -q '^sipprovd .* ready (' "$T/d.log"; ok $? "(and the daemon started)"
# The journal case: JOURNAL_STREAM names the file stderr is (dev:ino).
# shellcheck disable=SC2086
daemon self $warn_opt
grep -q '^<6>sipprovd .* ready (' "$T/d.log"; ok $? "stderr is the journal: info lines start with <6>"
grep -q "^<4>warning: .*$warn_re" "$T/d.log"; ok $? "warnings with <4>"
is "$(grep -vc '^<[3467]>' "$T/d.log")" 0 "every line has a priority"
daemon self -o log_level=loud
grep -q "^<3>fatal: log_level 'loud' unknown" "$T/d.log"; ok $? "errors with <3> (even before the configuration is read)"
daemon self -o log_level=debug -o templates="$T/nowhere"
grep -q "^<3>fatal: " "$T/d.log"; ok $? "a fatal error at start with <3>"
daemon 1:1
grep -q '^sipprovd .* ready (' "$T/d.log"; ok $? "JOURNAL_STREAM naming another file (stderr redirected): no prefix"
daemon self -o log_priority_prefix=no
grep -q '^sipprovd .* ready (' "$T/d.log"; ok $? "log_priority_prefix=no: no prefix on the journal"
daemon "" -o log_priority_prefix=yes
grep -q '^<6>sipprovd .* ready (' "$T/d.log"; ok $? "log_priority_prefix=yes: prefixed without the journal"
done_testing
