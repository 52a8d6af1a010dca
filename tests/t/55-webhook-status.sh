#!/bin/sh
# POST /api/v1/registrations answers by whose fault a failure is: bad JSON
# 400 (do not retry); a database locked by another writer 503 with
# Retry-After (retry), then 202 once the lock is gone.  Wrong bearer tokens
# count toward the per-address lockout like failed device fetches (429).
. "$(dirname "$0")/../lib.sh"
need curl sqlite3
sp init >/dev/null || bail "init"
start_sipprovd -o api_token=hook-token-1 -o fail_threshold=5 -o fail_window=60 -o lockout_seconds=60

post() { # post TOKEN BODY -> "code" (headers in $T/h)
	curl -sS -o "$T/body" -D "$T/h" -w '%{http_code}' -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' --data-binary "$2" "$URL/api/v1/registrations"
}
GOOD='{"username":"alice","registrar":"example.test","code":200,"src_ip":"192.0.2.10"}'

is "$(post hook-token-1 "$GOOD")" 202 "a good registration is accepted (202)"
is "$(post hook-token-1 '{"username": ')" 400 "bad JSON is the sender's fault (400)"
like "$(cat "$T/body")" "invalid JSON" "and says what is wrong"
is "$(post hook-token-1 '{"username":"a","code":200,"nope":1}')" 400 "an unknown key is 400"

# Another writer holds the database (as an import would) for 7 s.
hold_lock 7
code=$(post hook-token-1 "$GOOD")
is "$code" 503 "a locked database is the server's fault (503)"
like "$(tr -d '\r' < "$T/h")" "Retry-After: [0-9]+" "with Retry-After"
like "$(cat "$SIPPROVD_LOG")" "webhook not recorded: .*locked.* ip=127.0.0.1" "the daemon log says why"
wait "$HOLDER"
is "$(post hook-token-1 "$GOOD")" 202 "after the lock is released the retry is accepted"
is "$(sql "SELECT count(*) FROM registration WHERE username='alice'")" 2 "two registrations recorded (none from the 503)"

# Token guessing: 5 failures lock the address out.
codes=""
for i in 1 2 3 4 5 6; do codes="$codes $(post "wrong-$i" "$GOOD")"; done
is "$codes" " 401 401 401 401 401 429" "five wrong tokens, then 429"
is "$(post hook-token-1 "$GOOD")" 429 "the right token is locked out too until lockout_seconds pass"
like "$(cat "$SIPPROVD_LOG")" "lockout: too many failed webhook tokens ip=127.0.0.1" "the lockout is logged"
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
