/*
 * db_pg.c: db.h's driver for PostgreSQL (issue 17), over libpq.
 *
 * A statement is translated once at db_prepare (pg_sql.c) and prepared on
 * the server lazily, at its first step, when the bound values say the
 * parameters' types: int64 -> int8, text -> text, blob -> bytea (sent in
 * binary format), NULL -> unknown (the server infers it from the context).
 * Each combination of types is its own server-side statement ("sp<N>",
 * per connection), so `? IS NULL`, `coalesce(?, ..)` and `SELECT ?` get a
 * type.  A NULL whose type nothing in the statement says (42P18/42P08) is
 * retried as text, inside a savepoint when a transaction is open, since
 * a failed prepare would abort it.  Statements not marked persistent are
 * run with PQexecParams and leave nothing on the server; one that became
 * several commands (BEGIN IMMEDIATE) with PQexec.
 *
 * Results come back in text format and whole (one PGresult per execution;
 * db_step walks its rows): col_int64 parses, reading boolean t/f as 1/0
 * (PostgreSQL's comparisons are boolean where SQLite's are 0/1); col_blob
 * decodes a bytea column with PQunescapeBytea (the bytes stay valid until
 * the next step, reset or finalize, as db.h says).
 *
 * db_last_id: an INSERT into a table with an identity id gets RETURNING id
 * appended (pg_sql.c; which tables is read from the catalog once and again
 * after every db_exec, which is where DDL goes); the driver keeps the last
 * returned id and hides that row.  Not lastval(): a trigger inserting into
 * another identity table would move it (tests/t/a1-pg-driver.sh checks).
 *
 * db_exec runs a script with PQexec (the simple protocol: without its own
 * BEGIN the script is one implicit transaction).  Inside a transaction any
 * failed statement, a step or an exec, aborts it: every later command
 * fails (25P02, "current transaction is aborted") until ROLLBACK.  So the
 * store must roll back after any failure between BEGIN and COMMIT and may
 * not carry on or retry in place as it may on SQLite (where a failed
 * statement leaves the transaction usable).
 *
 * Error classes from the SQLSTATE: 23505 DB_UNIQUE; other 23xxx and P0001
 * (RAISE in a trigger) DB_CONSTRAINT; 22xxx (data exception) DB_INVALID; 40001, 40P01, 55P03, 57014
 * (serialization, deadlock, lock_timeout, statement_timeout) DB_BUSY; else
 * DB_ERROR.  db_errmsg is the primary message on one line, never with the
 * URL's password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "db_pg.h"
#include "pg_sql.h"
#include "sipprov.h"
#include "store_pg.h"

#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

struct pgdb {
	struct db base;
	struct pg g;
	char *url;                  /* with its password: wiped at close */
	char err[SP_ERR_MAX];
	int code;
	int64_t changes, last_id;
	unsigned long names;        /* the last server-side statement name used */
	char **idt;                 /* tables with an identity id */
	size_t nidt;
	bool idt_loaded;
	bool sent;                  /* db_send's command: its result not read yet */
	unsigned long runs;         /* db_pg_runs */
};

enum ptype { P_NULL = 'n', P_INT = 'i', P_TEXT = 't', P_BLOB = 'b' };

struct param {
	char type;                  /* enum ptype */
	char *v;                    /* text, or the blob's bytes; NULL for P_INT (num) */
	int len;
	char num[24];
};

struct variant {
	char *key;                  /* one enum ptype per parameter */
	char name[24];
};

struct pgst {
	struct dbst base;
	struct pg_sql tr;
	bool persistent;
	struct param *p;            /* tr.nparams of them */
	struct variant *var;
	size_t nvar;
	PGresult *res;              /* the execution's rows, NULL before it */
	int row, nrows;             /* row == nrows: DB_DONE was answered */
	unsigned char **blob;       /* decoded bytea per column of the current row */
	size_t *bloblen;
	int nblob;
	struct batch *batch;        /* a db_prepare_batch statement's rows; NULL for others */
};

/* A batch's pending rows: per parameter the elements of its array literal
 * so far, and where each row's elements start (for db_batch_truncate). */
struct batch {
	struct buf *col;            /* tr.nparams of them, "e1,e2,..." */
	size_t *mark;               /* mark[row * nparams + k]: col[k].len before the row */
	size_t rows, cap;
	char name[24];              /* the server-side statement, "" before the first flush */
	char *copy;                 /* pg_sql_copy's command: the rows go in col[0] as COPY's text */
};

static struct pgdb *D(struct db *db)
{
	return (struct pgdb *)db;
}

static struct pgst *S(struct dbst *st)
{
	return (struct pgst *)st;
}

static void set_ok(struct pgdb *d)
{
	d->code = DB_DONE;
	d->err[0] = '\0';
}

static int classify(const char *state)
{
	if (!state || strlen(state) != 5)
		return DB_ERROR;
	if (!strcmp(state, "23505"))
		return DB_UNIQUE;
	if (!strncmp(state, "23", 2) || !strcmp(state, "P0001"))
		return DB_CONSTRAINT;
	if (!strncmp(state, "22", 2))
		return DB_INVALID;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") || !strcmp(state, "57014"))
		return DB_BUSY;
	return DB_ERROR;
}

/* Record r's error (or the connection's when r has none) on d. */
static int set_err(struct pgdb *d, const PGresult *r)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!m)
		m = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(d->g.conn);
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	/* A lock wait that ran out (lock_timeout: another writer holds the
	 * writers' lock) reads as on SQLite, not "canceling statement due to
	 * lock timeout": the admin sees one message whatever the backend. */
	if (state && !strcmp(state, "55P03"))
		m = "database is locked";
	store_pg_msg(m, d->url, d->g.shown, d->g.pw, d->err, sizeof(d->err));
	d->code = classify(state);
	return d->code;
}

static int set_errf(struct pgdb *d, const char *m)
{
	sp_strlcpy(d->err, m, sizeof(d->err));
	d->code = DB_ERROR;
	return DB_ERROR;
}

static bool result_ok(const PGresult *r)
{
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* db_send's command answered: read (and drop) its result before the
 * connection is used again.  A failure stays as the connection's error; a
 * lost connection shows in PQstatus, so the next command fails as lost. */
static void settle(struct pgdb *d)
{
	if (!d->sent)
		return;
	d->sent = false;
	PGresult *r;
	while ((r = PQgetResult(d->g.conn))) {
		if (!result_ok(r))
			set_err(d, r);
		PQclear(r);
	}
}

static const char *sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

/* "could not determine data type of parameter $N": the server raises it
 * as 42P18 or 42P08 depending on where it gave up. */
static bool indeterminate(const PGresult *r)
{
	return !strcmp(sqlstate(r), "42P18") || !strcmp(sqlstate(r), "42P08");
}

/* ---- which tables have an identity id (for RETURNING id) ---- */

static void idt_forget(struct pgdb *d)
{
	for (size_t i = 0; i < d->nidt; i++)
		free(d->idt[i]);
	free(d->idt);
	d->idt = NULL;
	d->nidt = 0;
	d->idt_loaded = false;
}

static int idt_load(struct pgdb *d)
{
	PGresult *r = PQexec(d->g.conn, "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
					"WHERE a.attname = 'id' AND a.attidentity <> '' AND NOT a.attisdropped "
					"AND pg_table_is_visible(c.oid)");
	if (!result_ok(r)) {
		set_err(d, r);
		PQclear(r);
		return -1;
	}
	idt_forget(d);
	d->nidt = (size_t)PQntuples(r);
	d->idt = xcalloc(d->nidt ? d->nidt : 1, sizeof(*d->idt));
	for (size_t i = 0; i < d->nidt; i++)
		d->idt[i] = xstrdup(PQgetvalue(r, (int)i, 0));
	d->idt_loaded = true;
	PQclear(r);
	return 0;
}

struct idt_ask {
	struct pgdb *d;
	bool failed;
};

static bool has_id(const char *table, void *arg)
{
	struct idt_ask *a = arg;
	if (!a->d->idt_loaded && idt_load(a->d) < 0) {
		a->failed = true;
		return false;
	}
	for (size_t i = 0; i < a->d->nidt; i++)
		if (!strcasecmp(a->d->idt[i], table))
			return true;
	return false;
}

/* ---- statements ---- */

static void blobs_free(struct pgst *s)
{
	for (int i = 0; i < s->nblob; i++)
		if (s->blob[i])
			PQfreemem(s->blob[i]);
	free(s->blob);
	free(s->bloblen);
	s->blob = NULL;
	s->bloblen = NULL;
	s->nblob = 0;
}

static void pg_reset(struct dbst *st)
{
	struct pgst *s = S(st);
	blobs_free(s);
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	s->nrows = 0;
}

static void param_set(struct pgst *s, int i, char type, char *v, int len)
{
	if (i < 1 || i > s->tr.nparams) {
		free(v);     /* SQLite answers SQLITE_RANGE; the store never binds past its SQL */
		return;
	}
	struct param *p = &s->p[i - 1];
	free(p->v);
	p->type = type;
	p->v = v;
	p->len = len;
}

static void pg_clear(struct dbst *st)
{
	struct pgst *s = S(st);
	for (int i = 1; i <= s->tr.nparams; i++)
		param_set(s, i, P_NULL, NULL, 0);
}

static void pg_bind_int64(struct dbst *st, int i, int64_t v)
{
	struct pgst *s = S(st);
	param_set(s, i, P_INT, NULL, 0);
	if (i >= 1 && i <= s->tr.nparams)
		snprintf(s->p[i - 1].num, sizeof(s->p[i - 1].num), "%lld", (long long)v);
}

static void pg_bind_text(struct dbst *st, int i, const char *v)
{
	if (v)
		param_set(S(st), i, P_TEXT, xstrdup(v), 0);
	else
		param_set(S(st), i, P_NULL, NULL, 0);
}

static void pg_bind_blob(struct dbst *st, int i, const void *p, size_t n)
{
	if (!p || n > INT32_MAX) {      /* as sqlite3_bind_blob: no pointer binds NULL */
		param_set(S(st), i, P_NULL, NULL, 0);
		return;
	}
	char *c = xmalloc(n ? n : 1);
	memcpy(c, p, n);
	param_set(S(st), i, P_BLOB, c, (int)n);
}

static void pg_bind_null(struct dbst *st, int i)
{
	param_set(S(st), i, P_NULL, NULL, 0);
}

static struct dbst *pg_prepare(struct db *db, const char *sql, bool persistent)
{
	settle(D(db));     /* the catalog may be read for RETURNING */
	struct pgdb *d = D(db);
	struct pgst *s = xcalloc(1, sizeof(*s));
	struct idt_ask ask = { d, false };
	char err[SP_ERR_MAX];
	if (pg_sql_translate(sql, has_id, &ask, &s->tr, err, sizeof(err)) < 0 || ask.failed) {
		if (!ask.failed)
			set_errf(d, err);
		pg_sql_free(&s->tr);
		free(s);
		return NULL;
	}
	if (s->tr.empty) {      /* as sqlite3_prepare: no statement, no error */
		pg_sql_free(&s->tr);
		free(s);
		set_ok(d);
		return NULL;
	}
	s->base.db = db;
	s->persistent = persistent;
	s->p = xcalloc(s->tr.nparams ? (size_t)s->tr.nparams : 1, sizeof(*s->p));
	for (int i = 0; i < s->tr.nparams; i++)
		s->p[i].type = P_NULL;
	s->row = -1;
	set_ok(d);
	return &s->base;
}

static void batch_free(struct pgst *s);

static void pg_finalize(struct dbst *st)
{
	struct pgst *s = S(st);
	batch_free(s);
	pg_reset(st);
	pg_clear(st);
	for (size_t i = 0; i < s->nvar; i++)
		free(s->var[i].key);
	/* A persistent statement's server-side variants live until the
	 * connection closes: the store finalizes them at store_close, just
	 * before db_close, and a DEALLOCATE each would only cost round trips. */
	free(s->var);
	free(s->p);
	pg_sql_free(&s->tr);
	free(s);
}

/* The parameters' types for key (one enum ptype each); a NULL is unknown
 * (0) unless null_text. */
static Oid *types_of(const char *key, int n, bool null_text)
{
	Oid *t = xcalloc(n ? (size_t)n : 1, sizeof(Oid));
	for (int i = 0; i < n; i++)
		t[i] = key[i] == P_INT ? OID_INT8 : key[i] == P_TEXT ? OID_TEXT : key[i] == P_BLOB ? OID_BYTEA :
		       null_text ? OID_TEXT : 0;
	return t;
}

/* Run one command whose failure must not abort the caller's transaction:
 * fn inside a savepoint when a transaction is open.  The result (caller
 * clears) of fn, whatever it was. */
static PGresult *guarded(struct pgdb *d, PGresult *(*fn)(struct pgst *, const char *, const Oid *), struct pgst *s,
			 const char *key, const Oid *types)
{
	bool tx = PQtransactionStatus(d->g.conn) == PQTRANS_INTRANS;
	if (tx)
		PQclear(PQexec(d->g.conn, "SAVEPOINT sp_prepare"));
	PGresult *r = fn(s, key, types);
	if (tx)
		PQclear(PQexec(d->g.conn, result_ok(r) ? "RELEASE SAVEPOINT sp_prepare" :
						    "ROLLBACK TO SAVEPOINT sp_prepare; RELEASE SAVEPOINT sp_prepare"));
	return r;
}

static PGresult *do_prepare(struct pgst *s, const char *key, const Oid *types)
{
	struct pgdb *d = D(s->base.db);
	return PQprepare(d->g.conn, s->var[s->nvar].name, s->tr.text, s->tr.nparams, types);
}

static PGresult *do_params(struct pgst *s, const char *key, const Oid *types);

/* The server-side statement for this combination of types, prepared now
 * if it is the first; NULL with the error set. */
static const char *variant(struct pgst *s, const char *key)
{
	struct pgdb *d = D(s->base.db);
	for (size_t i = 0; i < s->nvar; i++)
		if (!strcmp(s->var[i].key, key))
			return s->var[i].name;
	s->var = xrealloc(s->var, (s->nvar + 1) * sizeof(*s->var));
	struct variant *v = &s->var[s->nvar];
	snprintf(v->name, sizeof(v->name), "sp%lu", ++d->names);
	bool nulls = strchr(key, P_NULL) != NULL;
	Oid *types = types_of(key, s->tr.nparams, false);
	PGresult *r = nulls ? guarded(d, do_prepare, s, key, types) : do_prepare(s, key, types);
	if (!result_ok(r) && nulls && indeterminate(r)) {
		/* A NULL nothing gives a type to (`? IS NULL`): text, as SQLite's
		 * NULL has no type either. */
		PQclear(r);
		free(types);
		types = types_of(key, s->tr.nparams, true);
		r = do_prepare(s, key, types);
	}
	free(types);
	if (!result_ok(r)) {
		set_err(d, r);
		PQclear(r);
		return NULL;
	}
	PQclear(r);
	v->key = xstrdup(key);
	return s->var[s->nvar++].name;
}

struct args {
	const char **val;
	int *len, *fmt;
};

static void args_of(struct pgst *s, struct args *a)
{
	size_t n = s->tr.nparams ? (size_t)s->tr.nparams : 1;
	a->val = xcalloc(n, sizeof(*a->val));
	a->len = xcalloc(n, sizeof(*a->len));
	a->fmt = xcalloc(n, sizeof(*a->fmt));
	for (int i = 0; i < s->tr.nparams; i++) {
		struct param *p = &s->p[i];
		a->val[i] = p->type == P_INT ? p->num : p->v;
		a->len[i] = p->len;
		a->fmt[i] = p->type == P_BLOB;
	}
}

static void args_free(struct args *a)
{
	free(a->val);
	free(a->len);
	free(a->fmt);
}

static PGresult *do_params(struct pgst *s, const char *key, const Oid *types)
{
	struct pgdb *d = D(s->base.db);
	struct args a;
	args_of(s, &a);
	PGresult *r = PQexecParams(d->g.conn, s->tr.text, s->tr.nparams, types, a.val, a.len, a.fmt, 0);
	args_free(&a);
	return r;
}

/* The bound parameters' types, one enum ptype each (caller frees): the
 * server-side statement variant they need. */
static char *key_of(const struct pgst *s)
{
	char *key = xmalloc((size_t)s->tr.nparams + 1);
	for (int i = 0; i < s->tr.nparams; i++)
		key[i] = s->p[i].type;
	key[s->tr.nparams] = '\0';
	return key;
}

/* Execute with the current bindings; the result (caller clears), NULL
 * with the error set. */
static PGresult *execute(struct pgst *s)
{
	struct pgdb *d = D(s->base.db);
	settle(d);
	d->runs++;
	char *key = key_of(s);
	PGresult *r = NULL;
	if (s->tr.statements > 1 && !s->tr.nparams) {
		/* BEGIN IMMEDIATE's BEGIN + lock: a server-side statement holds
		 * one command, the simple protocol any number.  When the lock
		 * is not had (lock_timeout) the BEGIN has opened a transaction,
		 * now aborted: end it, as SQLite's failed BEGIN IMMEDIATE
		 * leaves none; else every later BEGIN of this connection fails
		 * ("current transaction is aborted") and its writer with it. */
		bool idle = PQtransactionStatus(d->g.conn) == PQTRANS_IDLE;
		r = PQexec(d->g.conn, s->tr.text);
		if (!result_ok(r) && idle && PQtransactionStatus(d->g.conn) == PQTRANS_INERROR) {
			set_err(d, r);
			PQclear(r);
			PQclear(PQexec(d->g.conn, "ROLLBACK"));
			free(key);
			return NULL;
		}
	} else if (s->persistent) {
		const char *name = variant(s, key);
		if (name) {
			struct args a;
			args_of(s, &a);
			r = PQexecPrepared(d->g.conn, name, s->tr.nparams, a.val, a.len, a.fmt, 0);
			args_free(&a);
		}
	} else {
		bool nulls = strchr(key, P_NULL) != NULL;
		Oid *types = types_of(key, s->tr.nparams, false);
		r = nulls ? guarded(d, do_params, s, key, types) : do_params(s, key, types);
		if (!result_ok(r) && nulls && indeterminate(r)) {
			PQclear(r);
			free(types);
			types = types_of(key, s->tr.nparams, true);
			r = do_params(s, key, types);
		}
		free(types);
		if (!result_ok(r)) {
			set_err(d, r);
			PQclear(r);
			r = NULL;
		}
	}
	free(key);
	if (r && !result_ok(r)) {
		set_err(d, r);
		PQclear(r);
		r = NULL;
	}
	return r;
}

/* r, a successful execution's result, kept in s for its steps. */
static void took(struct pgst *s, PGresult *r)
{
	struct pgdb *d = D(s->base.db);
	const char *cmd = PQcmdStatus(r);
	if (!strncmp(cmd, "INSERT ", 7) || !strncmp(cmd, "UPDATE ", 7) || !strncmp(cmd, "DELETE ", 7) ||
	    !strncmp(cmd, "MERGE ", 6))
		d->changes = strtoll(PQcmdTuples(r), NULL, 10);
	s->res = r;
	s->nrows = s->tr.statements > 1 ? 0 : PQntuples(r);    /* the lock's row is ours */
	if (s->tr.returning) {
		/* Our RETURNING id: the last inserted row's id, as
		 * SQLite's last_insert_rowid; no row inserted leaves it. */
		for (int i = s->nrows - 1; i >= 0; i--)
			if (!PQgetisnull(r, i, 0) && (!s->tr.upsert || !strcmp(PQgetvalue(r, i, 1), "t"))) {
				d->last_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
				break;
			}
		s->nrows = 0;
	}
	s->row = -1;
}

static int pg_step(struct dbst *st)
{
	struct pgst *s = S(st);
	struct pgdb *d = D(st->db);
	blobs_free(s);
	if (s->res && s->row >= s->nrows)
		pg_reset(st);   /* a step after DB_DONE runs it again, as sqlite3_step does */
	if (!s->res) {
		PGresult *r = execute(s);
		if (!r)
			return d->code;
		took(s, r);
	}
	set_ok(d);
	if (s->row + 1 < s->nrows) {
		s->row++;
		return DB_ROW;
	}
	s->row = s->nrows;
	return DB_DONE;
}

/* db_pipeline (db.h): the statements sent in libpq's pipeline mode behind
 * one sync, each result kept in its statement for its steps. */
#define PIPE_MAX 8
static int pg_pipeline(struct db *db, struct dbst *const *sts, int n)
{
	struct pgdb *d = D(db);
	PGconn *c = d->g.conn;
	const char *name[PIPE_MAX];
	PGresult *kept[PIPE_MAX] = { 0 };
	int rc = DB_DONE, sent = 0;

	settle(d);
	for (int i = 0; i < n; i++)
		pg_reset(sts[i]);
	if (n > PIPE_MAX)
		return DB_DONE;                 /* each runs at its step */
	for (int i = 0; i < n; i++) {
		struct pgst *s = S(sts[i]);
		if (!s->persistent || s->tr.statements > 1 || s->batch)
			return DB_DONE;
		char *key = key_of(s);
		name[i] = variant(s, key);      /* prepared now if new: before the pipeline */
		free(key);
		if (!name[i])
			return d->code;
	}
	if (!PQenterPipelineMode(c))
		return set_errf(d, PQerrorMessage(c));
	for (; sent < n; sent++) {
		struct pgst *s = S(sts[sent]);
		struct args a;
		args_of(s, &a);
		int ok = PQsendQueryPrepared(c, name[sent], s->tr.nparams, a.val, a.len, a.fmt, 0);
		args_free(&a);
		if (!ok) {
			rc = set_errf(d, PQerrorMessage(c));
			break;
		}
	}
	if (PQpipelineSync(c) != 1 && rc == DB_DONE)
		rc = set_errf(d, PQerrorMessage(c));
	/* Each sent statement's result and a NULL, then the sync's.  After a
	 * failure the rest answer PGRES_PIPELINE_ABORTED. */
	for (int i = 0; i < sent; i++) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			if (rc == DB_DONE)
				rc = set_errf(d, *PQerrorMessage(c) ? PQerrorMessage(c) : "the pipeline ended early");
			break;
		}
		if (result_ok(r))
			kept[i] = r;
		else {
			if (rc == DB_DONE)
				rc = PQresultStatus(r) == PGRES_PIPELINE_ABORTED ? set_errf(d, "pipeline aborted")
										 : set_err(d, r);
			PQclear(r);
		}
		PQclear(PQgetResult(c));        /* the NULL that ends its results */
	}
	for (int guard = 0; guard < 2 * PIPE_MAX + 4; guard++) {
		PGresult *r = PQgetResult(c);
		ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC || (!r && PQstatus(c) != CONNECTION_OK))
			break;
	}
	if (!PQexitPipelineMode(c)) {
		/* Not expected after the sync; a connection left in pipeline
		 * mode would refuse every later command: make it lost, so its
		 * owner replaces it (store_lost, worker_revive). */
		if (rc == DB_DONE)
			rc = set_errf(d, PQerrorMessage(c));
		shutdown(PQsocket(c), SHUT_RDWR);
	}
	for (int i = 0; i < n; i++) {
		if (rc == DB_DONE && kept[i])
			took(S(sts[i]), kept[i]);
		else
			PQclear(kept[i]);
	}
	if (rc == DB_DONE)
		set_ok(d);
	return rc;
}

static bool has_col(struct pgst *s, int i)
{
	return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 && i < PQnfields(s->res);
}

static bool pg_col_null(struct dbst *st, int i)
{
	struct pgst *s = S(st);
	return !has_col(s, i) || PQgetisnull(s->res, s->row, i);
}

static int64_t pg_col_int64(struct dbst *st, int i)
{
	struct pgst *s = S(st);
	if (pg_col_null(st, i))
		return 0;
	const char *v = PQgetvalue(s->res, s->row, i);
	if (!strcmp(v, "t"))
		return 1;
	if (!strcmp(v, "f"))
		return 0;
	return strtoll(v, NULL, 10);
}

static const char *pg_col_text(struct dbst *st, int i)
{
	struct pgst *s = S(st);
	return pg_col_null(st, i) ? NULL : PQgetvalue(s->res, s->row, i);
}

static const void *pg_col_blob(struct dbst *st, int i, size_t *n)
{
	struct pgst *s = S(st);
	*n = 0;
	if (pg_col_null(st, i))
		return NULL;
	if (PQftype(s->res, i) != OID_BYTEA) {     /* text: its bytes, as SQLite gives */
		*n = (size_t)PQgetlength(s->res, s->row, i);
		return PQgetvalue(s->res, s->row, i);
	}
	if (!s->blob) {
		s->nblob = PQnfields(s->res);
		s->blob = xcalloc((size_t)s->nblob, sizeof(*s->blob));
		s->bloblen = xcalloc((size_t)s->nblob, sizeof(*s->bloblen));
	}
	if (!s->blob[i]) {
		s->blob[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, i), &s->bloblen[i]);
		if (!s->blob[i])
			return NULL;
	}
	*n = s->bloblen[i];
	return s->blob[i];
}

/* ---- the connection ---- */

static int64_t pg_changes(struct db *db)
{
	return D(db)->changes;
}

static int64_t pg_last_id(struct db *db)
{
	return D(db)->last_id;
}

static const char *pg_errmsg(struct db *db)
{
	return D(db)->err[0] ? D(db)->err : "not an error";
}

static int pg_errcode(struct db *db)
{
	return D(db)->code;
}

static int pg_exec(struct db *db, const char *sql)
{
	struct pgdb *d = D(db);
	settle(d);
	d->runs++;
	struct pg_sql t;
	char err[SP_ERR_MAX];
	if (pg_sql_translate(sql, NULL, NULL, &t, err, sizeof(err)) < 0)
		return set_errf(d, err), -1;
	PGresult *r = PQexec(d->g.conn, t.text);
	pg_sql_free(&t);
	idt_forget(d);      /* DDL goes through here: read the catalog again */
	if (!result_ok(r)) {
		set_err(d, r);
		PQclear(r);
		return -1;
	}
	const char *cmd = PQcmdStatus(r);
	if (!strncmp(cmd, "INSERT ", 7) || !strncmp(cmd, "UPDATE ", 7) || !strncmp(cmd, "DELETE ", 7))
		d->changes = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	set_ok(d);
	return 0;
}

/* db_send (db.h): sent now, its result read by the connection's next use. */
static int pg_send(struct db *db, const char *sql)
{
	struct pgdb *d = D(db);
	settle(d);
	d->runs++;
	if (!PQsendQuery(d->g.conn, sql))
		return set_errf(d, PQerrorMessage(d->g.conn));
	d->sent = true;
	set_ok(d);
	return DB_DONE;
}

/* Open, or failed and waiting for ROLLBACK (a command running counts). */
static bool pg_in_tx(struct db *db)
{
	settle(D(db));
	PGTransactionStatusType t = PQtransactionStatus(D(db)->g.conn);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static void pg_dbclose(struct db *db)
{
	struct pgdb *d = D(db);
	store_pg_close(&d->g);
	idt_forget(d);
	secret_wipe(d->url, strlen(d->url));
	free(d->url);
	free(d);
}

/* ---- batches ---- */

static struct dbst *pg_prepare_batch(struct db *db, const char *sql, const char *types)
{
	struct pgdb *d = D(db);
	struct pgst *s = xcalloc(1, sizeof(*s));
	char err[SP_ERR_MAX];
	if (pg_sql_batch(sql, types, &s->tr, err, sizeof(err)) < 0) {
		set_errf(d, err);
		free(s);
		return NULL;
	}
	s->base.db = db;
	s->persistent = true;
	size_t np = s->tr.nparams ? (size_t)s->tr.nparams : 1;
	s->p = xcalloc(np, sizeof(*s->p));
	for (int i = 0; i < s->tr.nparams; i++)
		s->p[i].type = P_NULL;
	s->row = -1;
	s->batch = xcalloc(1, sizeof(*s->batch));
	s->batch->col = xcalloc(np, sizeof(*s->batch->col));
	for (int i = 0; i < s->tr.nparams; i++)
		buf_init(&s->batch->col[i], SIZE_MAX);
	s->batch->copy = pg_sql_copy(sql, s->tr.nparams);
	set_ok(d);
	return &s->base;
}

static void batch_free(struct pgst *s)
{
	if (!s->batch)
		return;
	for (int i = 0; i < s->tr.nparams; i++)
		buf_release(&s->batch->col[i]);
	free(s->batch->col);
	free(s->batch->mark);
	free(s->batch->copy);
	free(s->batch);
	s->batch = NULL;
}

/* One array element: NULL, a number, or text in double quotes with \ and
 * " escaped (the array literal's own quoting; the server reads no other). */
static void element(struct buf *b, const struct param *p)
{
	if (p->type == P_NULL) {
		buf_add(b, "NULL", 4);
	} else if (p->type == P_INT) {
		buf_adds(b, p->num);
	} else {
		buf_add(b, "\"", 1);
		for (const char *c = p->v, *e; *c; c = e) {
			e = c + strcspn(c, "\"\\");
			buf_add(b, c, (size_t)(e - c));
			if (*e) {
				buf_add(b, "\\", 1);
				buf_add(b, e++, 1);
			}
		}
		buf_add(b, "\"", 1);
	}
}

/* One row in COPY's text format: tab-separated fields, \N for NULL, and
 * backslash, tab, newline and carriage return escaped in text. */
static void copy_row(struct buf *b, const struct param *p, int n)
{
	for (int k = 0; k < n; k++) {
		if (k)
			buf_add(b, "\t", 1);
		if (p[k].type == P_NULL) {
			buf_add(b, "\\N", 2);
		} else if (p[k].type == P_INT) {
			buf_adds(b, p[k].num);
		} else {
			for (const char *c = p[k].v, *e; *c; c = e) {
				e = c + strcspn(c, "\\\t\n\r");
				buf_add(b, c, (size_t)(e - c));
				if (*e) {
					buf_add(b, *e == '\t' ? "\\t" : *e == '\n' ? "\\n" : *e == '\r' ? "\\r" : "\\\\", 2);
					e++;
				}
			}
		}
	}
	buf_add(b, "\n", 1);
}

static int pg_batch_add(struct dbst *st)
{
	struct pgst *s = S(st);
	struct pgdb *d = D(st->db);
	struct batch *bt = s->batch;
	int n = s->tr.nparams;
	if (!bt)
		return set_errf(d, "not a batch statement");
	for (int k = 0; k < n; k++)
		if (s->p[k].type == P_BLOB)
			return set_errf(d, "a batch takes no blob");
	if (bt->rows == bt->cap) {
		bt->cap = bt->cap ? 2 * bt->cap : 64;
		bt->mark = xrealloc(bt->mark, bt->cap * (size_t)(n ? n : 1) * sizeof(*bt->mark));
	}
	for (int k = 0; k < n; k++) {
		bt->mark[bt->rows * (size_t)n + (size_t)k] = bt->col[k].len;
		if (bt->copy)
			continue;
		if (bt->rows)
			buf_add(&bt->col[k], ",", 1);
		element(&bt->col[k], &s->p[k]);
	}
	if (bt->copy)
		copy_row(&bt->col[0], s->p, n);
	bt->rows++;
	set_ok(d);
	return DB_DONE;
}

static void pg_batch_truncate(struct dbst *st, size_t keep)
{
	struct pgst *s = S(st);
	struct batch *bt = s->batch;
	if (!bt || keep >= bt->rows)
		return;
	for (int k = 0; k < s->tr.nparams; k++)
		bt->col[k].len = bt->mark[keep * (size_t)s->tr.nparams + (size_t)k];
	bt->rows = keep;
}

static size_t pg_batch_pending(struct dbst *st)
{
	return S(st)->batch ? S(st)->batch->rows : 0;
}

/* A COPY batch's rows (b) through COPY ... FROM STDIN: its result
 * ("COPY n"), or the failure's (NULL when the connection broke). */
static PGresult *copy_in(PGconn *c, const char *cmd, const struct buf *b)
{
	PGresult *r = PQexec(c, cmd);
	if (PQresultStatus(r) != PGRES_COPY_IN)
		return r;
	PQclear(r);
	const char *why = NULL;
	for (size_t at = 0, step; at < b->len && !why; at += step) {
		step = b->len - at < (1u << 20) ? b->len - at : (1u << 20);
		if (PQputCopyData(c, b->data + at, (int)step) != 1)
			why = "the rows could not be sent";
	}
	PQputCopyEnd(c, why);
	r = PQgetResult(c);
	/* Then NULL; bounded, as a connection left in COPY would answer
	 * PGRES_COPY_IN for ever (it fails as lost at its next command). */
	PGresult *more;
	for (int guard = 0; guard < 4 && (more = PQgetResult(c)); guard++)
		PQclear(more);
	return r;
}

/* The rows as one array literal per parameter, through the statement
 * (prepared on the server at the first flush): its result, or the
 * failure's. */
static PGresult *unnest_exec(struct pgdb *d, struct pgst *s)
{
	struct batch *bt = s->batch;
	int n = s->tr.nparams;
	if (!bt->name[0]) {
		char name[24];
		snprintf(name, sizeof(name), "sp%lu", ++d->names);
		PGresult *r = PQprepare(d->g.conn, name, s->tr.text, n, NULL);
		if (!result_ok(r))
			return r;
		PQclear(r);
		snprintf(bt->name, sizeof(bt->name), "%s", name);
	}
	char **val = xcalloc(n ? (size_t)n : 1, sizeof(*val));
	for (int k = 0; k < n; k++) {
		struct buf *c = &bt->col[k];
		val[k] = xmalloc(c->len + 3);
		val[k][0] = '{';
		memcpy(val[k] + 1, c->data, c->len);
		memcpy(val[k] + 1 + c->len, "}", 2);
	}
	PGresult *r = PQexecPrepared(d->g.conn, bt->name, n, (const char *const *)val, NULL, NULL, 0);
	for (int k = 0; k < n; k++)
		free(val[k]);
	free(val);
	return r;
}

/* db_batch_flush: one round trip for every pending row (unnest_exec); a
 * plain INSERT's rows through COPY instead (two round trips, but the
 * server parses no array and inserts faster: 16,384 fetch_log rows in 60
 * to 64 ms against 94 to 112).  The rows are forgotten either way: after
 * an error the caller rolls back. */
static int pg_batch_flush(struct dbst *st)
{
	struct pgst *s = S(st);
	struct pgdb *d = D(st->db);
	settle(d);
	struct batch *bt = s->batch;
	if (!bt)
		return set_errf(d, "not a batch statement");
	if (!bt->rows) {
		set_ok(d);
		return DB_DONE;
	}
	d->runs++;
	PGresult *r = bt->copy ? copy_in(d->g.conn, bt->copy, &bt->col[0]) : unnest_exec(d, s);
	pg_batch_truncate(st, 0);
	if (!result_ok(r)) {
		set_err(d, r);
		PQclear(r);
		return d->code;
	}
	d->changes = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	set_ok(d);
	return DB_DONE;
}

static const struct db_ops pg_ops = {
	.kind = DB_PG,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.clear = pg_clear,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_int64 = pg_col_int64,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.col_null = pg_col_null,
	.changes = pg_changes,
	.last_id = pg_last_id,
	.errmsg = pg_errmsg,
	.errcode = pg_errcode,
	.exec = pg_exec,
	.in_tx = pg_in_tx,
	.close = pg_dbclose,
	.prepare_batch = pg_prepare_batch,
	.batch_add = pg_batch_add,
	.batch_flush = pg_batch_flush,
	.batch_pending = pg_batch_pending,
	.batch_truncate = pg_batch_truncate,
	.pipeline = pg_pipeline,
	.send = pg_send,
};

struct db *db_pg_open(const char *url, char *err, size_t errlen)
{
	struct pgdb *d = xcalloc(1, sizeof(*d));
	d->base.ops = &pg_ops;
	d->url = xstrdup(url);
	if (store_pg_connect(&d->g, d->url, err, errlen) < 0) {
		secret_wipe(d->url, strlen(d->url));
		free(d->url);
		free(d);
		return NULL;
	}
	/* The store's times are unix seconds, but anything the server formats
	 * (and now()) is UTC; text is UTF-8 both ways. */
	PGresult *r = PQexec(d->g.conn, "SET TIME ZONE 'UTC'");
	if (!result_ok(r) || PQsetClientEncoding(d->g.conn, "UTF8") != 0) {
		char m[SP_ERR_MAX];
		store_pg_msg(r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(d->g.conn),
			     d->url, d->g.shown, d->g.pw, m, sizeof(m));
		sp_err(err, errlen, "database '%s': setting up the session: %s", d->g.shown, m);
		PQclear(r);
		pg_dbclose(&d->base);
		return NULL;
	}
	PQclear(r);
	set_ok(d);
	return &d->base;
}

int db_pg_schema(struct db *db, struct store_schema *sc, char *err, size_t errlen)
{
	settle(D(db));
	return store_pg_schema_on(&D(db)->g, sc, err, errlen);
}

/* Added for mnode (issue 17, a node outliving a PostgreSQL restart). */
bool db_pg_lost(struct db *db)
{
	settle(D(db));
	return PQstatus(D(db)->g.conn) != CONNECTION_OK;
}

unsigned long db_pg_runs(struct db *db)
{
	return D(db)->runs;
}

/* Added for pgsuite2 (issue 17): a BEGIN whose lock wait failed leaves the
 * transaction aborted; store_begin ends it here, so that its caller finds
 * no transaction open, as after a failed BEGIN IMMEDIATE on SQLite, and
 * still reads the failure's error (db_exec would replace it). */
void db_pg_abandon(struct db *db)
{
	struct pgdb *d = D(db);
	settle(d);
	if (PQtransactionStatus(d->g.conn) != PQTRANS_IDLE)
		PQclear(PQexec(d->g.conn, "ROLLBACK"));
}
