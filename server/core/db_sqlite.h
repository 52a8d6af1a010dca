/*
 * db_sqlite.h: the SQLite driver of db.h.  Besides opening, it hands out
 * the raw handle for the SQLite-only admin work that has no place in the
 * driver boundary (busy handler, SQL functions, pragmas at open, backup,
 * restore, integrity_check, migrations); rows go through db.h.
 */
#ifndef SP_DB_SQLITE_H
#define SP_DB_SQLITE_H
#include <stddef.h>
#include "db.h"

struct sqlite3;

/* Open path_or_uri with sqlite3_open_v2's flags (SQLITE_OPEN_*), extended
 * result codes on.  NULL with err set to SQLite's words ("out of memory"
 * when it gave no connection). */
struct db *db_sqlite_open(const char *path_or_uri, int sqlite_flags, char *err, size_t errlen);
/* The connection's sqlite3 handle; NULL when db is not SQLite's.  It
 * stays db's: close it with db_close. */
struct sqlite3 *db_sqlite_handle(struct db *db);
/* Where the connection's WAL index is (the unix VFS's "-shm" file beside
 * the main database) when it is in WAL mode: out, or NULL (another
 * journal mode, no file name, not SQLite, or out too small). */
const char *db_sqlite_shm_path(struct db *db, char *out, size_t size);
#endif
