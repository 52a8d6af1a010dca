/*
 * store_copy.c (issue 18): database_copy, a node-local SQLite copy of the
 * rows a render reads from a PostgreSQL database, so a render miss (every
 * fetch of a boot storm) is read on the node instead of in a round trip.
 *
 * The copy is a SQLite file of this binary's schema holding the render
 * tables (COPY_TABLES) as PostgreSQL has them at the generation in its
 * config_gen; every other table stays empty.  It is made new at open and
 * then caught up by store_copy_step, in one PostgreSQL snapshot each:
 * - the generation G of the snapshot; nothing to do when the copy has it;
 * - the change log (schema/pg/029) above the copy's generation: the ids
 *   of every row changed since, by table; each is deleted from the copy
 *   and, when the snapshot still has it, inserted again as it is now;
 * - a copy older than the log's floor (or new, or above G: another
 *   server's history) reloads every row instead;
 * - all of it written in one SQLite transaction with config_gen = G.
 * Readers of the copy see the rows of one generation or of the next, as
 * on the database itself.  The copy's triggers are dropped (its rows are
 * PostgreSQL's, deletes must not cascade, and its generation is set, not
 * bumped), and its foreign keys are not enforced for the same reason.
 * Pages of COPY_PAGE rows bound what one read holds in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "sipprov.h"

static const char *const COPY_TABLES[] = { "tenant", "template", "template_version", "device",
					   "account", "web_password", "firmware" };
#define NTABLES (sizeof(COPY_TABLES) / sizeof(COPY_TABLES[0]))
#define COPY_PAGE 2000
#define COPY_COLS 64
#define SQL_MAX 65536
/* PRAGMA application_id of a copy ("spcp"): the only file at the path
 * that may be replaced. */
#define COPY_APP_ID 0x73706370

struct copy_table {
	const char *name;
	int ncols, id_col;
	bool is_int[COPY_COLS];
	/* PostgreSQL: a page of every row, of the rows changed above a
	 * generation, and of the ids changed (deleted rows included). */
	struct dbst *all, *changed, *ids;
	/* The copy. */
	struct dbst *del_one, *del_all, *ins;
};

struct store_copy {
	struct store *pg, *copy;
	char *url;
	long gen;       /* the copy's generation; 0: empty */
	bool ready;     /* every statement prepared */
	struct copy_table t[NTABLES];
};

static int db_fail(struct store *s, const char *what, char *err, size_t errlen)
{
	return sp_err(err, errlen, "%s: %s", what, store_errmsg(s));
}

/* sql built from parts: prepared on s (kept until close), or NULL. */
static struct dbst *prep(struct store *s, struct buf *b, char *err, size_t errlen)
{
	struct dbst *st = b->overflow ? NULL : db_prepare(store_db(s), b->data, true);
	if (!st)
		sp_err(err, errlen, "database copy: cannot prepare '%s': %s", b->data,
		       b->overflow ? "too long" : db_errmsg(store_db(s)));
	b->len = 0;
	return st;
}

/* The table's columns, from the copy (both schemas are this binary's),
 * and its statements on both sides. */
static int table_setup(struct store_copy *c, struct copy_table *t, char *err, size_t errlen)
{
	struct dbst *st = db_prepare(store_db(c->copy), "SELECT name, type FROM pragma_table_info(?1)", false);
	if (!st)
		return db_fail(c->copy, "database copy", err, errlen);
	db_bind_text(st, 1, t->name);
	struct buf cols, b;
	buf_init(&cols, SQL_MAX);
	buf_init(&b, SQL_MAX);
	t->ncols = 0;
	t->id_col = -1;
	int rc;
	while ((rc = db_step(st)) == DB_ROW && t->ncols < COPY_COLS) {
		const char *name = db_col_text(st, 0), *type = db_col_text(st, 1);
		if (!strcmp(name, "id"))
			t->id_col = t->ncols;
		t->is_int[t->ncols] = type && strstr(type, "INT");
		buf_printf(&cols, "%s%s", t->ncols ? ", " : "", name);
		t->ncols++;
	}
	db_finalize(st);
	if (rc != DB_DONE || t->id_col < 0 || cols.overflow) {
		buf_release(&cols);
		return sp_err(err, errlen, "database copy: table %s: %s", t->name,
			      t->id_col < 0 ? "no id column" : "too many columns");
	}
	buf_printf(&b, "SELECT %s FROM %s WHERE id > ?1 ORDER BY id LIMIT %d", cols.data, t->name, COPY_PAGE);
	if (!(t->all = prep(c->pg, &b, err, errlen)))
		goto fail;
	buf_printf(&b, "SELECT %s FROM %s WHERE id > ?1 AND id IN (SELECT row_id FROM render_change "
		   "WHERE tbl = '%s' AND gen > ?2) ORDER BY id LIMIT %d", cols.data, t->name, t->name, COPY_PAGE);
	if (!(t->changed = prep(c->pg, &b, err, errlen)))
		goto fail;
	buf_printf(&b, "SELECT DISTINCT row_id FROM render_change WHERE tbl = '%s' AND gen > ?2 AND row_id > ?1 "
		   "ORDER BY row_id LIMIT %d", t->name, COPY_PAGE);
	if (!(t->ids = prep(c->pg, &b, err, errlen)))
		goto fail;
	buf_printf(&b, "DELETE FROM %s WHERE id = ?1", t->name);
	if (!(t->del_one = prep(c->copy, &b, err, errlen)))
		goto fail;
	buf_printf(&b, "DELETE FROM %s", t->name);
	if (!(t->del_all = prep(c->copy, &b, err, errlen)))
		goto fail;
	buf_printf(&b, "INSERT INTO %s (%s) VALUES (", t->name, cols.data);
	for (int i = 1; i <= t->ncols; i++)
		buf_printf(&b, "%s?%d", i > 1 ? ", " : "", i);
	buf_printf(&b, ")");
	if (!(t->ins = prep(c->copy, &b, err, errlen)))
		goto fail;
	buf_release(&cols);
	buf_release(&b);
	return 0;
fail:
	buf_release(&cols);
	buf_release(&b);
	return -1;
}

static int tables_setup(struct store_copy *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < NTABLES; i++) {
		c->t[i].name = COPY_TABLES[i];
		if (table_setup(c, &c->t[i], err, errlen) < 0)
			return -1;
	}
	c->ready = true;
	return 0;
}

/* Is path free for a new copy: absent, empty, or an earlier copy (its
 * application_id)?  A database_copy pointed at anything else (a SQLite
 * database, a file of another program) is refused, never removed. */
static int copy_replaceable(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return errno == ENOENT ? 0 : sp_err(err, errlen, "database copy '%s': %s", path, strerror(errno));
	if (S_ISREG(sb.st_mode) && sb.st_size == 0)
		return 0;
	char why[SP_ERR_MAX];
	struct store *s = S_ISREG(sb.st_mode) ? store_open_raw(path, true, why, sizeof(why)) : NULL;
	struct dbst *st = s ? db_prepare(store_db(s), "PRAGMA application_id", false) : NULL;
	bool ours = st && db_step(st) == DB_ROW && db_col_int64(st, 0) == COPY_APP_ID;
	db_finalize(st);
	store_close(s);
	if (!ours)
		return sp_err(err, errlen, "database copy '%s' exists and is not a sipprov copy: not replaced "
			      "(point database_copy at a file of its own)", path);
	return 0;
}

int store_copy_usable(const char *path, char *err, size_t errlen)
{
	if (copy_replaceable(path, err, errlen) < 0)
		return -1;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	const char *d = !slash ? "." : slash == dir ? "/" : (*slash = '\0', dir);
	int rc = 0;
	if (access(d, W_OK | X_OK) < 0)
		rc = sp_err(err, errlen, "database copy '%s': cannot create files in %s: %s", path, d, strerror(errno));
	free(dir);
	return rc;
}

/* A new, empty copy at path (an earlier copy there is removed: a copy is
 * only ever as good as its last catch-up, and this one starts at 0). */
static struct store *copy_create(const char *path, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen)
{
	static const char *const side[] = { "", "-wal", "-shm", "-journal" };
	if (copy_replaceable(path, err, errlen) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		char p[4096 + 16];
		snprintf(p, sizeof(p), "%s%s", path, side[i]);
		if (unlink(p) < 0 && errno != ENOENT) {
			sp_err(err, errlen, "database copy '%s': cannot remove the old %s: %s", path, p,
			       strerror(errno));
			return NULL;
		}
	}
	struct store *s = store_open(path, err, errlen);
	if (!s)
		return NULL;
	if (store_use_key(s, key, err, errlen) < 0)
		goto fail;
	struct dbst *st = db_prepare(store_db(s), "SELECT name FROM sqlite_master WHERE type = 'trigger'", false);
	struct buf drop;
	buf_init(&drop, SQL_MAX);
	while (st && db_step(st) == DB_ROW)
		buf_printf(&drop, "DROP TRIGGER \"%s\";", db_col_text(st, 0));
	db_finalize(st);
	int rc = !st || drop.overflow ? -1 : drop.data ? db_exec(store_db(s), drop.data) : 0;
	buf_release(&drop);
	/* Rebuilt at every start: durability is the database's, not the
	 * copy's.  The first load writes a new file that nobody reads yet:
	 * with a rollback journal its new pages are not copied into a WAL
	 * as large as the file; WAL comes after it (store_copy_step). */
	char mark[64];
	snprintf(mark, sizeof(mark), "PRAGMA application_id = %d", COPY_APP_ID);
	if (rc < 0 || store_pragma(s, mark) < 0 || store_pragma(s, "PRAGMA foreign_keys = OFF") < 0 ||
	    store_pragma(s, "PRAGMA synchronous = OFF") < 0 || store_pragma(s, "PRAGMA journal_mode = DELETE") < 0 ||
	    db_exec(store_db(s), "UPDATE config_gen SET gen = 0") < 0) {
		db_fail(s, "database copy", err, errlen);
		goto fail;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

struct store_copy *store_copy_open(const char *db_url, const char *path, const unsigned char key[SP_KEY_LEN],
				   char *err, size_t errlen)
{
	struct store_copy *c = xcalloc(1, sizeof(*c));
	c->url = xstrdup(db_url);
	if (!(c->pg = store_open(db_url, err, errlen)) || !(c->copy = copy_create(path, key, err, errlen)) ||
	    tables_setup(c, err, errlen) < 0)
		goto fail;
	return c;
fail:
	store_copy_close(c);
	return NULL;
}

static void tables_drop(struct store_copy *c)
{
	c->ready = false;
	for (size_t i = 0; i < NTABLES; i++) {
		struct copy_table *t = &c->t[i];
		struct dbst **st[] = { &t->all, &t->changed, &t->ids, &t->del_one, &t->del_all, &t->ins };
		for (size_t k = 0; k < sizeof(st) / sizeof(st[0]); k++) {
			db_finalize(*st[k]);
			*st[k] = NULL;
		}
	}
}

void store_copy_close(struct store_copy *c)
{
	if (!c)
		return;
	tables_drop(c);
	store_close(c->pg);
	store_close(c->copy);
	if (c->url)
		secret_wipe(c->url, strlen(c->url));    /* it may hold the password */
	free(c->url);
	free(c);
}

long store_copy_gen(const struct store_copy *c)
{
	return c->gen;
}

bool store_copy_lost(struct store_copy *c)
{
	return store_lost(c->pg);
}

/* A new PostgreSQL connection, its statements prepared again; the copy
 * stays, at its generation. */
int store_copy_reconnect(struct store_copy *c, char *err, size_t errlen)
{
	struct store *pg = store_open(c->url, err, errlen);
	if (!pg)
		return -1;
	tables_drop(c);
	store_close(c->pg);
	c->pg = pg;
	return tables_setup(c, err, errlen);
}

/* One row of a PostgreSQL page into the copy. */
static int copy_row(struct copy_table *t, struct dbst *src)
{
	db_reset(t->ins);
	for (int i = 0; i < t->ncols; i++) {
		if (db_col_null(src, i))
			db_bind_null(t->ins, i + 1);
		else if (t->is_int[i])
			db_bind_int64(t->ins, i + 1, db_col_int64(src, i));
		else
			db_bind_text(t->ins, i + 1, db_col_text(src, i));
	}
	int rc = db_step(t->ins);
	db_reset(t->ins);
	return rc == DB_DONE ? 0 : -1;
}

/* Every page of src (above id ?1, and generation ?2 = since when it has
 * one): each id deleted from the copy (ids), or each row written to
 * it; their count, or -1. */
static long pages(struct copy_table *t, struct dbst *src, long since, bool ids)
{
	long n = 0;
	int64_t last = 0;
	for (;;) {
		db_reset(src);
		db_bind_int64(src, 1, last);
		if (src != t->all)
			db_bind_int64(src, 2, since);
		int rc, got = 0;
		while ((rc = db_step(src)) == DB_ROW) {
			got++;
			if (ids) {
				last = db_col_int64(src, 0);
				db_reset(t->del_one);
				db_bind_int64(t->del_one, 1, last);
				if (db_step(t->del_one) != DB_DONE)
					rc = DB_ERROR;
				db_reset(t->del_one);
			} else {
				last = db_col_int64(src, t->id_col);
				if (copy_row(t, src) < 0)
					rc = DB_ERROR;
			}
			if (rc == DB_ERROR)
				break;
		}
		db_reset(src);
		if (rc != DB_DONE)
			return -1;
		n += got;
		if (got < COPY_PAGE)
			return n;
	}
}

int store_copy_step(struct store_copy *c, struct store_copy_stats *out, char *err, size_t errlen)
{
	struct store_copy_stats stats = { 0 };
	if (!c->ready)
		return sp_err(err, errlen, "database copy: not connected");
	if (store_begin_read(c->pg) < 0)
		return db_fail(c->pg, "database copy: read", err, errlen);
	long g = store_config_gen(c->pg);
	long floor = g >= 0 && g != c->gen ? store_scalar(c->pg, "SELECT gen FROM render_change_floor WHERE id = 1")
					   : 0;
	if (g < 0 || floor < 0) {
		db_fail(c->pg, "database copy: read the generation", err, errlen);
		store_rollback(c->pg);
		return -1;
	}
	if (g == c->gen) {
		store_commit(c->pg);
		return 0;
	}
	stats.full = c->gen <= 0 || c->gen < floor || g < c->gen;
	stats.from = c->gen;
	if (store_begin(c->copy) < 0) {
		db_fail(c->copy, "database copy: write", err, errlen);
		store_rollback(c->pg);
		return -1;
	}
	for (size_t i = 0; i < NTABLES; i++) {
		struct copy_table *t = &c->t[i];
		long n;
		if (stats.full) {
			db_reset(t->del_all);
			n = db_step(t->del_all) == DB_DONE ? 0 : -1;
			db_reset(t->del_all);
		} else {
			n = pages(t, t->ids, c->gen, true);
			stats.changed += n > 0 ? n : 0;
		}
		if (n >= 0)
			n = pages(t, stats.full ? t->all : t->changed, c->gen, false);
		if (n < 0) {
			sp_err(err, errlen, "database copy: table %s: %s", t->name,
			       db_errcode(store_db(c->pg)) != DB_DONE ? store_errmsg(c->pg) : store_errmsg(c->copy));
			store_rollback(c->copy);
			store_rollback(c->pg);
			return -1;
		}
		stats.rows += n;
	}
	struct dbst *st = store_stmt(c->copy, "UPDATE config_gen SET gen = ?1");
	if (st)
		db_bind_int64(st, 1, g);
	if (!st || store_exec_stmt(c->copy, st, err, errlen) < 0 || store_commit(c->copy) < 0) {
		if (st)
			db_fail(c->copy, "database copy: write", err, errlen);
		store_rollback(c->copy);
		store_rollback(c->pg);
		return -1;
	}
	store_commit(c->pg);
	if (c->gen == 0 && store_pragma(c->copy, "PRAGMA journal_mode = WAL") < 0) {
		/* Readers and this writer would wait on each other: not a copy to read. */
		db_fail(c->copy, "database copy: journal_mode = WAL", err, errlen);
		return -1;
	}
	c->gen = g;
	stats.to = g;
	if (out)
		*out = stats;
	return 1;
}

int store_change_prune(struct store *s, int64_t before, long *removed)
{
	*removed = 0;
	if (!store_url(s))
		return 0;       /* SQLite: nothing logs */
	if (store_begin(s) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "UPDATE render_change_floor SET gen = "
				     "max(gen, coalesce((SELECT max(gen) FROM render_change WHERE at < ?1), 0))");
	if (st)
		db_bind_int64(st, 1, before);
	if (!st || store_exec_stmt(s, st, NULL, 0) < 0 ||
	    !(st = store_stmt(s, "DELETE FROM render_change WHERE gen <= (SELECT gen FROM render_change_floor)")) ||
	    store_exec_stmt(s, st, NULL, 0) < 0) {
		store_rollback(s);
		return -1;
	}
	long n = (long)db_changes(store_db(s));
	if (store_commit(s) < 0)
		return -1;
	*removed = n;
	return 0;
}
