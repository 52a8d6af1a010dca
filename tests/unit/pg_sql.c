/*
 * pg_sql.c: the SQLite -> PostgreSQL rewrite (server/core/pg_sql.c), table
 * driven: each rule on its own, next to string literals, quoted
 * identifiers and comments it must leave alone; ?N reuse and SQLite's
 * numbering of a bare ?; RETURNING id only for tables with an identity id;
 * the constructs without a rule refused by name; the override table.
 * No server: tests/t/a1-pg-driver.sh runs the results on one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "core/sipprov.h"
#include "core/pg_sql.h"

static const struct { const char *sqlite, *pg; int nparams; } cases[] = {
	/* parameters */
	{ "SELECT a FROM t WHERE id = ?", "SELECT a FROM t WHERE id = $1", 1 },
	{ "SELECT ?, ?, ?", "SELECT $1, $2, $3", 3 },
	{ "SELECT ?1 WHERE ?1 = 0 OR x = ?1", "SELECT $1 WHERE $1 = 0 OR x = $1", 1 },
	{ "SELECT ?2, ?", "SELECT $2, $3", 3 },                 /* bare ? = largest so far + 1 */
	{ "SELECT ?3, ?1, ?", "SELECT $3, $1, $4", 4 },
	{ "SELECT ?, ?5, ?", "SELECT $1, $5, $6", 6 },
	{ "SELECT ?10, ?2", "SELECT $10, $2", 10 },
	{ "SELECT 'a?b', ?", "SELECT 'a?b', $1", 1 },           /* not inside literals */
	{ "SELECT 'it''s ?1', ?1", "SELECT 'it''s ?1', $1", 1 },
	{ "SELECT \"we?rd\" FROM t WHERE x = ?", "SELECT \"we?rd\" FROM t WHERE x = $1", 1 },
	{ "SELECT 1 -- why ?\nWHERE x = ?", "SELECT 1 -- why ?\nWHERE x = $1", 1 },
	{ "SELECT /* ? IS ?1 */ ?", "SELECT /* ? IS ?1 */ $1", 1 },
	{ "SELECT 1", "SELECT 1", 0 },
	/* IS ?N */
	{ "SELECT 1 WHERE a IS ?1 AND b IS NOT ?2", "SELECT 1 WHERE a IS NOT DISTINCT FROM $1 AND b IS DISTINCT FROM $2",
	  2 },
	{ "SELECT 1 WHERE a IS ? AND b is not ?", "SELECT 1 WHERE a IS NOT DISTINCT FROM $1 AND b IS DISTINCT FROM $2",
	  2 },
	{ "SELECT 1 WHERE a IS NULL AND b IS NOT NULL", "SELECT 1 WHERE a IS NULL AND b IS NOT NULL", 0 },
	{ "SELECT 'x IS ?1' WHERE a IS ?1", "SELECT 'x IS ?1' WHERE a IS NOT DISTINCT FROM $1", 1 },
	{ "SELECT 1 WHERE ?1 IS NULL", "SELECT 1 WHERE $1 IS NULL", 1 },
	{ "SELECT 1 WHERE a == ?", "SELECT 1 WHERE a = $1", 1 },
	/* INSERT OR IGNORE */
	{ "INSERT OR IGNORE INTO job_item (a, b) VALUES (?, ?)",
	  "INSERT INTO job_item (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING", 2 },
	{ "insert or ignore into job_item (a) VALUES ('or ignore')",
	  "insert into job_item (a) VALUES ('or ignore') ON CONFLICT DO NOTHING", 0 },
	{ "INSERT OR IGNORE INTO job_item (a) VALUES (1);",
	  "INSERT INTO job_item (a) VALUES (1) ON CONFLICT DO NOTHING;", 0 },
	/* scalar max/min, aggregates untouched */
	{ "UPDATE p SET last = max(last, ?2), first = min(first, ?2, 5)",
	  "UPDATE p SET last = greatest(last, $2), first = least(first, $2, 5)", 2 },
	{ "SELECT max(at), min(id) FROM t", "SELECT max(at), min(id) FROM t", 0 },
	{ "SELECT max(coalesce(a, 0)) FROM t", "SELECT max(coalesce(a, 0)) FROM t", 0 },
	{ "SELECT max(abs(a), 1) FROM t", "SELECT greatest(abs(a), 1) FROM t", 0 },
	/* sum over a truth value */
	{ "SELECT sum(s BETWEEN 200 AND 399), sum(s) FROM f",
	  "SELECT sum((s BETWEEN 200 AND 399)::int), sum(s) FROM f", 0 },
	{ "SELECT sum(c = 0 OR (c >= 300 AND c NOT IN (401, 407))) FROM r",
	  "SELECT sum((c = 0 OR (c >= 300 AND c NOT IN (401, 407)))::int) FROM r", 0 },
	{ "SELECT sum(CASE WHEN a = 1 THEN 2 ELSE 0 END) FROM t",
	  "SELECT sum(CASE WHEN a = 1 THEN 2 ELSE 0 END) FROM t", 0 },
	{ "SELECT sum(a * (b = 1)) FROM t", "SELECT sum(a * (b = 1)) FROM t", 0 },
	/* functions, LIKE */
	{ "SELECT ifnull(a, ''), instr(a, 'x') FROM t", "SELECT coalesce(a, ''), strpos(a, 'x') FROM t", 0 },
	{ "SELECT 1 FROM t WHERE name LIKE ? AND x NOT LIKE 'a%'",
	  "SELECT 1 FROM t WHERE name ILIKE $1 AND x NOT ILIKE 'a%'", 1 },
	{ "SELECT 'LIKE ifnull(' FROM t", "SELECT 'LIKE ifnull(' FROM t", 0 },
	/* subquery aliases */
	{ "SELECT s, count(*) FROM (SELECT 1 AS s FROM t) GROUP BY s",
	  "SELECT s, count(*) FROM (SELECT 1 AS s FROM t) AS sp_sub1 GROUP BY s", 0 },
	{ "SELECT s FROM (SELECT a FROM (SELECT a FROM t WHERE x = ?1))",
	  "SELECT s FROM (SELECT a FROM (SELECT a FROM t WHERE x = $1) AS sp_sub2) AS sp_sub1", 1 },
	{ "SELECT s FROM (SELECT 1 AS s) q", "SELECT s FROM (SELECT 1 AS s) q", 0 },
	{ "SELECT s FROM (SELECT 1 AS s) AS q WHERE s = 1", "SELECT s FROM (SELECT 1 AS s) AS q WHERE s = 1", 0 },
	{ "SELECT a FROM t WHERE id IN (SELECT id FROM u LIMIT 2)",
	  "SELECT a FROM t WHERE id IN (SELECT id FROM u LIMIT 2)", 0 },
	{ "SELECT a FROM t JOIN (SELECT id FROM u) ON u.id = t.id",
	  "SELECT a FROM t JOIN (SELECT id FROM u) AS sp_sub1 ON u.id = t.id", 0 },
	/* index hints, LIMIT -1, CAST */
	{ "SELECT count(*) FROM d INDEXED BY d_open WHERE x = 0", "SELECT count(*) FROM d WHERE x = 0", 0 },
	{ "SELECT count(*) FROM d NOT INDEXED WHERE x = 0", "SELECT count(*) FROM d WHERE x = 0", 0 },
	{ "SELECT a FROM t LIMIT -1 OFFSET ?", "SELECT a FROM t LIMIT ALL OFFSET $1", 1 },
	{ "SELECT CAST(a AS INTEGER), CAST(b AS TEXT) FROM t", "SELECT CAST(a AS BIGINT), CAST(b AS TEXT) FROM t", 0 },
	/* transactions */
	{ "BEGIN", "BEGIN", 0 },
	{ "BEGIN DEFERRED", "BEGIN", 0 },
	{ "COMMIT", "COMMIT", 0 },
	/* statements that need nothing */
	{ "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a",
	  "INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = excluded.a", 1 },
	{ "SELECT date_added, oidx FROM t", "SELECT date_added, oidx FROM t", 0 },
	/* a PostgreSQL function body in a script is a literal */
	{ "CREATE FUNCTION f() RETURNS int AS $$ SELECT max(a, ?) $$ LANGUAGE sql",
	  "CREATE FUNCTION f() RETURNS int AS $$ SELECT max(a, ?) $$ LANGUAGE sql", 0 },
	{ "SELECT $b$ IS ?1 $b$, ?", "SELECT $b$ IS ?1 $b$, $1", 1 },
};

/* SQLite-only, no rule: refused, naming the construct. */
static const struct { const char *sql, *names; } refusals[] = {
	{ "SELECT a FROM t WHERE a GLOB '*x*'", "'GLOB'" },
	{ "INSERT OR REPLACE INTO t (a) VALUES (1)", "INSERT OR REPLACE" },
	{ "REPLACE INTO t (a) VALUES (1)", "'REPLACE'" },
	{ "SELECT group_concat(a) FROM t", "'group_concat'" },
	{ "SELECT strftime('%s', 'now')", "'strftime'" },
	{ "SELECT datetime(at, 'unixepoch') FROM t", "'datetime'" },
	{ "SELECT julianday('now')", "'julianday'" },
	{ "SELECT typeof(a) FROM t", "'typeof'" },
	{ "SELECT rowid FROM t", "'rowid'" },
	{ "SELECT 1 FROM sqlite_master", "'sqlite_master'" },
	{ "SELECT j.value FROM t, json_each(t.s) j", "'json_each'" },
	{ "SELECT json_extract(s, '$.a') FROM t", "'json_extract'" },
	{ "PRAGMA foreign_keys = ON", "'PRAGMA'" },
};

static bool has_id(const char *table, void *arg)
{
	(void)arg;
	return !strcmp(table, "tenant") || !strcmp(table, "device");
}

int main(void)
{
	char err[SP_ERR_MAX];
	struct pg_sql t;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = pg_sql_translate(cases[i].sqlite, has_id, NULL, &t, err, sizeof(err));
		char name[256];
		sp_strlcpy(name, cases[i].sqlite, sizeof(name));
		for (char *c = name; *c; c++)
			if (*c == '\n')
				*c = ' ';
		if (!ok(rc == 0, "translates: %s", name)) {
			printf("#   %s\n", err);
			continue;
		}
		is_str(t.text, cases[i].pg, "  as expected (case %zu)", i);
		is_int(t.nparams, cases[i].nparams, "  %d parameters", cases[i].nparams);
		ok(!t.returning, "  no RETURNING added");
		pg_sql_free(&t);
	}

	/* RETURNING id: identity tables only, never twice, with OR IGNORE. */
	ok(pg_sql_translate("INSERT INTO tenant (slug) VALUES (?)", has_id, NULL, &t, err, sizeof(err)) == 0 &&
	   t.returning && !strcmp(t.text, "INSERT INTO tenant (slug) VALUES ($1) RETURNING id"),
	   "an INSERT into a table with an identity id returns it");
	pg_sql_free(&t);
	ok(pg_sql_translate("INSERT OR IGNORE INTO device (mac) VALUES (?)", has_id, NULL, &t, err, sizeof(err)) == 0 &&
	   t.returning && !strcmp(t.text, "INSERT INTO device (mac) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id"),
	   "after ON CONFLICT DO NOTHING");
	pg_sql_free(&t);
	ok(pg_sql_translate("INSERT INTO device (mac) VALUES (?) ON CONFLICT (mac) DO UPDATE SET mac = excluded.mac",
			    has_id, NULL, &t, err, sizeof(err)) == 0 && t.returning && t.upsert &&
	   !strcmp(t.text, "INSERT INTO device (mac) VALUES ($1) ON CONFLICT (mac) DO UPDATE SET mac = excluded.mac "
		   "RETURNING id, xmax = 0"), "an upsert returns which rows it inserted");
	pg_sql_free(&t);
	ok(pg_sql_translate("INSERT INTO job_item (a) VALUES (?)", has_id, NULL, &t, err, sizeof(err)) == 0 &&
	   !t.returning && !strcmp(t.text, "INSERT INTO job_item (a) VALUES ($1)"),
	   "not for a table without one");
	pg_sql_free(&t);
	ok(pg_sql_translate("INSERT INTO tenant (slug) VALUES (?) RETURNING slug", has_id, NULL, &t, err,
			    sizeof(err)) == 0 && !t.returning &&
	   !strcmp(t.text, "INSERT INTO tenant (slug) VALUES ($1) RETURNING slug"),
	   "not when the statement has its own RETURNING");
	pg_sql_free(&t);
	ok(pg_sql_translate("INSERT INTO tenant (slug) VALUES (?)", NULL, NULL, &t, err, sizeof(err)) == 0 &&
	   !t.returning && !strcmp(t.text, "INSERT INTO tenant (slug) VALUES ($1)"), "not in a script (no has_id)");
	pg_sql_free(&t);
	ok(pg_sql_translate("UPDATE tenant SET name = 'INSERT INTO tenant' WHERE id = ?", has_id, NULL, &t, err,
			    sizeof(err)) == 0 && !t.returning, "not for an UPDATE");
	pg_sql_free(&t);

	ok(pg_sql_translate("-- nothing\n ; ", has_id, NULL, &t, err, sizeof(err)) == 0 && t.empty,
	   "only a comment: empty");
	pg_sql_free(&t);
	ok(pg_sql_translate("SELECT 1", has_id, NULL, &t, err, sizeof(err)) == 0 && !t.empty && t.statements == 1,
	   "a statement: not empty, one");
	pg_sql_free(&t);

	/* BEGIN IMMEDIATE: the writers' advisory lock; scripts statement by statement. */
	char want[256];
	snprintf(want, sizeof(want), "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)SP_PG_LOCK_WRITE);
	ok(pg_sql_translate("BEGIN IMMEDIATE", NULL, NULL, &t, err, sizeof(err)) == 0, "BEGIN IMMEDIATE translates");
	is_str(t.text, want, "  to BEGIN + the writers' advisory lock");
	is_int(t.statements, 2, "  two statements");
	pg_sql_free(&t);
	ok(pg_sql_translate("BEGIN EXCLUSIVE", NULL, NULL, &t, err, sizeof(err)) == 0 && !strcmp(t.text, want),
	   "BEGIN EXCLUSIVE too");
	pg_sql_free(&t);
	ok(pg_sql_translate("INSERT OR IGNORE INTO a VALUES (1); INSERT OR IGNORE INTO b VALUES (';');\n", NULL, NULL,
			    &t, err, sizeof(err)) == 0, "a script translates");
	is_str(t.text, "INSERT INTO a VALUES (1) ON CONFLICT DO NOTHING; INSERT INTO b VALUES (';') ON CONFLICT DO "
	       "NOTHING;\n", "  each statement gets its own ON CONFLICT, a ';' in a literal is no end");
	pg_sql_free(&t);

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		err[0] = '\0';
		int rc = pg_sql_translate(refusals[i].sql, has_id, NULL, &t, err, sizeof(err));
		ok(rc < 0 && !t.text && strstr(err, refusals[i].names) && strstr(err, "override"),
		   "refused, naming %s: %s", refusals[i].names, err);
	}

	/* The overrides: each key is taken whole, its text is PostgreSQL's. */
	ok(pg_sql_override_count() >= 3, "the override table has its entries");
	for (size_t i = 0; i < pg_sql_override_count(); i++) {
		const char *k = pg_sql_override_key(i);
		int rc = pg_sql_translate(k, has_id, NULL, &t, err, sizeof(err));
		ok(rc == 0 && strcmp(t.text, k) && !strstr(t.text, "?") && !strstr(t.text, " GLOB ") &&
		   !strstr(t.text, "json_each(v.settings)"), "override %zu replaces the statement: %.60s...", i, k);
		pg_sql_free(&t);
	}
	ok(pg_sql_override_key(pg_sql_override_count()) == NULL, "past the table: NULL");
	ok(pg_sql_translate("SELECT id FROM job WHERE (?1 OR tenant_id = ?2) AND (?3 = 0 OR id < ?3) ORDER BY id DESC",
			    has_id, NULL, &t, err, sizeof(err)) == 0 && t.nparams == 3,
	   "a statement near an override key is not taken for it");
	pg_sql_free(&t);

	/* pg_sql_copy: a batch INSERT COPY can load, and what it cannot. */
	static const struct { const char *sql; int n; const char *copy; } copies[] = {
		{ "INSERT INTO fetch_log (device_id, at, ip) VALUES (?,?,?)", 3,
		  "COPY fetch_log (device_id, at, ip) FROM STDIN" },
		{ "insert into t (a, b) values (?1, ?2)", 2, "COPY t (a, b) FROM STDIN" },
		{ "INSERT INTO t (a) VALUES (? )", 1, "COPY t (a) FROM STDIN" },
		{ "INSERT INTO t (a, b) VALUES (?2, ?1)", 2, NULL },         /* out of order */
		{ "INSERT INTO t (a, b) VALUES (?1, ?1)", 1, NULL },         /* one twice */
		{ "INSERT INTO t (a, b) VALUES (?, 0)", 1, NULL },           /* a constant */
		{ "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING", 2, NULL },
		{ "INSERT INTO t (a, b) VALUES (?, ?) RETURNING id", 2, NULL },
		{ "INSERT OR IGNORE INTO t (a) VALUES (?)", 1, NULL },
		{ "INSERT INTO t VALUES (?, ?)", 2, NULL },                  /* no column list */
		{ "INSERT INTO t (a, b) VALUES (?, ?)", 3, NULL },           /* a parameter short */
		{ "INSERT INTO t (a, b) SELECT ?, ?", 2, NULL },
		{ "UPDATE t SET a = ? WHERE id = ?", 2, NULL },
		{ "INSERT INTO s.t (a) VALUES (?)", 1, NULL },               /* qualified: not taken */
	};
	for (size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
		char *c = pg_sql_copy(copies[i].sql, copies[i].n);
		if (copies[i].copy)
			is_str(c, copies[i].copy, "COPY for: %s", copies[i].sql);
		else
			ok(c == NULL, "no COPY for: %s", copies[i].sql);
		free(c);
	}
	return tap_done();
}
