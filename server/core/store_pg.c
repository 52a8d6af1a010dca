/*
 * store_pg.c: PostgreSQL through libpq (issue 17): connecting with
 * messages that never carry the password (store_pg.h, shared with the
 * driver db_pg.c, the other file that includes libpq-fe.h), and the schema:
 * schema/pg's migrations applied under an advisory transaction lock and
 * recorded in schema_migration as on SQLite; and the upkeep of the day
 * partitions of fetch_log and registration (schema/pg 025) on the one node
 * holding the pruner's lock.  Its statements are PostgreSQL's own (they go
 * through the store's connection, and pg_sql.c's rules leave them as they
 * are), which is why tests/t/a1 does not run them with made-up values.
 * libpq ownership, stated once: every PGresult is PQclear'ed by whoever
 * got it; PQconninfoParse's array goes to PQconninfoFree, its message to
 * PQfreemem.  No message ever carries the URL's password (redacted URL,
 * and the password scrubbed from libpq's own words).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "sipprov.h"
#include "store_int.h"
#include "store_pg.h"

bool store_is_pg_url(const char *db)
{
	return db && (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11));
}

void store_pg_url_redact(const char *url, char *out, size_t n)
{
	if (!store_is_pg_url(url)) {
		sp_strlcpy(out, url, n);
		return;
	}
	char *t = xmalloc(strlen(url) + 1), *o = t;
	const char *p = strstr(url, "://") + 3, *at = NULL;
	size_t auth = strcspn(p, "/?");
	/* userinfo ends at the authority's last '@' (hosts may be a list). */
	for (const char *q = p; q < p + auth; q++)
		if (*q == '@')
			at = q;
	memcpy(o, url, (size_t)(p - url));
	o += p - url;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *end = colon ? colon : at;
		memcpy(o, p, (size_t)(end - p));
		o += end - p;
		p = at;
	}
	const char *qm = strchr(p, '?');
	size_t pre = qm ? (size_t)(qm - p) : strlen(p);
	memcpy(o, p, pre);
	o += pre;
	if (qm) {
		char sep = '?';
		for (const char *q = qm + 1; *q;) {
			size_t l = strcspn(q, "&");
			if (l && strncmp(q, "password=", 9)) {
				*o++ = sep;
				sep = '&';
				memcpy(o, q, l);
				o += l;
			}
			q += l;
			if (*q == '&')
				q++;
		}
	}
	*o = '\0';
	sp_strlcpy(out, t, n);
	free(t);
}

/* The password written in url's userinfo (raw, as typed) into out[n], ""
 * when there is none: found by the URL's shape, so even a URL libpq
 * cannot parse (and quotes whole in its message) is scrubbed. */
static void url_password(const char *url, char *out, size_t n)
{
	out[0] = '\0';
	if (!store_is_pg_url(url))
		return;
	const char *p = strstr(url, "://") + 3, *at = NULL;
	size_t auth = strcspn(p, "/?");
	for (const char *q = p; q < p + auth; q++)
		if (*q == '@')
			at = q;
	const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
	if (colon && (size_t)(at - colon) < n)
		snprintf(out, n, "%.*s", (int)(at - colon - 1), colon + 1);
}

void store_pg_msg(const char *msg, const char *url, const char *shown, const char *pw, char *out, size_t n)
{
	struct { const char *from, *to; } sub[3] = { { url, shown }, { pw, "***" }, { NULL, "***" } };
	char raw[PG_PW_MAX];
	url_password(url, raw, sizeof(raw));
	sub[2].from = raw;
	struct buf b;
	buf_init(&b, 8192);
	for (const char *m = msg ? msg : "unknown error"; *m;) {
		size_t i = 0, l = 0;
		for (; i < 3; i++)
			if ((l = strlen(sub[i].from)) && !strncmp(m, sub[i].from, l))
				break;
		if (i < 3) {
			buf_adds(&b, sub[i].to);
			m += l;
		} else if (*m == '\n' || *m == '\r' || *m == '\t') {
			while (*m == '\n' || *m == '\r' || *m == '\t')
				m++;
			if (*m)
				buf_adds(&b, "; ");
		} else {
			buf_add(&b, m++, 1);
		}
	}
	sp_strlcpy(out, b.data ? b.data : "", n);
	buf_release(&b);
	secret_wipe(raw, sizeof(raw));
}

static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;   /* NOTICEs ("already exists, skipping") are not news */
}

void store_pg_close(struct pg *g)
{
	PQfinish(g->conn);
	g->conn = NULL;
	secret_wipe(g->pw, sizeof(g->pw));
}

static int pg_fail(struct pg *g, const char *what, const char *msg, char *err, size_t errlen)
{
	char m[SP_ERR_MAX];
	store_pg_msg(msg, g->url, g->shown, g->pw, m, sizeof(m));
	return sp_err(err, errlen, "database '%s': %s: %s", g->shown, what, m);
}

int store_pg_connect(struct pg *g, const char *url, char *err, size_t errlen)
{
	char *msg = NULL;
	memset(g, 0, sizeof(*g));
	g->url = url;
	store_pg_url_redact(url, g->shown, sizeof(g->shown));
	PQconninfoOption *opts = PQconninfoParse(url, &msg);
	if (!opts) {
		pg_fail(g, "not a valid PostgreSQL URL", msg, err, errlen);
		PQfreemem(msg);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val)
			sp_strlcpy(g->pw, o->val, sizeof(g->pw));
	PQconninfoFree(opts);
	/* Later keywords win: the URL's own connect_timeout and
	 * application_name override these defaults. */
	const char *const kw[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const val[] = { "10", "sipprov", url, NULL };
	g->conn = PQconnectdbParams(kw, val, 1);
	if (!g->conn || PQstatus(g->conn) != CONNECTION_OK) {
		pg_fail(g, "cannot connect", g->conn ? PQerrorMessage(g->conn) : "out of memory", err, errlen);
		store_pg_close(g);
		return -1;
	}
	PQsetNoticeProcessor(g->conn, pg_quiet, NULL);
	return 0;
}

int store_pg_url_check(const char *url, char *err, size_t errlen)
{
	char *msg = NULL, shown[SP_FIELD_MAX], m[SP_ERR_MAX], pw[PG_PW_MAX] = "";
	PQconninfoOption *opts = PQconninfoParse(url, &msg);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	store_pg_url_redact(url, shown, sizeof(shown));
	store_pg_msg(msg, url, shown, pw, m, sizeof(m));
	PQfreemem(msg);
	return sp_err(err, errlen, "'%s' is not a valid PostgreSQL URL: %s", shown, m);
}

/* Run sql (params as text); the result when it succeeded (caller clears),
 * else NULL with err saying what failed. */
static PGresult *pg_run(struct pg *g, const char *what, const char *sql, int nparams, const char *const *params,
			char *err, size_t errlen)
{
	PGresult *r = nparams ? PQexecParams(g->conn, sql, nparams, NULL, params, NULL, NULL, 0) :
				PQexec(g->conn, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	pg_fail(g, what, r ? PQresultErrorMessage(r) : PQerrorMessage(g->conn), err, errlen);
	PQclear(r);
	return NULL;
}

static int pg_do(struct pg *g, const char *what, const char *sql, char *err, size_t errlen)
{
	PGresult *r = pg_run(g, what, sql, 0, NULL, err, errlen);
	PQclear(r);
	return r ? 0 : -1;
}

static const struct schema_migration *pg_known(int number)
{
	for (size_t i = 0; i < schema_pg_migration_count; i++)
		if (schema_pg_migrations[i].number == number)
			return &schema_pg_migrations[i];
	return NULL;
}

/* Numbers recorded in the database (a sorted array of *n; caller frees),
 * none for a new database (*fresh, may be NULL: no table at all).  A
 * database with tables but no schema_migration is not ours: refused.  0 or
 * -1 with err. */
static int pg_recorded(struct pg *g, int **nums, size_t *n, bool *fresh, char *err, size_t errlen)
{
	*nums = NULL;
	*n = 0;
	/* The tables are counted only without schema_migration: on a new
	 * connection that scan of the catalog cost the server about 5 ms of
	 * CPU, a fifth of the connection's own (psql, 30 connections each
	 * way, on the bench's VM, 2026-12-06). */
	PGresult *r = pg_run(g, "reading its schema", "SELECT to_regclass('schema_migration') IS NOT NULL", 0, NULL,
			     err, errlen);
	if (!r)
		return -1;
	bool have = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	long tables = 1;
	if (!have) {
		r = pg_run(g, "reading its schema",
			   "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", 0, NULL, err, errlen);
		if (!r)
			return -1;
		tables = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	if (fresh)
		*fresh = !tables;
	if (!have && tables)
		return sp_err(err, errlen, "database '%s' is not a sipprov database (it has %ld table%s but no "
			      "schema_migration)", g->shown, tables, tables == 1 ? "" : "s");
	if (!have)
		return 0;
	r = pg_run(g, "reading its schema", "SELECT number FROM schema_migration ORDER BY number", 0, NULL, err,
		   errlen);
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*nums = xcalloc(*n ? *n : 1, sizeof(int));
	for (size_t i = 0; i < *n; i++)
		(*nums)[i] = (int)strtol(PQgetvalue(r, (int)i, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/* Apply migration mg unless another run recorded it first: one
 * transaction holding the migration lock.  1 applied, 0 already there, -1. */
static int pg_apply(struct pg *g, const struct schema_migration *mg, char *err, size_t errlen)
{
	char num[16], at[24], what[96], lock[64];
	snprintf(num, sizeof(num), "%d", mg->number);
	snprintf(at, sizeof(at), "%lld", (long long)time(NULL));
	snprintf(what, sizeof(what), "migration %s", mg->name);
	snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%lld)", (long long)SP_PG_LOCK_MIGRATE);
	const char *const ins[] = { num, mg->name, at };
	PGresult *r = NULL;
	int rc = -1;
	if (pg_do(g, "BEGIN", "BEGIN", err, errlen) < 0)
		return -1;
	/* The lock first: whoever waited here sees the other run's commit. */
	if (pg_do(g, "taking the migration lock", lock, err, errlen) < 0 ||
	    pg_do(g, "creating schema_migration",
		  "CREATE TABLE IF NOT EXISTS schema_migration (number BIGINT PRIMARY KEY, name TEXT NOT NULL, "
		  "applied BIGINT NOT NULL)", err, errlen) < 0)
		goto out;
	if (!(r = pg_run(g, "reading schema_migration", "SELECT 1 FROM schema_migration WHERE number = $1::bigint",
			 1, ins, err, errlen)))
		goto out;
	if (PQntuples(r)) {
		rc = 0;
		goto out;
	}
	if (pg_do(g, what, mg->sql, err, errlen) < 0)
		goto out;
	PQclear(r);
	if (!(r = pg_run(g, "recording it", "INSERT INTO schema_migration VALUES ($1::bigint, $2, $3::bigint)", 3,
			 ins, err, errlen)))
		goto out;
	rc = 1;
out:
	PQclear(r);
	if (rc < 0) {
		PQclear(PQexec(g->conn, "ROLLBACK"));
		return -1;
	}
	return pg_do(g, "COMMIT", "COMMIT", err, errlen) < 0 ? -1 : rc;
}

int store_pg_migrate(const char *url, struct store_migrated *m, char *err, size_t errlen)
{
	struct pg g;
	int *have = NULL, rc = -1;
	size_t nhave = 0;
	memset(m, 0, sizeof(*m));
	if (store_pg_connect(&g, url, err, errlen) < 0)
		return -1;
	if (pg_recorded(&g, &have, &nhave, NULL, err, errlen) < 0)
		goto out;
	int want = schema_pg_migration_count ? schema_pg_migrations[schema_pg_migration_count - 1].number : 0;
	m->from = m->to = nhave ? have[nhave - 1] : 0;
	for (size_t i = 0; i < nhave; i++)
		if (!pg_known(have[i])) {
			sp_err(err, errlen, "database '%s' has schema %03d, newer than this sipprov %s (schema %03d): "
			       "use the sipprov that wrote it", g.shown, have[nhave - 1], SP_VERSION, want);
			goto out;
		}
	for (size_t i = 0, k = 0; i < schema_pg_migration_count; i++) {
		const struct schema_migration *mg = &schema_pg_migrations[i];
		while (k < nhave && have[k] < mg->number)
			k++;
		if (k < nhave && have[k] == mg->number)
			continue;   /* recorded before we started: never undone */
		int a = pg_apply(&g, mg, err, errlen);
		if (a < 0)
			goto out;
		m->applied += a;
	}
	m->to = want;
	rc = 0;
out:
	free(have);
	store_pg_close(&g);
	return rc;
}

int store_pg_schema_on(struct pg *g, struct store_schema *sc, char *err, size_t errlen)
{
	int *have = NULL;
	size_t nhave = 0;
	memset(sc, 0, sizeof(*sc));
	if (pg_recorded(g, &have, &nhave, &sc->fresh, err, errlen) < 0)
		return -1;
	sc->want = schema_pg_migration_count ? schema_pg_migrations[schema_pg_migration_count - 1].number : 0;
	sc->have = nhave ? have[nhave - 1] : 0;
	for (size_t i = 0; i < nhave; i++)
		if (!pg_known(have[i]))
			sc->unknown = have[i];
	for (size_t i = 0, k = 0; i < schema_pg_migration_count; i++) {
		int num = schema_pg_migrations[i].number;
		while (k < nhave && have[k] < num)
			k++;
		if (k < nhave && have[k] == num)
			continue;
		if (!sc->pending++)
			sc->missing = num;
	}
	free(have);
	return 0;
}

int store_pg_schema(const char *url, struct store_schema *sc, char *err, size_t errlen)
{
	struct pg g;
	memset(sc, 0, sizeof(*sc));
	if (store_pg_connect(&g, url, err, errlen) < 0)
		return -1;
	int rc = store_pg_schema_on(&g, sc, err, errlen);
	store_pg_close(&g);
	return rc;
}

int store_pg_refuse(const char *url, const struct store_schema *sc, char *err, size_t errlen)
{
	char shown[SP_FIELD_MAX];
	store_pg_url_redact(url, shown, sizeof(shown));
	if (sc->unknown)
		return sp_err(err, errlen, "database '%s' has schema %03d, newer than this sipprov %s (schema %03d): "
			      "use the sipprov that wrote it", shown, sc->unknown > sc->have ? sc->unknown : sc->have,
			      SP_VERSION, sc->want);
	if (!sc->fresh && sc->pending && sc->have >= sc->want)
		return sp_err(err, errlen, "database '%s' lacks migration %03d of this sipprov %s: run 'sipprov "
			      "migrate'", shown, sc->missing, SP_VERSION);
	if (!sc->fresh && sc->pending)
		return sp_err(err, errlen, "database '%s' is at schema %03d, this sipprov %s needs %03d: run "
			      "'sipprov migrate'", shown, sc->have, SP_VERSION, sc->want);
	return 0;
}

/* ---- day partitions of the history (schema/pg 025) ---- */

bool store_history_partitioned(struct store *s)
{
	return db_kind(store_db(s)) == DB_PG;
}

/* Does this connection hold the pruner's lock, taking it if free?  A held
 * lock is looked up in pg_locks rather than taken again: advisory locks
 * count, and a second pg_try_advisory_lock would need a second unlock.  A
 * bigint key shows there as classid (high half), objid (low half) and
 * objsubid 1.  CASE, unlike OR, evaluates the try only when needed.  1 held,
 * 0 another session has it, -1 error. */
static int prune_lock(struct store *s)
{
	struct dbst *st = store_stmt(s, "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
				     "AND pid = pg_backend_pid() AND granted AND classid::bigint = ?2 "
				     "AND objid::bigint = ?3 AND objsubid = 1) THEN true "
				     "ELSE pg_try_advisory_lock(?1) END");
	if (!st)
		return -1;
	uint64_t k = (uint64_t)SP_PG_LOCK_PRUNE;
	db_bind_int64(st, 1, SP_PG_LOCK_PRUNE);
	db_bind_int64(st, 2, (int64_t)(k >> 32));
	db_bind_int64(st, 3, (int64_t)(k & 0xffffffffu));
	int rc = db_step(st), held = rc == DB_ROW ? db_col_int64(st, 0) != 0 : -1;
	db_reset(st);
	return held;
}

int store_pg_upkeep(struct store *s, int64_t now, int64_t before,
		    void (*fn)(void *arg, const char *action, const char *part, long rows), void *arg)
{
	static const char *const tables[] = { "fetch_log", "registration" };
	int held = prune_lock(s);
	if (held <= 0)
		return held;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		/* One statement, so one transaction per table: its DDL commits
		 * or rolls back whole. */
		struct dbst *st = store_stmt(s, "SELECT action, part, nrows FROM sp_part_upkeep(?1, ?2, ?3, ?4)");
		if (!st)
			return -1;
		store_bind_text(st, 1, tables[i]);
		db_bind_int64(st, 2, now);
		db_bind_int64(st, 3, SP_PG_PART_AHEAD);
		db_bind_int64(st, 4, before > 0 ? before : 0);
		int rc;
		while ((rc = db_step(st)) == DB_ROW) {
			char action[16], part[SP_NAME_MAX];
			store_col_text(st, 0, action, sizeof(action));
			store_col_text(st, 1, part, sizeof(part));
			if (fn)
				fn(arg, action, part, (long)db_col_int64(st, 2));
		}
		db_reset(st);
		if (rc != DB_DONE)
			return -1;
	}
	return 1;
}
