#!/bin/sh
# The PostgreSQL driver under the store (issue 17: db_pg.c, pg_sql.c) on a
# real throwaway cluster (tests/pglib.sh), migrated by `sipprov migrate`:
# build/tests/pg_driver checks round trips (int64 extremes, UTF-8, NULLs,
# blobs with NUL bytes), error classes, last_id across a trigger, changes,
# re-execution, the writers' lock and an aborted transaction through db.h;
# then prepares and runs every SQL statement written in server/core/store*.c
# (extracted by tests/support/sql_extract.py, so a new statement is covered
# without being listed) on the migrated schema; SQLite's own (its catalog,
# the fetch chain's columns of schema 027) must be refused there, by name
# or as an undefined column.  Nothing it prints carries the password.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/pglib.sh"
own_clusters
need psql python3
CHECK="$SP_BUILD/tests/pg_driver"
[ -x "$CHECK" ] || bail "$CHECK is missing (make unit builds it)"
pg_start

"$SIPPROV" -d "$PGURL" migrate >"$T/migrate.out" 2>&1; ok $? "sipprov migrate on \$PGURL"

# store_pg.c's statements are PostgreSQL's own (migrations): not the dialect the driver rewrites.
# store_copy.c builds its statements per table at run time (formats, not
# SQL) and runs some on its SQLite copy only: tests/t/a9-pg-copy.sh runs
# every one of them, on both sides.
python3 "$ROOT/tests/support/sql_extract.py" $(ls "$ROOT"/server/core/store*.c |
	grep -v -e '/store_pg\.c$' -e '/store_copy\.c$') \
	> "$T/stmts" || bail "sql_extract.py failed"
n=$(tr -cd '\0' < "$T/stmts" | wc -c)
[ "$n" -gt 100 ]; ok $? "extracted $n statements from store*.c"

BAD=$(printf %s "$PGURL" | sed "s|sp:$PGPASS@|sp:wrong-$PGPASS@|")
SP_PGURL="$PGURL" SP_PGURL_BAD="$BAD" SP_SQL="$T/stmts" "$CHECK" >"$T/check.out" 2>&1
rc=$?
# The checker's TAP, renumbered into this script's.
while IFS= read -r line; do
	case $line in
	"ok "*) ok 0 "${line#ok * - }" ;;
	"not ok "*) ok 1 "${line#not ok * - }" ;;
	"#"*) printf '%s\n' "$line" ;;
	esac
done < "$T/check.out"
is "$rc" 0 "the checker exits 0"
grep -q "^1\.\.[1-9]" "$T/check.out"; ok $? "the checker ran its plan"
grep -q 'store statements: [0-9]* ran' "$T/check.out"; ok $? "it reached the store's statements"
grep -q "wrong password\|password authentication failed" "$T/check.out"; ok $? "a wrong password is refused with libpq's words"

# The wrong password is one character different from the right one's
# prefix: neither may show anywhere.
if grep -F -e "$PGPASS" "$T/check.out" "$T/migrate.out" >/dev/null; then ok 1 "no output carries the password"
else ok 0 "no output carries the password"; fi
grep -q "sp@127.0.0.1:$PGPORT_T/sipprov" "$T/check.out"; ok $? "messages name the URL without its password"
done_testing
