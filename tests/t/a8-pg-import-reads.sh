#!/bin/sh
# A CSV import on PostgreSQL reads per row only what it must: each read is
# a round trip there, and an MSP imports 100,000 rows in one transaction.
# The tenant and template rows come from the render memo after the first
# read (writers hold the one writer lock; the import writes neither); a
# device new in this file has no lines to read; validation's lookups go in
# one pipeline and the device check at the end reads its rows in another.
# Counted from the server's statement log (log_statement = all).  The
# answers stay right: a swap or max_per_user broken by an earlier row of
# the same file is refused by row, and re-importing replaces lines.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql awk
pg_start
export SIPPROV_KEY_FILE="$T/sp.key"
DB="$PGURL"
sp init >"$T/init.out" 2>&1; ok $? "sipprov init"
sp tenant add imp --max-per-user 2 >/dev/null; ok $? "tenant imp, max_per_user 2"
sp template set imp main registrar=sip.imp.test transport=udp port=5060 >/dev/null; ok $? "template main"
pg_sql postgres "ALTER DATABASE sipprov SET log_statement = 'all'" >/dev/null; ok $? "the server logs every statement"
LOG="$PG_DIR/server.log"
N=40

# gen N: N devices with one line each.
gen() {
	awk -v n="$1" 'BEGIN { print "mac,layout,template,line,extension,username,auth_username,password"
		for (i = 1; i <= n; i++) printf "0016000000%02x,yealink,main,1,%d,u%d,a%d,Pw-%d\n", i, 100 + i, i, i, i }'
}
# reads MARK PATTERN: statements run since log line MARK matching PATTERN.
reads() { tail -n +"$(($1 + 1))" "$LOG" | grep 'execute [^:]*: ' | grep -c -- "$2"; }
counts() { pg_sql sipprov "SELECT (SELECT count(*) FROM device)||'/'||(SELECT count(*) FROM account)"; }

gen "$N" > "$T/new.csv"
m=$(wc -l < "$LOG")
out=$(sp import "$T/new.csv" --tenant imp 2>&1); rc=$?
is "$rc" 0 "import of $N new devices"
like "$out" "$N devices created, 0 updated; $N lines added" "  all created"
is "$(counts)" "$N/$N" "  $N devices and lines in the database"
is "$(reads "$m" 'FROM tenant WHERE id = ')" 1 "  the tenant read by id once, not per row"
v=$(reads "$m" 'FROM template_version')
ok $([ "$v" -le 1 ]; echo $?) "  the template version read once, not per row ($v)"
is "$(reads "$m" 'AND line = ')" 0 "  no line read for a device new in the file"
is "$(reads "$m" 'FROM device LEFT JOIN device_fetch ON device_id = id WHERE id = ')" 0 \
	"  the check at the end reads no device by id"
is "$(reads "$m" 'device_id = id WHERE mac = ')" $((2 * N)) "  each device read by MAC twice: before its write, in the end check"
is "$(reads "$m" 'WHERE device_id = (SELECT id FROM device WHERE mac')" "$N" "  and its lines with it (the read-ahead)"
like "$(sp render 001600000001 2>&1)" 'account.1.auth_name = a1' "  a device renders its line"

m=$(wc -l < "$LOG")
out=$(sp import "$T/new.csv" --tenant imp 2>&1); rc=$?
is "$rc" 0 "the same file again"
like "$out" "0 devices created, $N updated; 0 lines added, $N replaced" "  every device updated, every line replaced"
is "$(reads "$m" 'AND line = ')" "$N" "  each existing device's line read"
is "$(counts)" "$N/$N" "  nothing duplicated"

# Validation sees the file's earlier rows inside the one transaction.
before=$(counts)
printf '%s\n' "mac,layout,template,line,username,auth_username,password" \
	"001600001001,yealink,main,1,swapa,swapb,pw1" "001600001002,yealink,main,1,swapc,swapa,pw2" > "$T/swap1.csv"
out=$(sp import "$T/swap1.csv" --tenant imp 2>&1); rc=$?
is "$rc" 1 "an auth_username equal to an earlier row's username is refused"
like "$out" 'row 2 .*auth_username "swapa" is the username of account 1 on 00:16:00:00:10:01: swap suspected' \
	"  named by row, with the other account"
printf '%s\n' "mac,layout,template,line,username,auth_username,password" \
	"001600001001,yealink,main,1,swapa,swapb,pw1" "001600001002,yealink,main,1,swapb,swapd,pw2" > "$T/swap2.csv"
out=$(sp import "$T/swap2.csv" --tenant imp 2>&1); rc=$?
is "$rc" 1 "a username equal to an earlier row's auth_username is refused"
like "$out" 'row 2 .*username "swapb" is the auth_username of account 1 on 00:16:00:00:10:01: swap suspected' \
	"  named by row, with the other account"
printf '%s\n' "mac,layout,template,line,username,auth_username,password" \
	"001600002001,yealink,main,1,shared,sh1,pw1" "001600002002,yealink,main,1,shared,sh2,pw2" \
	"001600002003,yealink,main,1,shared,sh3,pw3" > "$T/max.csv"
out=$(sp import "$T/max.csv" --tenant imp 2>&1); rc=$?
is "$rc" 1 "a third device for one username is refused (max_per_user 2)"
like "$out" 'row 3 .*username "shared" is already on 2 devices of tenant imp \(max_per_user 2\)' "  named by row"
is "$(printf '%s\n' "$out" | grep -c '^error: row')" 1 "  only that row"
is "$(counts)" "$before" "nothing written by the refused files"
head -3 "$T/max.csv" > "$T/max2.csv"
out=$(sp import "$T/max2.csv" --tenant imp 2>&1); rc=$?
is "$rc" 0 "two devices for one username pass"
done_testing
