#!/bin/sh
# Client bytes in log lines: a digest user name and a path carrying ESC,
# CR and LF reach the daemon and access logs as \xNN (one escaping,
# sp_log_escape), never as terminal escapes or split lines; a token URL
# appears in no log line, served or refused.
. "$(dirname "$0")/../lib.sh"
need curl python3
HTTP="python3 $ROOT/tests/peers/sp_http.py"

sp init >/dev/null
sp tenant add dig --device-auth digest >/dev/null
sp template set dig main registrar=example.test >/dev/null
sp tenant set dig --default-template main >/dev/null
sp device add 001565000010 --tenant dig --layout yealink >/dev/null
sp account add 001565000010 --username u10 --auth-username a10 --password 'pw10' >/dev/null
sp device credentials 001565000010 >/dev/null
sp tenant add soft --device-auth token >/dev/null
sp template set soft main registrar=example.test >/dev/null
sp tenant set soft --default-template main >/dev/null
soft=$(sp device add --tenant soft --layout linphone | sed -n 's/^device \([0-9a-f]*\) added.*/\1/p')
tok=$(sp account add "$soft" --username s1 --auth-username s1auth --password 'pwS' | sed -n 's|.*/s/\([0-9a-f]*\).*|\1|p')
like "$tok" '^[0-9a-f]{32}$' "softphone token"

start_sipprovd -v

# Digest user name with ESC, CR and a fake log line after a LF-less CR.
AUTH='Authorization: Digest username="ev\x1b[31mil\rFAKE 200 \x27x", realm="sipprov", nonce="00", uri="/001565000010.cfg", response="00000000000000000000000000000000"'
r=$($HTTP raw 127.0.0.1 "$PORT" "GET /001565000010.cfg HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\x1b]0;pwned\x07\r\n$AUTH\r\nConnection: close\r\n\r\n")
like "$r" '^401 ' "hostile digest user: refused"
# A path with ESC and DEL (raw bytes in the request line).
r=$($HTTP raw 127.0.0.1 "$PORT" "GET /x\x1b[2J\x7fy.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
like "$r" '^404 ' "hostile path: 404"
# A wrong token: the real one with its last digit changed (to 0, or to 1
# when it already ends in 0: one token in 16 does).
case $tok in *0) guess=${tok%?}1 ;; *) guess=${tok%?}0 ;; esac
curl -s -o /dev/null "$URL/s/$tok"
curl -s -o /dev/null "$URL/s/$guess"
sleep 0.2
stop_sipprovd

logs="$T/sipprovd.log $T/access.log"
if LC_ALL=C grep -q "$(printf '\033')" $logs; then ok 1 "no ESC byte in any log"; else ok 0 "no ESC byte in any log"; fi
if LC_ALL=C grep -q "$(printf '\r')" $logs; then ok 1 "no CR in any log"; else ok 0 "no CR in any log"; fi
if LC_ALL=C grep -q "$(printf '\007')" $logs; then ok 1 "no BEL in any log"; else ok 0 "no BEL in any log"; fi
grep -q '^FAKE' $logs; ok $((! $?)) "no forged line starts at the CR"
# The bare CR: libmicrohttpd keeps it (logged \x0d); the own listener
# makes it a space first, as RFC 9112 2.2 lets a recipient do.
user_cr='ev\x1b[31mil\x0dFAKE 200 \x27x' user_sp='ev\x1b[31mil FAKE 200 \x27x'
grep -qF -e "$user_cr" -e "$user_sp" "$T/sipprovd.log"; ok $? "daemon log: the digest user, escaped"
grep -qF -e "$user_cr" -e "$user_sp" "$T/access.log"; ok $? "access log: the digest user, escaped"
grep -qF '"ua\x1b]0;pwned\x07"' "$T/access.log"; ok $? "access log: the User-Agent, escaped"
grep -qF '"GET /x\x1b[2J\x7fy.cfg" 404' "$T/access.log"; ok $? "access log: the path, escaped"
grep -qF "$tok" $logs; ok $((! $?)) "the token appears in no log line"
grep -qF "$guess" $logs; ok $((! $?)) "nor does a refused token guess"
is "$(grep -c '"GET /s/<redacted>" 200 ' "$T/access.log")" 1 "the token fetch is logged, redacted"
is "$(grep -c '"GET /s/<redacted>" 401 ' "$T/access.log")" 1 "the refused guess too"
done_testing
