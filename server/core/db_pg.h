/*
 * db_pg.h: the PostgreSQL driver of db.h (issue 17).  Its own header so
 * db.h stays the boundary both drivers share.
 */
#ifndef SP_DB_PG_H
#define SP_DB_PG_H
#include <stdbool.h>
#include <stddef.h>
#include "db.h"

/* A connection to url (a libpq postgresql:// URL, multi-host allowed), its
 * session set to what the store relies on: TimeZone UTC, client_encoding
 * UTF8.  NULL with err naming the URL without its password. */
struct db *db_pg_open(const char *url, char *err, size_t errlen);
/* store_pg_schema read on db's own connection (no second one). */
struct store_schema;
int db_pg_schema(struct db *db, struct store_schema *sc, char *err, size_t errlen);
/* Has libpq found the connection broken (the server restarted or went
 * away)?  No round trip: it knows once a command failed on it. */
bool db_pg_lost(struct db *db);
/* ROLLBACK whatever transaction is open (a failed one included), keeping
 * the last error for db_errmsg / db_errcode. */
void db_pg_abandon(struct db *db);
/* Commands the connection has run outside db_pipeline so far (each
 * statement's execution, db_exec, db_send, a batch's flush): a reader
 * learns whether anything ran between two points. */
unsigned long db_pg_runs(struct db *db);
#endif
