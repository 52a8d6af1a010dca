/*
 * pg_sql.h: the store's SQL, written in SQLite's dialect, rewritten for
 * PostgreSQL (issue 17) -- "the PostgreSQL dialect file".  Generic rules
 * (parameters, IS ?N, INSERT OR IGNORE, scalar max/min, sum over a
 * comparison, LIKE, unaliased subqueries, index hints, BEGIN IMMEDIATE) run
 * on every statement; the few statements no rule can carry have their own
 * PostgreSQL text in an override table.  A SQLite-only construct no rule
 * handles is refused with its name, never passed through to fail later.
 * Nothing here talks to a server: db_pg.c translates once per statement.
 */
#ifndef SP_PG_SQL_H
#define SP_PG_SQL_H
#include <stdbool.h>
#include <stddef.h>

struct pg_sql {
	char *text;             /* the PostgreSQL text; pg_sql_free frees */
	int nparams;            /* highest $N it uses */
	bool empty;             /* no statement in it, only space and comments */
	int statements;         /* how many (BEGIN IMMEDIATE becomes two: no server-side prepare) */
	bool returning;         /* " RETURNING id" was appended (db_pg.c hides its rows) */
	bool upsert;            /* ... as " RETURNING id, xmax = 0": an ON CONFLICT DO UPDATE,
				 * whose updated rows (xmax set) are no insert for last_id */
};

/* Does table have an identity "id" column (so an INSERT into it gets
 * RETURNING id for db_last_id)?  arg is the caller's. */
typedef bool (*pg_sql_has_id)(const char *table, void *arg);

/* Translate sql (one statement, or a script of statements separated by ';'
 * when has_id is NULL: then no RETURNING is appended).  0, or -1 with err
 * naming the construct that has no rule.  out is zeroed on error. */
int pg_sql_translate(const char *sql, pg_sql_has_id has_id, void *arg, struct pg_sql *out, char *err,
		     size_t errlen);
void pg_sql_free(struct pg_sql *t);

/* A batch statement (db.h's db_prepare_batch): sql, one INSERT ... VALUES
 * or UPDATE whose parameters ?1..?n have types ('i' / 't', n letters),
 * rewritten to run over unnest() of one array per parameter, then
 * translated as above: $k is the array of parameter k.  0 or -1 with err. */
int pg_sql_batch(const char *sql, const char *types, struct pg_sql *out, char *err, size_t errlen);

/* A batch INSERT that COPY can load: "INSERT INTO t (c1, ..., cn) VALUES
 * (?1, ..., ?n)" (nparams parameters, each once and in order, "?" or
 * "?k"; nothing more): "COPY t (c1, ..., cn) FROM STDIN" (caller frees).
 * NULL for any other statement. */
char *pg_sql_copy(const char *sql, int nparams);

/* The override table, for tests: its n SQLite keys (each must still be a
 * statement of the store, or the override is dead). */
const char *pg_sql_override_key(size_t i);
size_t pg_sql_override_count(void);
#endif
