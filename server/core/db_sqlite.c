/*
 * db_sqlite.c: the SQLite driver behind db.h, thin wrappers over sqlite3_*.
 * It adds no policy (lock waits, pragmas, SQL functions are the store's, set
 * through db_sqlite_handle) and keeps SQLite's own semantics: bindings
 * survive a reset, column text lives until the next step/reset/finalize.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sqlite3.h>

#include "db_sqlite.h"
#include "sipprov.h"

struct sq_db {
	struct db base;                 /* first: a struct db * is a struct sq_db * */
	sqlite3 *h;
};

struct sq_st {
	struct dbst base;
	sqlite3_stmt *st;
};

static const struct db_ops sq_ops;

static sqlite3 *H(struct db *db) { return ((struct sq_db *)db)->h; }
static sqlite3_stmt *ST(struct dbst *st) { return ((struct sq_st *)st)->st; }

/* A result code as db.h's class.  Extended codes are on, so the primary
 * code is the low byte. */
static int sq_class(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
		return DB_DONE;
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return DB_UNIQUE;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_BUSY;
	case SQLITE_CONSTRAINT:
		return DB_CONSTRAINT;
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
		return DB_INVALID;
	}
	return DB_ERROR;
}

static struct dbst *sq_prepare(struct db *db, const char *sql, bool persistent)
{
	sqlite3_stmt *st = NULL;
	/* SQLITE_OK with no statement means sql held none: nothing to step. */
	if (sqlite3_prepare_v3(H(db), sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK ||
	    !st)
		return NULL;
	struct sq_st *q = xcalloc(1, sizeof(*q));
	q->base.db = db;
	q->st = st;
	return &q->base;
}

static void sq_finalize(struct dbst *st)
{
	sqlite3_finalize(ST(st));
	free(st);
}

static void sq_reset(struct dbst *st) { sqlite3_reset(ST(st)); }
static void sq_clear(struct dbst *st) { sqlite3_clear_bindings(ST(st)); }
static void sq_bind_int64(struct dbst *st, int i, int64_t v) { sqlite3_bind_int64(ST(st), i, v); }
static void sq_bind_null(struct dbst *st, int i) { sqlite3_bind_null(ST(st), i); }

/* Copied (SQLITE_TRANSIENT): the caller's buffer may die before the step.
 * A NULL pointer binds NULL in SQLite itself. */
static void sq_bind_text(struct dbst *st, int i, const char *v)
{
	sqlite3_bind_text(ST(st), i, v, -1, SQLITE_TRANSIENT);
}

static void sq_bind_blob(struct dbst *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(ST(st), i, p, n, SQLITE_TRANSIENT);
}

static int sq_step(struct dbst *st)
{
	return sq_class(sqlite3_step(ST(st)));
}

static int64_t sq_col_int64(struct dbst *st, int i) { return sqlite3_column_int64(ST(st), i); }
static const char *sq_col_text(struct dbst *st, int i) { return (const char *)sqlite3_column_text(ST(st), i); }
static bool sq_col_null(struct dbst *st, int i) { return sqlite3_column_type(ST(st), i) == SQLITE_NULL; }

static const void *sq_col_blob(struct dbst *st, int i, size_t *n)
{
	/* The pointer first, then its size: SQLite's documented order. */
	const void *p = sqlite3_column_blob(ST(st), i);
	*n = (size_t)sqlite3_column_bytes(ST(st), i);
	return p;
}

static int64_t sq_changes(struct db *db) { return sqlite3_changes(H(db)); }
static int64_t sq_last_id(struct db *db) { return sqlite3_last_insert_rowid(H(db)); }
static const char *sq_errmsg(struct db *db) { return sqlite3_errmsg(H(db)); }
static bool sq_in_tx(struct db *db) { return !sqlite3_get_autocommit(H(db)); }

static int sq_errcode(struct db *db)
{
	int c = sq_class(sqlite3_extended_errcode(H(db)));
	return c == DB_ROW ? DB_DONE : c;
}

static int sq_exec(struct db *db, const char *sql)
{
	return sqlite3_exec(H(db), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void sq_close(struct db *db)
{
	sqlite3_close(H(db));
	free(db);
}

/* Batches: the prepared row loop, each row written as it is added. */
static struct dbst *sq_prepare_batch(struct db *db, const char *sql, const char *types)
{
	return sq_prepare(db, sql, true);
}

static int sq_batch_add(struct dbst *st)
{
	int rc = sq_step(st);
	sqlite3_reset(ST(st));
	return rc == DB_ROW ? DB_DONE : rc;
}

static int sq_batch_flush(struct dbst *st) { return DB_DONE; }
static size_t sq_batch_pending(struct dbst *st) { return 0; }
static void sq_batch_truncate(struct dbst *st, size_t keep) { }

static const struct db_ops sq_ops = {
	.kind = DB_SQLITE,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.reset = sq_reset,
	.clear = sq_clear,
	.bind_int64 = sq_bind_int64,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.col_int64 = sq_col_int64,
	.col_text = sq_col_text,
	.col_blob = sq_col_blob,
	.col_null = sq_col_null,
	.changes = sq_changes,
	.last_id = sq_last_id,
	.errmsg = sq_errmsg,
	.errcode = sq_errcode,
	.exec = sq_exec,
	.in_tx = sq_in_tx,
	.close = sq_close,
	.prepare_batch = sq_prepare_batch,
	.batch_add = sq_batch_add,
	.batch_flush = sq_batch_flush,
	.batch_pending = sq_batch_pending,
	.batch_truncate = sq_batch_truncate,
};

/* SQLite counts every allocation under one process-wide mutex unless told
 * not to; sipprovd reads none of those counts (sqlite3_memory_used, soft
 * heap limit).  Its listener loops, writers and the generation watcher each
 * have a connection, and in a boot storm that mutex was the most waited-on
 * lock after the VFS's own (strace -k of futex calls).  Must come before
 * SQLite initialises, i.e. before the first open. */
static pthread_once_t sq_once = PTHREAD_ONCE_INIT;
static void sq_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct db *db_sqlite_open(const char *path_or_uri, int sqlite_flags, char *err, size_t errlen)
{
	sqlite3 *h = NULL;
	pthread_once(&sq_once, sq_configure);
	if (sqlite3_open_v2(path_or_uri, &h, sqlite_flags, NULL) != SQLITE_OK) {
		sp_err(err, errlen, "%s", h ? sqlite3_errmsg(h) : "out of memory");
		sqlite3_close(h);
		return NULL;
	}
	/* sq_class tells UNIQUE from other constraints by the extended code. */
	sqlite3_extended_result_codes(h, 1);
	struct sq_db *d = xcalloc(1, sizeof(*d));
	d->base.ops = &sq_ops;
	d->h = h;
	return &d->base;
}

struct sqlite3 *db_sqlite_handle(struct db *db)
{
	return db && db->ops == &sq_ops ? H(db) : NULL;
}

const char *db_sqlite_shm_path(struct db *db, char *out, size_t size)
{
	sqlite3 *h = db_sqlite_handle(db);
	const char *file = h ? sqlite3_db_filename(h, "main") : NULL;
	sqlite3_stmt *st = NULL;
	bool wal = false;
	if (!file || !*file || sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 0);
		wal = mode && !strcmp((const char *)mode, "wal");
	}
	sqlite3_finalize(st);
	return wal && snprintf(out, size, "%s-shm", file) < (int)size ? out : NULL;
}
