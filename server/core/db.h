/*
 * db.h: the store's driver boundary (issue 17).  The store*.c files speak
 * only this interface; db_sqlite.c and db_pg.c are the two drivers and the
 * only files that include sqlite3.h or libpq-fe.h for row work.  SQL is
 * written once, in SQLite's dialect with ?/?N parameters; db_pg.c rewrites
 * it for PostgreSQL (pg_sql.c: the generic rules and the few statements
 * that need their own text).
 *
 * Ownership, stated once:
 * - A statement belongs to its connection and is freed by db_finalize
 *   (the store's cache finalizes its statements in store_close).
 * - Bound text and blobs are copied at bind time: the caller's buffer may
 *   die before the step.
 * - Column text and blobs stay valid until the statement's next step,
 *   reset or finalize: copy them out at once (store_col_text does).
 * - Bindings survive a db_reset (as in SQLite); db_clear rebinds all NULL.
 */
#ifndef SP_DB_H
#define SP_DB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;      /* one connection */
struct dbst;    /* one prepared statement of a connection */

/* db_step's answers, and db_errcode's classes. */
enum {
	DB_DONE = 0,            /* no (more) rows */
	DB_ROW = 1,             /* a row is ready for db_col_* */
	DB_ERROR = -1,          /* anything else: db_errmsg says what */
	DB_BUSY = -2,           /* a lock wait gave up (SQLITE_BUSY/LOCKED; PG lock timeout, serialization) */
	DB_UNIQUE = -3,         /* a UNIQUE or PRIMARY KEY constraint refused the row */
	DB_CONSTRAINT = -4,     /* another constraint (CHECK, NOT NULL, FOREIGN KEY, trigger RAISE) */
	DB_INVALID = -5,        /* a value the column cannot hold (PG 22xxx: bad encoding, too long; SQLITE_TOOBIG) */
};

enum db_kind { DB_SQLITE, DB_PG };

/* The driver's functions; a connection points at its driver's table. */
struct db_ops {
	enum db_kind kind;
	struct dbst *(*prepare)(struct db *, const char *sql, bool persistent);
	void (*finalize)(struct dbst *);
	void (*reset)(struct dbst *);
	void (*clear)(struct dbst *);
	void (*bind_int64)(struct dbst *, int i, int64_t v);
	void (*bind_text)(struct dbst *, int i, const char *v);
	void (*bind_blob)(struct dbst *, int i, const void *p, size_t n);
	void (*bind_null)(struct dbst *, int i);
	int (*step)(struct dbst *);
	int64_t (*col_int64)(struct dbst *, int i);
	const char *(*col_text)(struct dbst *, int i);
	const void *(*col_blob)(struct dbst *, int i, size_t *n);
	bool (*col_null)(struct dbst *, int i);
	int64_t (*changes)(struct db *);
	int64_t (*last_id)(struct db *);
	const char *(*errmsg)(struct db *);
	int (*errcode)(struct db *);
	int (*exec)(struct db *, const char *sql);
	bool (*in_tx)(struct db *);
	void (*close)(struct db *);
	/* Batches: see db_prepare_batch. */
	struct dbst *(*prepare_batch)(struct db *, const char *sql, const char *types);
	int (*batch_add)(struct dbst *);
	int (*batch_flush)(struct dbst *);
	size_t (*batch_pending)(struct dbst *);
	void (*batch_truncate)(struct dbst *, size_t keep);
	/* db_pipeline; NULL: the driver runs each statement at its step. */
	int (*pipeline)(struct db *, struct dbst *const *sts, int n);
	/* db_send; NULL: db_exec. */
	int (*send)(struct db *, const char *sql);
};

struct db { const struct db_ops *ops; };
struct dbst { struct db *db; };

/* sql (SQLite dialect) prepared on db; persistent for statements kept in
 * the store's cache.  NULL on error (db_errmsg says why). */
static inline struct dbst *db_prepare(struct db *db, const char *sql, bool persistent)
{ return db->ops->prepare(db, sql, persistent); }
static inline void db_finalize(struct dbst *st) { if (st) st->db->ops->finalize(st); }
/* Ready to step again from the first row; bindings kept. */
static inline void db_reset(struct dbst *st) { st->db->ops->reset(st); }
/* Every parameter back to NULL. */
static inline void db_clear(struct dbst *st) { st->db->ops->clear(st); }
/* Parameters count from 1, as ?1 in the SQL.  Text NULL binds NULL. */
static inline void db_bind_int64(struct dbst *st, int i, int64_t v) { st->db->ops->bind_int64(st, i, v); }
static inline void db_bind_text(struct dbst *st, int i, const char *v) { st->db->ops->bind_text(st, i, v); }
static inline void db_bind_blob(struct dbst *st, int i, const void *p, size_t n)
{ st->db->ops->bind_blob(st, i, p, n); }
static inline void db_bind_null(struct dbst *st, int i) { st->db->ops->bind_null(st, i); }
/* DB_ROW, DB_DONE, or a negative class (the statement must be reset). */
static inline int db_step(struct dbst *st) { return st->db->ops->step(st); }
/* Columns count from 0.  NULL reads as 0, NULL text as NULL. */
static inline int64_t db_col_int64(struct dbst *st, int i) { return st->db->ops->col_int64(st, i); }
static inline const char *db_col_text(struct dbst *st, int i) { return st->db->ops->col_text(st, i); }
static inline const void *db_col_blob(struct dbst *st, int i, size_t *n) { return st->db->ops->col_blob(st, i, n); }
static inline bool db_col_null(struct dbst *st, int i) { return st->db->ops->col_null(st, i); }
/* Rows changed by the last INSERT, UPDATE or DELETE of this connection. */
static inline int64_t db_changes(struct db *db) { return db->ops->changes(db); }
/* The id the last INSERT of this connection gave its row. */
static inline int64_t db_last_id(struct db *db) { return db->ops->last_id(db); }
/* The last error's words, and its class (DB_BUSY, DB_UNIQUE, ...; DB_DONE
 * when the last call succeeded). */
static inline const char *db_errmsg(struct db *db) { return db->ops->errmsg(db); }
static inline int db_errcode(struct db *db) { return db->ops->errcode(db); }
/* Run a script of statements without parameters or rows; 0 or -1. */
static inline int db_exec(struct db *db, const char *sql) { return db->ops->exec(db, sql); }
/* Is a transaction open on this connection (SQLite: not in autocommit;
 * PG: PQtransactionStatus not idle)?  Whoever opens one nests in it. */
static inline bool db_in_tx(struct db *db) { return db->ops->in_tx(db); }
static inline void db_close(struct db *db) { if (db) db->ops->close(db); }
static inline enum db_kind db_kind(struct db *db) { return db->ops->kind; }

/*
 * Batches (issue 17): one write statement run for many rows in as few
 * round trips as the driver can.  sql is one INSERT ... VALUES (...) or
 * one UPDATE ... [WHERE ...] (no FROM, no RETURNING, no `IS ?`), in
 * SQLite's dialect; types spells its parameters ?1..?n, one letter each:
 * 'i' int64 or 't' text (either may be bound NULL); in an UPDATE, one of
 * them may be a capital ('I', 'T'): the key that names the row it
 * updates.  Bind with db_bind_*
 * as usual, then db_batch_add adds the row; db_batch_flush writes every
 * row added since the last flush, in the order added.  Both answer DB_DONE
 * or a negative class (db_errmsg says why); after an error the caller
 * rolls its transaction back.
 * - SQLite: db_batch_add runs the prepared statement at once (a prepared
 *   row inside the caller's transaction is the fastest there); flush only
 *   answers DB_DONE; nothing is ever pending.
 * - PostgreSQL: rows wait in the statement, one array per parameter, and
 *   flush sends them as one statement over unnest() of the arrays
 *   (INSERT ... SELECT ... FROM unnest(..), UPDATE ... FROM unnest(..)):
 *   one round trip for the whole batch.  So a row's error surfaces at
 *   flush, for the batch.  Two rows of an UPDATE batch naming one row
 *   between flushes: with a key, the last added is applied (as SQLite's
 *   in-order execution leaves it); without one, PostgreSQL applies either:
 *   give the key unless no row can come twice.
 * db_batch_pending: rows added and not yet written (always 0 on SQLite).
 * db_batch_truncate: forget pending rows past the first keep (a savepoint
 * rolled back; 0 after a rollback).  db_reset and db_clear leave pending
 * rows alone; db_finalize drops them.
 */
static inline struct dbst *db_prepare_batch(struct db *db, const char *sql, const char *types)
{ return db->ops->prepare_batch(db, sql, types); }
static inline int db_batch_add(struct dbst *st) { return st->db->ops->batch_add(st); }
static inline int db_batch_flush(struct dbst *st) { return st->db->ops->batch_flush(st); }
static inline size_t db_batch_pending(struct dbst *st) { return st->db->ops->batch_pending(st); }
static inline void db_batch_truncate(struct dbst *st, size_t keep) { st->db->ops->batch_truncate(st, keep); }

/*
 * Pipelines: statements whose parameters do not depend on each other's
 * rows (a render miss's BEGIN, generation, device, lines, web passwords),
 * bound, then given to db_pipeline in the order they are to run; each is
 * then stepped as usual, in that order, and reads its own rows.
 * - SQLite: nothing to do; each runs at its first step.
 * - PostgreSQL: all are sent at once in libpq's pipeline mode and their
 *   results kept in the statements: one round trip instead of n.  A
 *   statement that fails aborts the ones after it (and the transaction it
 *   is in): db_pipeline answers that failure's class, with db_errmsg, and
 *   no statement keeps a result.  Statements of more than one command or
 *   not kept in the store's cache run at their step, as on SQLite.
 * A db_reset of a statement drops its kept result.
 */
static inline int db_pipeline(struct db *db, struct dbst *const *sts, int n)
{ return db->ops->pipeline ? db->ops->pipeline(db, sts, n) : DB_DONE; }

/* A command without parameters or rows whose outcome nobody waits for:
 * the end of a read-only transaction.  PostgreSQL: sent now, its answer
 * read (and a failure kept as the connection's error) before the
 * connection's next command, so the caller does not wait a round trip for
 * it.  SQLite: db_exec.  DB_DONE, or the class of a failure to send. */
static inline int db_send(struct db *db, const char *sql)
{ return db->ops->send ? db->ops->send(db, sql) : (db_exec(db, sql) == 0 ? DB_DONE : DB_ERROR); }
#endif
