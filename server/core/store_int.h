/*
 * store_int.h: private to store*.c.  They speak to the database through
 * db.h only (its header states who owns statements, bound and column text);
 * sqlite3.h is not included here, so a file that still calls sqlite3_*
 * (SQLite-only admin work, through db_sqlite_handle) includes it itself
 * and says why.  Cached statements are reset and their bindings cleared by
 * store_stmt before reuse, never finalized until store_close.
 */
#ifndef SP_STORE_INT_H
#define SP_STORE_INT_H
#include "db.h"
#include "sipprov.h"

/* A prepared statement for sql (a string literal: cached by its address),
 * reset and with bindings cleared.  NULL on error (logged). */
struct dbst *store_stmt(struct store *s, const char *sql);
/* Bind helpers: text is copied (db.h), NULL binds NULL. */
void store_bind_text(struct dbst *st, int i, const char *v);
/* A column a phone's bytes filled (its User-Agent, the path it asked for):
 * as store_col_text, then sp_text_scrub, for rows written before those
 * bytes were scrubbed on the way in. */
void store_col_client(struct dbst *st, int i, char *dst, size_t size);
/* Copy column i into dst[size] ("" for NULL). */
void store_col_text(struct dbst *st, int i, char *dst, size_t size);
/* Step a bound statement to its end, each row filled by fill(st, elem)
 * into a malloc'd array of sz-byte elements (*out, *n); resets st.  0, or
 * -1 with the array freed (*out NULL, *n 0). */
int store_rows(struct dbst *st, size_t sz, void (*fill)(struct dbst *, void *), void **out, size_t *n);
/* The first column of sql's first row (a literal, as store_stmt's), as
 * an integer; -1 with no row or on error. */
long store_scalar(struct store *s, const char *sql);
/* Run a statement that returns no rows; 0 or -1 with err set from the
 * driver's message. */
int store_exec_stmt(struct store *s, struct dbst *st, char *err, size_t errlen);

/* Batch statements (db.h's db_prepare_batch), cached per store like
 * store_stmt's, by the address of sql; up to BATCH_SLOTS of them.  Rows
 * added (store_batch_add, 0 or -1) are written at the latest by
 * store_commit, which flushes every batch before COMMIT; store_rollback
 * forgets them.  store_batch_flush writes them now (0 or -1).  Inside a
 * transaction, store_batch_mark notes how many rows each batch holds
 * (at a SAVEPOINT) and store_batch_back forgets the rows added since (at
 * ROLLBACK TO it).  On SQLite every row is written as it is added.
 * A slot per batch statement in the code (nine: store_drift.c's and
 * store_fetch.c's), with room: at eight, a store that recorded fetches
 * and then drift (tests/unit/drift_batch.c) found the cache full and its
 * drift batches went row by row. */
#define BATCH_SLOTS 16
struct dbst *store_batch(struct store *s, const char *sql, const char *types);
int store_batch_add(struct store *s, struct dbst *st);
int store_batch_flush(struct store *s);
void store_batch_mark(struct store *s);
void store_batch_back(struct store *s);
/* store_drift.c's note that SAVEPOINT drift_obs is still open (PostgreSQL:
 * released together with the next one's start, one round trip); cleared
 * by store_begin, store_commit and store_rollback. */
bool *store_sp_held(struct store *s);
/* store_webpw_effective's rows for that tenant and device as
 * store_begin_render read them ahead (the statement, stepped from its
 * first row, then the caller's to reset), or NULL: query them. */
struct dbst *store_pre_webpw(struct store *s, int64_t tenant_id, int64_t device_id);

/* ---- store_admin.c: schema bookkeeping shared with store.c ----
 * SQLite-only: db is db_sqlite_handle's (struct sqlite3 is sqlite3). */
struct sqlite3;
/* Does db have a table called name?  1, 0, -1 error. */
int store_has_table(struct sqlite3 *db, const char *name);
/* What schema db holds, against this binary's migrations.  -1 with err on
 * a read error or a file that is not a sipprov database. */
int store_schema_read(struct sqlite3 *db, struct store_schema *sc, char *err, size_t errlen);
/* Apply, in number order, every migration of this binary not recorded in
 * db (gaps included), each in its own transaction.  0 or -1 with err. */
int store_schema_apply(struct sqlite3 *db, char *err, size_t errlen);
/* "file:" URI for path (%, ?, # escaped) with query q; caller frees. */
char *store_uri(const char *path, const char *q);
/* The PostgreSQL URL the store was opened with (password included: never
 * for messages), NULL for a SQLite file. */
const char *store_url(struct store *s);
/* The SQLite-file operations (backup, restore, integrity) refuse a
 * PostgreSQL URL by name: -1 with err. */
int store_refuse_pg_file_op(const char *url, const char *what, char *err, size_t errlen);
/* The fetch writer's device_fetch rows held in memory (store_fetch.c):
 * the store's slot, NULL until its first batch; freed by store_close. */
struct fetch_kept;
struct fetch_kept **store_fetch_kept(struct store *s);
/* A PRAGMA that sets a value (it may answer with a row): 0 or -1. */
int store_pragma(struct store *s, const char *sql);
void fetch_kept_free(struct fetch_kept *k);
#endif
