#!/bin/sh
# Migrations run only at `sipprov migrate` or sipprovd start, after an
# automatic backup.  A database built from the released 001-003 schema
# with data: every other command refuses it ("run sipprov migrate") and
# leaves it unchanged; migrate backs it up (online backup, 0600, named
# .pre-003.bak, holding the old data) and upgrades it, data kept.  A
# database missing a number below its highest (a gap) gets it.  A database
# newer than the binary is refused by the CLI, migrate and the daemon,
# naming both versions.  A database at 026 with fetch history: 027 turns
# it into each device's chain, in the order written, every row kept.
# `sipprov init` still creates the newest schema.
. "$(dirname "$0")/../lib.sh"
only_backend sqlite "old SQLite files built from the 001-003 schema by hand, migrate's .pre-NNN.bak file backup, \
integrity_check (schema/pg's migrations: 9c)"
need sqlite3 sha256sum curl openssl
umask 022
newest=$(ls "$ROOT"/schema/*.sql | sed -n 's|.*/0*\([0-9][0-9]*\)_[^/]*$|\1|p' | sort -n | tail -1)
newest3=$(printf %03d "$newest")
old_db() { # old_db PATH: schema 001-003 as a released sipprov left it, with rows
	{
		echo "PRAGMA foreign_keys=ON;"
		echo "CREATE TABLE schema_migration (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL);"
		for f in "$ROOT"/schema/00[1-3]_*.sql; do
			cat "$f"
			b=$(basename "$f" .sql)
			echo "INSERT INTO schema_migration VALUES (${b%%_*} + 0, '$b', 0);"
		done
		echo "INSERT INTO tenant (id, slug, name, created) VALUES (1, 'oldco', 'Old Co', 0);"
		echo "INSERT INTO device (id, mac, tenant_id, layout, label, created) VALUES (1, '001565aabbcc', 1, 'yealink', 'front desk', 0);"
	} | sqlite3 "$1"
}
sum() { sha256sum < "$1" | cut -c1-32; }

old_db "$DB"
sqlite3 "$DB" .dump > "$T/old.dump"
s0=$(sum "$DB")
for cmd in "device list" "tenant list" "status" "export --tenant oldco" "drift"; do
	out=$(sp $cmd 2>&1); rc=$?
	is "$rc" 1 "'$cmd' on a schema-003 database: exit 1"
	like "$out" "error: database '$DB' is at schema 003, this sipprov .* needs $newest3: run 'sipprov migrate'" \
		"'$cmd': names both versions and says to run sipprov migrate"
done
out=$(sp init 2>&1); rc=$?
is "$rc" 1 "'init' does not migrate either"
like "$out" "run 'sipprov migrate'" "(and says so)"
is "$(sum "$DB")" "$s0" "nothing changed the database"
is "$(sqlite3 "$DB" 'SELECT max(number) FROM schema_migration')" 3 "still at 003"

out=$(sp migrate); rc=$?
is "$rc" 0 "sipprov migrate: exit 0"
like "$out" "backed up $DB to $DB.pre-003.bak \(mode 0600\)" "it says where the backup went"
like "$out" "migrated database $DB from schema 003 to $newest3" "and what it did"
is "$(stat -c %a "$DB.pre-003.bak")" 600 "the backup is mode 0600 (umask 022)"
sqlite3 "$DB.pre-003.bak" .dump > "$T/bak.dump"
cmp -s "$T/old.dump" "$T/bak.dump"; ok $? "the backup holds the database as it was before (.dump equal)"
is "$(sqlite3 "$DB.pre-003.bak" 'PRAGMA integrity_check')" ok "the backup passes integrity_check"
want=$(ls "$ROOT"/schema/*.sql | sed -n 's|.*/0*\([0-9][0-9]*\)_[^/]*$|\1|p' | sort -n | tr '\n' ' ')
is "$(sqlite3 "$DB" 'SELECT number FROM schema_migration ORDER BY number' | tr '\n' ' ')" "$want" \
	"every migration is recorded"
is "$(sp device list | awk '$1 == "001565aabbcc" {print $2, $3}')" "oldco yealink" "the device is still there"
is "$(sqlite3 "$DB" "SELECT name FROM tenant WHERE slug = 'oldco'")" "Old Co" "the tenant too"
out=$(sp migrate); rc=$?
is "$rc" 0 "a second migrate: exit 0"
like "$out" "is at schema $newest3: nothing to migrate" "nothing to do"
[ ! -e "$DB.pre-$newest3.bak" ]; ok $? "and no backup"
sp tenant add newco >/dev/null; ok $? "the CLI works on the migrated database"

# A gap: 007 missing below the highest recorded number gets applied.
sqlite3 "$DB" "DROP INDEX drift_unknown_src; ALTER TABLE drift_event DROP COLUMN src_ip; DELETE FROM schema_migration WHERE number = 7"
like "$(sp device list 2>&1)" "lacks migration 007 .*run 'sipprov migrate'" "a database missing 007 is refused"
out=$(sp migrate); rc=$?
is "$rc" 0 "migrate fills the gap"
like "$out" "backed up $DB to $DB.pre-$newest3.bak" "after a backup named for its highest schema"
is "$(sqlite3 "$DB" "SELECT count(*) FROM schema_migration WHERE number = 7")" 1 "007 recorded"
is "$(sqlite3 "$DB" "SELECT count(*) FROM pragma_table_info('drift_event') WHERE name = 'src_ip'")" 1 "and applied"

# sipprovd migrates an old database at start, after a backup.
DB="$T/daemon.db"
old_db "$DB"
openssl rand -hex 32 > "$DB.key" && chmod 600 "$DB.key"
start_sipprovd
like "$(cat "$SIPPROVD_LOG")" "database $DB: migrated from schema 003 to $newest3, backup $DB.pre-003.bak" \
	"sipprovd migrated the old database at start and logged the backup"
is "$(stat -c %a "$DB.pre-003.bak")" 600 "its backup is mode 0600"
is "$(sqlite3 "$DB.pre-003.bak" 'SELECT max(number) FROM schema_migration')" 3 "and holds schema 003"
stop_sipprovd

# A database from a newer sipprov: refused by everything, unchanged.
sqlite3 "$DB" "INSERT INTO schema_migration VALUES (999, '999_future', 0)"
s0=$(sum "$DB")
out=$(sp device list 2>&1); rc=$?
is "$rc" 1 "CLI on a newer database: exit 1"
like "$out" "database '$DB' has schema 999, newer than this sipprov [0-9.]+ \(schema $newest3\)" "names both versions"
out=$(sp migrate 2>&1); rc=$?
is "$rc" 1 "migrate on a newer database: exit 1"
like "$out" "has schema 999, newer than this sipprov" "migrate names both versions"
out=$(sp backup "$T/x.bak" 2>&1); rc=$?
ok $((rc == 0)) "backup of a newer database: refused ($out)"
out=$(timeout 20 "$SIPPROVD" -d -f /dev/null -o database="$DB" -o templates="$ROOT/templates" \
	-o http_listen=127.0.0.1:0 -o hep_listen= 2>&1); rc=$?
ok $((rc == 0)) "sipprovd refuses to start on a newer database (exit $rc)"
like "$out" "has schema 999, newer than this sipprov [0-9.]+ \(schema $newest3\)" "and names both versions"
unlike "$out" "ready" "it never reported ready"
is "$(sum "$DB")" "$s0" "the newer database is unchanged"
ls "$DB".pre-999* >/dev/null 2>&1; ok $((! $?)) "and nothing was backed up"

# Schema 027: the fetch history a 026 database holds becomes each device's
# chain (fetch_log.prev, device.fetched_log), in the order it was written;
# the index by device and the foreign key go; every row stays.
DB="$T/h026.db"
{
	echo "PRAGMA foreign_keys=ON;"
	echo "CREATE TABLE schema_migration (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL);"
	for f in "$ROOT"/schema/0*.sql; do
		b=$(basename "$f" .sql)
		[ "${b%%_*}" -le 26 ] || continue
		cat "$f"
		echo "INSERT INTO schema_migration VALUES (${b%%_*} + 0, '$b', 0);"
	done
	echo "INSERT INTO tenant (id, slug, name, created) VALUES (1, 'histco', 'Hist Co', 0);"
	for i in 1 2 3; do
		echo "INSERT INTO device (id, mac, tenant_id, layout, created) VALUES ($i, '00156500000$i', 1, 'yealink', 0);"
	done
	echo "UPDATE device SET fetched_at = 1006, fetched_version = 4, fetched_ip = '192.0.2.1', fetched_ua = 'a3' WHERE id = 1;"
	n=0
	for r in 1:a1 2:b1 NULL:u1 1:a2 2:b2 1:a3 NULL:u2; do
		n=$((n + 1))
		echo "INSERT INTO fetch_log (id, device_id, at, ip, user_agent, status) VALUES (10$n, ${r%%:*}, 1000 + $n, '192.0.2.1', '${r#*:}', 200);"
	done
} | sqlite3 "$DB" || bail "building a schema-026 database"
is "$(sqlite3 "$DB" 'SELECT max(number) FROM schema_migration')" 26 "a database at schema 026 with fetch history"
out=$(sp migrate 2>&1); rc=$?
is "$rc" 0 "it migrates ($out)"
is "$(sqlite3 "$DB" "SELECT group_concat(user_agent || ':' || ifnull((SELECT p.user_agent FROM fetch_log p WHERE p.id = f.prev), '-'), ' ')
	FROM (SELECT * FROM fetch_log ORDER BY id) f")" "a1:- b1:- u1:- a2:a1 b2:b1 a3:a2 u2:-" \
	"each row names its device's previous row, in the order written; rows of no device name none"
is "$(sqlite3 "$DB" "SELECT group_concat(d.device_id || ':' || ifnull(f.user_agent, '-'), ' ') FROM device_fetch d
	LEFT JOIN fetch_log f ON f.id = d.fetched_log ORDER BY d.device_id")" "1:a3 2:b2 3:-" \
	"each device names its newest row, a device never fetched none"
# Schema 028: the last fetch's time, version and chain head move to
# device_fetch, one row per device; its address and User-Agent stay.
is "$(sqlite3 "$DB" "SELECT group_concat(f.device_id || ':' || f.fetched_at || ':' || f.fetched_version || ':' ||
	d.fetched_ua, ' ') FROM device_fetch f JOIN device d ON d.id = f.device_id ORDER BY f.device_id")" \
	"1:1006:4:a3 2:0:0: 3:0:0:" "every device has its device_fetch row, the last fetch kept"
is "$(sqlite3 "$DB" "SELECT count(*) FROM pragma_table_info('device') WHERE name IN ('fetched_at', 'fetched_version',
	'fetched_log')")" 0 "and those columns left the device row"
is "$(sqlite3 "$DB" "SELECT log FROM fetch_written")" 107 "every history row is named by a chain head (fetch_written)"
sqlite3 "$DB" "PRAGMA foreign_keys=ON; INSERT INTO device (mac, tenant_id, layout, created) VALUES ('001565000004', 1, 'yealink', 0);
	DELETE FROM device WHERE id = 2;"
is "$(sqlite3 "$DB" "SELECT group_concat(device_id, ' ') FROM device_fetch ORDER BY device_id")" "1 3 4" \
	"a new device gets its row, a deleted one's goes"
is "$(sqlite3 "$DB" "SELECT count(*) FROM fetch_log")" 7 "every row kept"
is "$(sqlite3 "$DB" "SELECT group_concat(name, ' ') FROM pragma_index_list('fetch_log')")" "fetch_log_at" \
	"fetch_log keeps its index by time only"
is "$(sqlite3 "$DB" "SELECT count(*) FROM pragma_foreign_key_list('fetch_log')")" 0 "and no foreign key"
is "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "the migrated file passes integrity_check"

# init still creates a fresh database at the newest schema, no backup.
DB="$T/fresh.db"
out=$(sp init); rc=$?
is "$rc" 0 "init on a new path: exit 0"
like "$out" "created database $DB \(schema $newest3\)" "at the newest schema"
is "$(sqlite3 "$DB" 'SELECT number FROM schema_migration ORDER BY number' | tr '\n' ' ')" "$want" "every migration recorded"
ls "$DB".pre-* >/dev/null 2>&1; ok $((! $?)) "no backup of a new database"
done_testing
