/*
 * store_int.h: private to store*.c, the only files that include sqlite3.h.
 * SQLite ownership rule, stated once: text bound with SQLITE_TRANSIENT is
 * copied by SQLite (our buffers may die before the step); column text is
 * valid only until the next step/reset, so it is copied out at once.
 * Cached statements are reset by store_stmt before reuse, never finalized
 * until store_close.
 */
#ifndef SP_STORE_INT_H
#define SP_STORE_INT_H
#include <sqlite3.h>
#include "sipprov.h"

/* A prepared statement for sql (a string literal: cached by its address),
 * reset and with bindings cleared.  NULL on error (logged). */
sqlite3_stmt *store_stmt(struct store *s, const char *sql);
/* Bind helpers: text is copied (SQLITE_TRANSIENT). */
void store_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Copy column i into dst[size] ("" for NULL). */
void store_col_text(sqlite3_stmt *st, int i, char *dst, size_t size);
/* Step a bound statement to its end, each row filled by fill(st, elem)
 * into a malloc'd array of sz-byte elements (*out, *n); resets st.  0, or
 * -1 with the array freed (*out NULL, *n 0). */
int store_rows(sqlite3_stmt *st, size_t sz, void (*fill)(sqlite3_stmt *, void *), void **out, size_t *n);
/* Run a statement that returns no rows; 0 or -1 with err set from SQLite. */
int store_exec_stmt(struct store *s, sqlite3_stmt *st, char *err, size_t errlen);

/* ---- store_admin.c: schema bookkeeping shared with store.c ---- */
/* Does db have a table called name?  1, 0, -1 error. */
int store_has_table(sqlite3 *db, const char *name);
/* What schema db holds, against this binary's migrations.  -1 with err on
 * a read error or a file that is not a sipprov database. */
int store_schema_read(sqlite3 *db, struct store_schema *sc, char *err, size_t errlen);
/* Apply, in number order, every migration of this binary not recorded in
 * db (gaps included), each in its own transaction.  0 or -1 with err. */
int store_schema_apply(sqlite3 *db, char *err, size_t errlen);
/* "file:" URI for path (%, ?, # escaped) with query q; caller frees. */
char *store_uri(const char *path, const char *q);
#endif
