/*
 * store_test.c: store functions only tests use (linked into test binaries
 * through libsipprov-test.a, never into sipprovd or the CLI).
 */
#include <stdio.h>

/* The digest reads column types, and store_test_create_at writes a file
 * at an old schema: both SQLite's own, through db_sqlite_handle. */
#include <sqlite3.h>

#include "core/db_sqlite.h"
#include "core/store_int.h"
#include "support/store_test.h"

int store_validate_digest(struct store *s, char out[65])
{
	static const char *const tables[] = {
		"SELECT * FROM tenant ORDER BY id", "SELECT * FROM template ORDER BY id",
		"SELECT * FROM template_version ORDER BY id", "SELECT * FROM device ORDER BY id",
		"SELECT * FROM account ORDER BY id", "SELECT * FROM audit_log ORDER BY id",
	};
	struct buf b;
	int rc = 0;
	buf_init(&b, 64u * 1024 * 1024);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]) && rc == 0; t++) {
		sqlite3_stmt *st;
		int step;
		if (sqlite3_prepare_v2(db_sqlite_handle(store_db(s)), tables[t], -1, &st, NULL) != SQLITE_OK)
			return buf_release(&b), -1;
		buf_printf(&b, "#%zu\n", t);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *v = sqlite3_column_text(st, i);
				buf_printf(&b, "%d:%s\x1f", sqlite3_column_type(st, i), v ? (const char *)v : "");
			}
			buf_adds(&b, "\n");
		}
		if (step != SQLITE_DONE)
			rc = -1;
		sqlite3_finalize(st);
	}
	if (rc == 0 && !b.overflow)
		sha256_hex(b.data ? b.data : "", b.len, out);
	else
		rc = -1;
	buf_release(&b);
	return rc;
}

int store_tversion_tamper(struct store *s, int64_t version_id, const char *settings, char *err, size_t errlen)
{
	struct dbst *st = store_stmt(s, "UPDATE template_version SET settings = ? WHERE id = ?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	store_bind_text(st, 1, settings);
	db_bind_int64(st, 2, version_id);
	return store_exec_stmt(s, st, err, errlen);
}

int store_test_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	if (db_exec(store_db(s), sql) < 0)
		return sp_err(err, errlen, "%s", db_errmsg(store_db(s)));
	return 0;
}

int store_test_create_at(const char *path, int upto, const char *then, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc = -1;
	if (sqlite3_open(path, &db) != SQLITE_OK) {
		sp_err(err, errlen, "cannot open %s", path);
		goto out;
	}
	/* The same bookkeeping as store.c's migrate(), stopped at 'upto'. */
	if (sqlite3_exec(db, "PRAGMA foreign_keys=ON; CREATE TABLE schema_migration (number INTEGER PRIMARY KEY, "
			 "name TEXT NOT NULL, applied INTEGER NOT NULL)", NULL, NULL, NULL) != SQLITE_OK) {
		sp_err(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < schema_migration_count && schema_migrations[i].number <= upto; i++) {
		char rec[128];
		snprintf(rec, sizeof(rec), "INSERT INTO schema_migration VALUES (%d, 'm', 0)", schema_migrations[i].number);
		if (sqlite3_exec(db, schema_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, rec, NULL, NULL, NULL) != SQLITE_OK) {
			sp_err(err, errlen, "migration %s: %s", schema_migrations[i].name, sqlite3_errmsg(db));
			goto out;
		}
	}
	if (then && sqlite3_exec(db, then, NULL, NULL, NULL) != SQLITE_OK) {
		sp_err(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

int store_test_text(struct store *s, const char *sql, char *out, size_t outlen)
{
	struct dbst *st;
	int rc;
	out[0] = '\0';
	if (!(st = db_prepare(store_db(s), sql, false)))
		return -1;
	rc = db_step(st);
	if (rc == DB_ROW)
		store_col_text(st, 0, out, outlen);
	db_finalize(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}
