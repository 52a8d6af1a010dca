/*
 * db_sqlite.c: unit tests for the SQLite driver of db.h, the contract the
 * store relies on and db_pg.c must match: result codes as classes (UNIQUE,
 * other constraints, BUSY), text copied at bind, NULL text binds NULL,
 * blobs with NUL bytes, int64 extremes, changes/last_id, bindings kept by
 * reset and cleared by clear, in_tx, and the raw handle for SQLite only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tap.h"
#include "core/db_sqlite.h"
#include "core/sipprov.h"

static const char schema[] =
	"CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE, c INTEGER CHECK (c >= 0), b BLOB, "
	"n TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT);"
	"CREATE TRIGGER no_evil BEFORE INSERT ON t WHEN new.u = 'evil' BEGIN SELECT RAISE(ABORT, 'no evil'); END;"
	/* Inserts elsewhere: last_id must still name t's row. */
	"CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log (id, what) VALUES (1000 + new.id, 't'); END;";

/* Step an INSERT of (u, c) and answer db_step's result. */
static int insert(struct db *db, const char *u, int64_t c)
{
	struct dbst *st = db_prepare(db, "INSERT INTO t (u, c) VALUES (?1, ?2)", false);
	if (!st)
		return 99;
	db_bind_text(st, 1, u);
	db_bind_int64(st, 2, c);
	int rc = db_step(st);
	db_finalize(st);
	return rc;
}

static void test_rows(struct db *db)
{
	char buf[32];
	struct dbst *st;
	size_t n;

	ok(db_kind(db) == DB_SQLITE, "kind is DB_SQLITE");
	ok(!db_in_tx(db), "no transaction at first");
	is_int(db_exec(db, schema), 0, "exec runs a script of statements");
	is_int(db_errcode(db), DB_DONE, "errcode is DB_DONE after a success");

	is_int(insert(db, "a", 1), DB_DONE, "an insert steps to DB_DONE");
	is_int(db_changes(db), 1, "changes counts the row");
	is_int(db_last_id(db), 1, "last_id is the row's id, not the trigger's insert into log");

	/* Text is copied at bind: the buffer changes before the step. */
	st = db_prepare(db, "INSERT INTO t (u, c, b) VALUES (?1, ?2, ?3)", false);
	snprintf(buf, sizeof(buf), "copied");
	db_bind_text(st, 1, buf);
	memset(buf, 'x', sizeof(buf) - 1);
	db_bind_int64(st, 2, INT64_MAX);
	db_bind_blob(st, 3, "a\0b\0", 4);
	is_int(db_step(st), DB_DONE, "insert with a blob");
	db_finalize(st);
	int64_t id = db_last_id(db);

	st = db_prepare(db, "SELECT u, c, b, n FROM t WHERE id = ?", false);
	db_bind_int64(st, 1, id);
	is_int(db_step(st), DB_ROW, "the row is there");
	is_str(db_col_text(st, 0), "copied", "bound text was copied, not referenced");
	ok(db_col_int64(st, 1) == INT64_MAX, "INT64_MAX round trip");
	const void *b = db_col_blob(st, 2, &n);
	ok(n == 4 && b && !memcmp(b, "a\0b\0", 4), "blob with NUL bytes round trip (%zu bytes)", n);
	ok(!db_col_null(st, 3), "an empty text is not NULL");
	is_str(db_col_text(st, 3), "", "and reads as \"\"");
	is_int(db_step(st), DB_DONE, "then DB_DONE");
	/* Bindings survive a reset. */
	db_reset(st);
	is_int(db_step(st), DB_ROW, "reset keeps the bindings");
	/* Clear rebinds NULL: id = NULL matches nothing. */
	db_reset(st);
	db_clear(st);
	is_int(db_step(st), DB_DONE, "clear rebinds every parameter NULL");
	db_finalize(st);

	/* NULL text binds NULL; NULL reads as 0 and as NULL text. */
	st = db_prepare(db, "SELECT ?1 IS NULL, ?1, ?2", false);
	db_bind_text(st, 1, NULL);
	db_bind_int64(st, 2, INT64_MIN);
	is_int(db_step(st), DB_ROW, "select of parameters");
	is_int(db_col_int64(st, 0), 1, "NULL text binds NULL");
	ok(db_col_null(st, 1) && db_col_text(st, 1) == NULL && db_col_int64(st, 1) == 0,
	   "NULL reads as NULL text and as 0");
	ok(db_col_int64(st, 2) == INT64_MIN, "INT64_MIN round trip");
	db_finalize(st);

	st = db_prepare(db, "SELECT ?1", false);
	db_bind_null(st, 1);
	ok(db_step(st) == DB_ROW && db_col_null(st, 0), "bind_null binds NULL");
	db_finalize(st);

	/* Error classes. */
	is_int(insert(db, "a", 2), DB_UNIQUE, "a duplicate UNIQUE value is DB_UNIQUE");
	is_int(db_errcode(db), DB_UNIQUE, "and errcode says so");
	ok(strstr(db_errmsg(db), "UNIQUE") != NULL, "errmsg has SQLite's words: %s", db_errmsg(db));
	st = db_prepare(db, "INSERT INTO t (id, u) VALUES (1, 'other')", false);
	is_int(db_step(st), DB_UNIQUE, "a duplicate PRIMARY KEY is DB_UNIQUE");
	db_finalize(st);
	is_int(insert(db, "neg", -1), DB_CONSTRAINT, "a CHECK is DB_CONSTRAINT");
	is_int(db_errcode(db), DB_CONSTRAINT, "and errcode says so");
	st = db_prepare(db, "INSERT INTO t (u, n) VALUES ('nn', NULL)", false);
	is_int(db_step(st), DB_CONSTRAINT, "a NOT NULL is DB_CONSTRAINT");
	db_finalize(st);
	is_int(insert(db, "evil", 1), DB_CONSTRAINT, "a trigger's RAISE(ABORT) is DB_CONSTRAINT");
	st = db_prepare(db, "INSERT INTO t (id, u) VALUES ('one', 'mismatch')", false);
	is_int(db_step(st), DB_INVALID, "a rowid that is not an integer is DB_INVALID");
	db_finalize(st);
	is_int(insert(db, "b", 1), DB_DONE, "the connection works after errors");
	is_int(db_errcode(db), DB_DONE, "errcode is back to DB_DONE");

	ok(db_prepare(db, "SELEKT 1", false) == NULL, "bad SQL does not prepare");
	ok(strstr(db_errmsg(db), "syntax error") != NULL, "errmsg says why: %s", db_errmsg(db));
	is_int(db_errcode(db), DB_ERROR, "a syntax error is DB_ERROR");
	ok(db_prepare(db, "-- nothing", false) == NULL, "SQL with no statement prepares nothing");
	is_int(db_exec(db, "INSERT INTO nosuch VALUES (1)"), -1, "exec answers -1 on error");
	ok(strstr(db_errmsg(db), "nosuch") != NULL, "and errmsg names it: %s", db_errmsg(db));

	st = db_prepare(db, "SELECT count(*) FROM t", true);
	ok(st && db_step(st) == DB_ROW && db_col_int64(st, 0) == 3, "a persistent statement works");
	db_finalize(st);
	db_finalize(NULL);
	ok(1, "db_finalize(NULL) is a no-op");

	is_int(db_exec(db, "BEGIN"), 0, "begin");
	ok(db_in_tx(db), "in_tx inside a transaction");
	is_int(db_exec(db, "COMMIT"), 0, "commit");
	ok(!db_in_tx(db), "not in_tx after commit");
}

/* Two connections to one file: a write lock held by one is DB_BUSY for the
 * other (no busy handler: the driver adds no lock wait of its own). */
static void test_busy(const char *path)
{
	char err[256];
	struct db *a = db_sqlite_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, sizeof(err));
	struct db *b = db_sqlite_open(path, SQLITE_OPEN_READWRITE, err, sizeof(err));
	ok(a && b, "two connections to %s", path);
	if (!a || !b)
		return;
	is_int(db_exec(a, "CREATE TABLE x (v INTEGER); BEGIN IMMEDIATE; INSERT INTO x VALUES (1)"), 0,
	       "the first holds the write lock");
	struct dbst *st = db_prepare(b, "INSERT INTO x VALUES (2)", false);
	is_int(db_step(st), DB_BUSY, "the second's write is DB_BUSY");
	is_int(db_errcode(b), DB_BUSY, "and errcode says so");
	db_finalize(st);
	is_int(db_exec(a, "COMMIT"), 0, "the first commits");
	st = db_prepare(b, "INSERT INTO x VALUES (2)", false);
	is_int(db_step(st), DB_DONE, "then the second writes");
	db_finalize(st);
	db_close(a);
	db_close(b);
}

/* db_pipeline and db_send mean the same as on PostgreSQL: here each
 * statement runs at its step, in the order stepped, and db_send runs now. */
static void test_pipeline(struct db *db)
{
	struct dbst *begin = db_prepare(db, "BEGIN", true);
	struct dbst *one = db_prepare(db, "SELECT c FROM t WHERE u = ?1", true);
	db_bind_text(one, 1, "a");
	struct dbst *sts[] = { begin, one };
	is_int(db_pipeline(db, sts, 2), DB_DONE, "db_pipeline: DB_DONE");
	ok(!db_in_tx(db), "  nothing has run yet");
	ok(db_step(begin) == DB_DONE && db_in_tx(db), "  BEGIN runs at its step");
	ok(db_step(one) == DB_ROW && db_col_int64(one, 0) == 1, "  the SELECT at its: 1");
	db_reset(one);
	is_int(db_send(db, "COMMIT"), DB_DONE, "db_send COMMIT");
	ok(!db_in_tx(db), "  has run");
	is_int(db_send(db, "COMMIT"), DB_ERROR, "db_send of a failing command: DB_ERROR at once");
	db_finalize(begin);
	db_finalize(one);
}

static const struct db_ops other_ops = { .kind = DB_PG };

int main(void)
{
	char dir[] = "/tmp/sp-dbsqlite-XXXXXX", path[128], err[256] = "";
	if (!mkdtemp(dir))
		return 1;

	snprintf(path, sizeof(path), "%s/none/db", dir);
	ok(db_sqlite_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, sizeof(err)) == NULL,
	   "no database in a missing folder");
	is_str(err, "unable to open database file", "err has SQLite's words");

	struct db *db = db_sqlite_open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, sizeof(err));
	ok(db != NULL, "open :memory:");
	if (!db)
		return tap_done();
	ok(db_sqlite_handle(db) != NULL, "the raw handle of a SQLite connection");
	struct db other = { &other_ops };
	ok(db_sqlite_handle(&other) == NULL && db_sqlite_handle(NULL) == NULL, "none for another driver's");
	test_rows(db);
	test_pipeline(db);
	/* No process-wide allocation counting (one mutex for every thread's
	 * SQLite allocations): the counters stay at zero. */
	sqlite3_int64 used = sqlite3_memory_used();
	ok(used == 0, "SQLite's allocation counters are off (%lld bytes counted)", (long long)used);
	db_close(db);
	db_close(NULL);

	snprintf(path, sizeof(path), "%s/busy.db", dir);
	test_busy(path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/busy.db-journal", dir);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
