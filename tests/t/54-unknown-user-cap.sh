#!/bin/sh
# A flood of made-up users over HEP (a username scanner, or forged HEP from
# an allowed sender) opens at most unknown_user_per_source unknown_user
# events per phone address and unknown_user_max in all; what was not
# recorded is counted, and a known user still registers afterwards.
. "$(dirname "$0")/../lib.sh"
need curl python3 sqlite3
HP=$(free_port)
SEND="python3 $ROOT/tests/hep_send.py"

sp init >/dev/null || bail "init"
start_sipprovd -o hep_listen=127.0.0.1:$HP -o unknown_user_per_source=5 -o unknown_user_max=20

q() { sql "$1"; }
open_unknown() { q "SELECT count(*) FROM drift_event WHERE kind='unknown_user' AND resolved=0"; }
wait_total() { # wait until recorded + dropped reaches $1
	for _ in $(seq 1 100); do
		seen=$(( $(q "SELECT count(*) FROM registration") + $(metric 'sipprov_drift_unknown_dropped_total{cap="per_source"}') \
			+ $(metric 'sipprov_drift_unknown_dropped_total{cap="total"}') ))
		[ "$seen" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# 300 made-up users from one phone address.
$SEND $HP flood 300 1 403 one; ok $? "300 junk REGISTER/403 pairs from one source sent"
wait_total 300; ok $? "all 300 accounted for (recorded or counted as dropped)"
is "$(open_unknown)" 5 "one source opened unknown_user_per_source = 5 events"
is "$(q "SELECT count(*) FROM registration")" 5 "and left 5 registration rows"
is "$(metric 'sipprov_drift_unknown_dropped_total{cap="per_source"}')" 295 "295 counted as dropped by the per-source cap"

# 2,000 more from 100 addresses: the total cap holds.
$SEND $HP flood 2000 100 403 many; ok $? "2,000 junk pairs from 100 sources sent"
wait_total 2300; ok $? "all 2,300 accounted for"
is "$(open_unknown)" 20 "unknown_user_max = 20 events open in all"
is "$(q "SELECT count(*) FROM registration")" 20 "20 registration rows in all"
dropped=$(( $(metric 'sipprov_drift_unknown_dropped_total{cap="per_source"}') + $(metric 'sipprov_drift_unknown_dropped_total{cap="total"}') ))
is "$dropped" 2280 "2,280 counted as not recorded"
like "$(metric 'sipprov_drift_unknown_dropped_total{cap="total"}')" '^[1-9][0-9]*$' "the total cap is counted by name"
like "$(cat "$SIPPROVD_LOG")" "drift: unknown user .* not recorded: .*unknown_user" "the log says what was not recorded"

# An open event is still bumped (no new row), and a real user still lands.
$SEND $HP register again-1 1 one0 && $SEND $HP response again-1 1 403
for _ in $(seq 1 50); do [ "$(q "SELECT count FROM drift_event WHERE observed='one0@example.test'")" = 2 ] && break; sleep 0.1; done
is "$(q "SELECT count FROM drift_event WHERE observed='one0@example.test'")" 2 "a repeat of an open unknown user bumps its count"
if backend_is sqlite; then
	size=$(du -k "$DB-wal" 2>/dev/null | cut -f1)
	diag "WAL after 2,300 junk pairs: ${size:-0} KiB"
fi
stop_sipprovd
is "$SIPPROVD_RC" 0 "sipprovd exits cleanly"
done_testing
