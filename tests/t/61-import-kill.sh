#!/bin/sh
# kill -9 in the middle of a 100,000-row import leaves the database with all
# of the file or none of it, and (SQLite) PRAGMA integrity_check says ok;
# then the same import runs to completion on the recovered database.
. "$(dirname "$0")/../lib.sh"
need sqlite3 awk

sp init >/dev/null || bail "init failed"
sp tenant add acme >/dev/null || bail "tenant add failed"
sp template set acme main registrar=sip.acme.test server=sip.acme.test port=5060 transport=udp >/dev/null
awk 'BEGIN {
	print "mac,layout,model,label,template,line,display_name,extension,username,auth_username,password"
	for (i = 1; i <= 100000; i++)
		printf "02%010x,yealink,T46G,desk %d,main,1,User %d,%d,u%06d,a%06dx,pw-%d\n", i, i, i, 1000 + i, i, i, i
}' > "$T/big.csv"
counts() { sql "select (select count(*) from device)||'/'||(select count(*) from account)"; }

killed=0
for delay in 0.3 0.8 1.5 2.5; do
	# The binary itself, not the sp() function: $! must be the importing
	# process, or kill -9 hits a subshell and the import runs on.
	"$SIPPROV" -d "$DB" import "$T/big.csv" --tenant acme >"$T/out" 2>&1 &
	pid=$!
	sleep "$delay"
	if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
	wait "$pid" 2>/dev/null
	c=$(counts)
	case "$c" in 0/0|100000/100000) r=0 ;; *) r=1 ;; esac
	ok "$r" "after kill -9 at ${delay}s: all or nothing ($c)"
	if backend_is sqlite; then
		is "$(sql 'PRAGMA integrity_check')" ok "integrity_check ok after kill at ${delay}s"
	else
		skip_check "integrity_check reads a SQLite file; PostgreSQL rolls a killed client's transaction back \
(all or nothing above)"
	fi
	[ "$c" = "100000/100000" ] && break
done
ok "$([ "$killed" -ge 1 ]; echo $?)" "at least one import was killed while running ($killed)"
if [ "$(counts)" = "0/0" ]; then
	out=$(sp import "$T/big.csv" --tenant acme 2>&1); rc=$?
	is "$rc" 0 "the import then completes on the recovered database"
	diag "$out"
fi
is "$(counts)" "100000/100000" "100,000 devices and accounts in the end"
pgrep -f "import $T/big.csv" >/dev/null; ok "$([ $? -ne 0 ]; echo $?)" "no import process survived its kill"
is "$(sql "select count(*) from audit_log where action='import'")" 1 "one audit entry"
done_testing
