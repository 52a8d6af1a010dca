/*
 * store_health.c: read-only questions operations ask of the database: is
 * it reachable (/readyz) and how many devices are in which state
 * (sipprov_devices).  It changes nothing and never migrates.
 */
#include <string.h>

/* store_ping opens its own SQLite connection: open flags, lock wait. */
#include <sqlite3.h>

#include "db_pg.h"
#include "db_sqlite.h"
#include "store_int.h"
#include "sipprov.h"

int store_ping(const char *path, char *err, size_t errlen)
{
	char why[SP_ERR_MAX];
	struct dbst *st = NULL;
	int rc = -1;
	/* A connection of its own, opened now: the daemon's long-lived ones
	 * keep a removed or replaced file open and would still answer. */
	bool pg = store_is_pg_url(path);
	char shown[SP_FIELD_MAX];
	store_pg_url_redact(path, shown, sizeof(shown));
	struct db *db = pg ? db_pg_open(path, why, sizeof(why)) :
			     db_sqlite_open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, why, sizeof(why));
	if (!db) {
		/* db_pg_open's words already name the URL (without its password). */
		if (pg && err)
			sp_strlcpy(err, why, errlen);
		else
			sp_err(err, errlen, "database '%s': %s", path, why);
		goto out;
	}
	if (pg)
		db_exec(db, "SET statement_timeout = '1s'");
	else
		sqlite3_busy_timeout(db_sqlite_handle(db), 1000);
	if (!(st = db_prepare(db, "SELECT max(id) FROM device", false)) || db_step(st) != DB_ROW) {
		sp_err(err, errlen, "database '%s': %s", shown, db_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	db_finalize(st);
	db_close(db);
	return rc;
}

/* The version a device should run: its pin, else the current version of
 * its template (its own, else the tenant's default), as drift's "stale"
 * check has it; and from it the device's state (STORE_DEV_*).  One rule
 * for the totals (metrics, the console's overview) and the per-device
 * list (the console's filter).  ?1 = tenant id, 0 = every tenant. */
#define STATE_SQL \
	"SELECT id, CASE WHEN status != 'active' THEN 3 WHEN fetched_at = 0 THEN 2" \
	"  WHEN want > 0 AND fetched_version != want THEN 1 ELSE 0 END AS state " \
	"FROM (SELECT d.id, d.status, coalesce(f.fetched_at, 0) AS fetched_at, f.fetched_version," \
	"  CASE d.pinned_version WHEN 0 THEN coalesce(tp.current, 0) ELSE d.pinned_version END AS want" \
	"  FROM device d JOIN tenant t ON t.id = d.tenant_id LEFT JOIN device_fetch f ON f.device_id = d.id" \
	"  LEFT JOIN template tp ON tp.tenant_id = d.tenant_id" \
	"   AND tp.name = CASE d.template WHEN '' THEN t.default_template ELSE d.template END" \
	"  WHERE ?1 = 0 OR d.tenant_id = ?1)"

int store_device_states(struct store *s, int64_t tenant_id, long counts[STORE_DEVICE_STATES])
{
	struct dbst *st = store_stmt(s, "SELECT state, count(*) FROM (" STATE_SQL ") GROUP BY state");
	int rc;
	if (!st)
		return -1;
	for (int i = 0; i < STORE_DEVICE_STATES; i++)
		counts[i] = 0;
	db_bind_int64(st, 1, tenant_id);
	while ((rc = db_step(st)) == DB_ROW) {
		int i = (int)db_col_int64(st, 0);
		if (i >= 0 && i < STORE_DEVICE_STATES)
			counts[i] = (long)db_col_int64(st, 1);
	}
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_device_state_each(struct store *s, int64_t tenant_id, void (*fn)(int64_t device_id, int state, void *),
			    void *arg)
{
	struct dbst *st = store_stmt(s, STATE_SQL);
	int rc;
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	while ((rc = db_step(st)) == DB_ROW)
		fn(db_col_int64(st, 0), (int)db_col_int64(st, 1), arg);
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}
