/*
 * store.c: the SQLite connection (WAL, lock wait, foreign keys), schema
 * migrations from the schema folder (compiled in), a statement cache, and the
 * core rows: tenants, template versions, devices, accounts, fetches, audit.
 * Prepared statements only; no SQL is ever built from input.  One store
 * per thread: connections are not shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The SQLite-only part of a connection (lock wait, SQL function, pragmas,
 * open flags) goes through db_sqlite_handle; rows go through db.h. */
#include <sqlite3.h>

#include "db_pg.h"
#include "db_sqlite.h"
#include "store_int.h"

#define STMT_SLOTS 128
#define LOCK_WAIT_DEFAULT_MS 5000       /* what sqlite3_busy_timeout(5000) gave */
#define LOCK_WAIT_SLOW_MS 300           /* a wait this long is worth telling a person */
#define LABEL_CHECK "sipprov key check v1"
#define LABEL_TOKEN "sipprov token v1"

struct store {
	struct db *db;
	char *url;                      /* a PostgreSQL URL (with its password: wiped at close), else NULL */
	long wait_limit_ms;                 /* give up a lock wait after this long */
	store_wait_fn wait_fn;
	void *wait_arg;
	int64_t wait_start;
	bool wait_told;
	struct { const char *sql; struct dbst *st; } cache[STMT_SLOTS];
	/* Batch statements (store_batch): flushed by store_commit. */
	struct { const char *sql; struct dbst *st; size_t mark; } batch[BATCH_SLOTS];
	unsigned long tx_serial;        /* store_begin's transactions so far */
	bool sp_held;                   /* PostgreSQL: drift_obs left open for the next observation */
	struct store_memo *memo;        /* store_memo_begin's rows, NULL until first used */
	/* store_begin_render's rows not yet read: kept statements, each taken
	 * (set NULL) by the one reader it is for, the rest reset at the end
	 * of the transaction.  dev_id, tenant_id: the device's, once read. */
	struct { struct dbst *dev, *acc, *web; char mac[SP_MAC_LEN + 1]; int64_t dev_id, tenant_id; } pre;
	/* store_begin_render's snapshot ended in its own round trip: its
	 * generation, and db_pg_runs then (a render reading more after it
	 * ran commands of their own). */
	struct { bool ended; long gen; unsigned long runs; } snap;
	bool have_key;                  /* store_use_key succeeded */
	unsigned char key[SP_KEY_LEN];  /* wiped by store_close */
	char *why;                      /* store_errmsg instead of the driver's until the next statement */
	int why_code;                   /* and the driver's class of that failure (DB_*) */
	struct fetch_kept *fetch_kept;  /* store_fetch.c's, NULL until the first batch */
};

/* What store_open installs; a process (the CLI) may change it first. */
static long default_wait_ms = LOCK_WAIT_DEFAULT_MS;
static store_wait_fn default_wait_fn;
static void *default_wait_arg;

/* SQLite's busy handler: sleep 1, 2, 4 ... 64, then 100 ms between tries
 * until the limit.  count is 0 on the first call for each lock wait. */
static int busy_wait(void *arg, int count)
{
	struct store *s = arg;
	int64_t now = sp_mono_ms();
	if (count == 0)
		s->wait_start = now;
	int64_t waited = now - s->wait_start;
	if (waited >= s->wait_limit_ms) {
		if (s->wait_fn)
			s->wait_fn(STORE_WAIT_GAVE_UP, waited, s->wait_arg);
		return 0;
	}
	if (!s->wait_told && waited >= LOCK_WAIT_SLOW_MS && s->wait_fn) {
		s->wait_told = true;
		s->wait_fn(STORE_WAIT_SLOW, waited, s->wait_arg);
	}
	int64_t ms = count < 7 ? (int64_t)1 << count : 100;
	if (ms > s->wait_limit_ms - waited)
		ms = s->wait_limit_ms - waited;
	sqlite3_sleep((int)ms);
	return 1;
}

void store_lock_wait(struct store *s, long limit_ms, store_wait_fn fn, void *arg)
{
	s->wait_limit_ms = limit_ms < 0 ? 0 : limit_ms;
	s->wait_fn = fn;
	s->wait_arg = arg;
	s->wait_told = false;
	if (s->url) {
		/* PostgreSQL waits for locks itself (the writers' advisory lock
		 * included) up to lock_timeout, then DB_BUSY; 0 is "forever"
		 * there, "not at all" here.  fn is not called on PostgreSQL. */
		char set[64];
		snprintf(set, sizeof(set), "SET lock_timeout = '%ldms'", s->wait_limit_ms ? s->wait_limit_ms : 1);
		db_exec(s->db, set);
		return;
	}
	sqlite3_busy_handler(db_sqlite_handle(s->db), busy_wait, s);
}

void store_lock_wait_default(long limit_ms, store_wait_fn fn, void *arg)
{
	default_wait_ms = limit_ms;
	default_wait_fn = fn;
	default_wait_arg = arg;
}

bool store_is_busy(struct store *s)
{
	return db_errcode(s->db) == DB_BUSY;
}

bool store_refused(struct store *s)
{
	int c = s->why ? s->why_code : db_errcode(s->db);
	return c == DB_UNIQUE || c == DB_CONSTRAINT || c == DB_INVALID;
}

static int exec_sql(struct db *db, const char *sql, char *err, size_t errlen)
{
	if (db_exec(db, sql) < 0)
		return sp_err(err, errlen, "%s", db_errmsg(db));
	return 0;
}

/* fetch_log paths kept by older versions held token URLs. */
static void sql_redact_path(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *p = sqlite3_value_text(argv[0]);
	if (!p) {
		sqlite3_result_null(ctx);
		return;
	}
	size_t n = strlen((const char *)p) + 1;
	char *out = xmalloc(n);
	sp_redact_path((const char *)p, out, n);
	sqlite3_result_text(ctx, out, -1, free);
}

/* What every connection gets: the lock wait, our SQL function (extended
 * codes are the driver's).  Nothing here touches the file. */
static void store_setup(struct store *s)
{
	store_lock_wait(s, default_wait_ms, default_wait_fn, default_wait_arg);
	if (s->url)
		return;     /* sp_redact_path: pg_sql.c's override does it in SQL */
	sqlite3_create_function(db_sqlite_handle(s->db), "sp_redact_path", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				NULL, sql_redact_path, NULL, NULL);
}

/* What every read-write connection sets: WAL (which is written into the
 * file), then per-connection pragmas. */
static int store_pragmas(struct store *s, char *err, size_t errlen)
{
	return exec_sql(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
			err, errlen);
}

/* A PostgreSQL database (issue 17).  check: as store_open for a file, a
 * database behind this binary is refused (run sipprov migrate), a newer
 * one too, and an empty one gets the schema (store_pg_migrate: under the
 * migration lock, so two nodes starting at once apply it once).  The
 * schema is read on the store's own connection: a second one only for it
 * doubled what each open cost the server (a backend started and
 * authenticated), and sipprovd opens a store per thread. */
static struct store *open_pg(const char *url, bool check, bool readonly, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->url = xstrdup(url);
	if (!(s->db = db_pg_open(url, err, errlen))) {
		store_close(s);
		return NULL;
	}
	struct store_schema sc;
	struct store_migrated m;
	if (check && (db_pg_schema(s->db, &sc, err, errlen) < 0 || store_pg_refuse(url, &sc, err, errlen) < 0 ||
		      (sc.fresh && store_pg_migrate(url, &m, err, errlen) < 0))) {
		store_close(s);
		return NULL;
	}
	store_setup(s);
	if (readonly && exec_sql(s->db, "SET default_transaction_read_only = on", err, errlen) < 0) {
		store_close(s);
		return NULL;
	}
	return s;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	if (store_is_pg_url(path))
		return open_pg(path, true, false, err, errlen);
	struct store *s = xcalloc(1, sizeof(*s));
	struct store_schema sc;
	/* SQLite creates a new file 0644 & ~umask and gives -wal and -shm the
	 * database's mode: create it 0600 first (an empty file is a new
	 * database), so all three stay private whatever the umask. */
	char why[SP_ERR_MAX];
	if (strcmp(path, ":memory:") && strncmp(path, "file:", 5) && private_create(path, why, sizeof(why)) < 0) {
		sp_err(err, errlen, "cannot open database '%s': %s", path, why);
		free(s);
		return NULL;
	}
	s->db = db_sqlite_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, why,
			       sizeof(why));
	if (!s->db) {
		sp_err(err, errlen, "cannot open database '%s': %s", path, why);
		store_close(s);
		return NULL;
	}
	/* A new database gets the whole schema; an existing one is used only
	 * at exactly this binary's schema (store_migrate moves it there). */
	store_setup(s);
	if (store_schema_read(db_sqlite_handle(s->db), &sc, err, errlen) < 0 ||
	    store_schema_refuse(path, &sc, err, errlen) < 0 || store_pragmas(s, err, errlen) < 0 ||
	    (sc.fresh && store_schema_apply(db_sqlite_handle(s->db), err, errlen) < 0)) {
		store_close(s);
		return NULL;
	}
	return s;
}

struct store *store_open_raw(const char *path, bool readonly, char *err, size_t errlen)
{
	if (store_is_pg_url(path))
		return open_pg(path, false, readonly, err, errlen);
	struct store *s = xcalloc(1, sizeof(*s));
	char why[SP_ERR_MAX];
	if (access(path, F_OK) < 0) {
		sp_err(err, errlen, "no database at '%s'", path);
		free(s);
		return NULL;
	}
	if (readonly) {
		/* A read-only connection to a WAL database creates -wal and
		 * -shm and leaves them behind.  With no -wal nobody has the
		 * database open and its file holds everything: read it as
		 * immutable, which creates nothing.  A -wal present belongs to
		 * a live (or crashed) writer: share its files normally. */
		char side[4096 + 16], *uri;
		snprintf(side, sizeof(side), "%s-wal", path);
		bool quiet = access(side, F_OK) < 0;
		snprintf(side, sizeof(side), "%s-journal", path);
		quiet = quiet && access(side, F_OK) < 0;
		uri = store_uri(path, quiet ? "mode=ro&immutable=1" : "mode=ro");
		s->db = db_sqlite_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, why,
				       sizeof(why));
		free(uri);
	} else {
		s->db = db_sqlite_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, why, sizeof(why));
	}
	if (!s->db) {
		sp_err(err, errlen, "cannot open database '%s': %s", path, why);
		store_close(s);
		return NULL;
	}
	store_setup(s);
	if (!readonly && store_pragmas(s, err, errlen) < 0) {
		store_close(s);
		return NULL;
	}
	return s;
}

struct store *store_open_replica(const char *url, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen)
{
	char shown[SP_FIELD_MAX], why[SP_ERR_MAX];
	struct store_schema sc;
	store_pg_url_redact(url, shown, sizeof(shown));
	if (!store_is_pg_url(url)) {
		sp_err(err, errlen, "database '%s': a replica must be a PostgreSQL URL", shown);
		return NULL;
	}
	struct store *s = open_pg(url, false, true, err, errlen);
	if (!s)
		return NULL;
	/* The schema first: a replica behind a migration of the primary would
	 * read columns this binary does not expect, or miss some; and it is
	 * never migrated from here (a standby refuses writes anyway). */
	int rc = db_pg_schema(s->db, &sc, err, errlen);
	if (rc == 0 && sc.fresh)
		rc = sp_err(err, errlen, "database '%s' is empty: not a replica of a sipprov database", shown);
	if (rc < 0 || store_pg_refuse(url, &sc, err, errlen) < 0) {
		store_close(s);
		return NULL;
	}
	/* The key is checked, never recorded or converted: the primary's
	 * store_use_key did that, and a replica cannot write it. */
	if (store_key_verify(s, key, why, sizeof(why)) < 0) {
		sp_err(err, errlen, "database '%s': the key file %s", shown, why);
		store_close(s);
		return NULL;
	}
	memcpy(s->key, key, SP_KEY_LEN);
	s->have_key = true;
	return s;
}

static void batches_drop(struct store *s)
{
	for (int i = 0; i < BATCH_SLOTS; i++) {
		db_finalize(s->batch[i].st);
		s->batch[i].st = NULL;
		s->batch[i].sql = NULL;
	}
}

static void memo_forget(struct store_memo *m, long gen);

struct fetch_kept **store_fetch_kept(struct store *s)
{
	return &s->fetch_kept;
}

int store_pragma(struct store *s, const char *sql)
{
	struct dbst *st;
	if (!(st = db_prepare(store_db(s), sql, false)))
		return -1;
	int rc = db_step(st);
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	secret_wipe(s->key, sizeof(s->key));
	if (s->memo)
		memo_forget(s->memo, -1);
	if (s->fetch_kept && store_fetch_flush(s) < 0)
		log_warnx("fetch log: last fetches not written at close: %s", store_errmsg(s));
	free(s->memo);
	free(s->why);
	fetch_kept_free(s->fetch_kept);
	for (int i = 0; i < STMT_SLOTS; i++)
		db_finalize(s->cache[i].st);
	batches_drop(s);
	db_close(s->db);
	if (s->url) {
		secret_wipe(s->url, strlen(s->url));
		free(s->url);
	}
	free(s);
}

const char *store_url(struct store *s)
{
	return s->url;
}

int store_refuse_pg_file_op(const char *url, const char *what, char *err, size_t errlen)
{
	char shown[SP_FIELD_MAX];
	store_pg_url_redact(url, shown, sizeof(shown));
	return sp_err(err, errlen, "database '%s': %s %s", shown, what, SP_PG_FILE_ONLY);
}

struct db *store_db(struct store *s)
{
	return s->db;
}

const char *store_errmsg(struct store *s)
{
	return s->why ? s->why : db_errmsg(s->db);
}

struct dbst *store_stmt(struct store *s, const char *sql)
{
	free(s->why);
	s->why = NULL;
	size_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS;
	for (size_t i = 0; i < STMT_SLOTS; i++) {
		size_t k = (h + i) % STMT_SLOTS;
		if (s->cache[k].sql == sql) {
			db_reset(s->cache[k].st);
			db_clear(s->cache[k].st);
			return s->cache[k].st;
		}
		if (!s->cache[k].sql) {
			if (!(s->cache[k].st = db_prepare(s->db, sql, true))) {
				log_warnx("sql prepare: %s", db_errmsg(s->db));
				return NULL;
			}
			s->cache[k].sql = sql;
			return s->cache[k].st;
		}
	}
	log_warnx("sql statement cache full");
	return NULL;
}

void store_bind_text(struct dbst *st, int i, const char *v)
{
	db_bind_text(st, i, v);
}

void store_col_text(struct dbst *st, int i, char *dst, size_t size)
{
	const char *t = db_col_text(st, i);
	sp_strlcpy(dst, t ? t : "", size);
}

void store_col_client(struct dbst *st, int i, char *dst, size_t size)
{
	store_col_text(st, i, dst, size);
	sp_text_scrub(dst);
}

int store_rows(struct dbst *st, size_t sz, void (*fill)(struct dbst *, void *), void **out, size_t *n)
{
	size_t cap = 0;
	int rc;
	*out = NULL;
	*n = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xrealloc(*out, cap * sz);
		}
		fill(st, (char *)*out + (*n)++ * sz);
	}
	db_reset(st);
	if (rc != DB_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int store_exec_stmt(struct store *s, struct dbst *st, char *err, size_t errlen)
{
	int rc = db_step(st);
	if (rc != DB_DONE && rc != DB_ROW) {
		sp_err(err, errlen, "%s", db_errmsg(s->db));
		db_reset(st);
		return -1;
	}
	db_reset(st);
	return 0;
}

static int simple(struct store *s, const char *sql)
{
	struct dbst *st = store_stmt(s, sql);
	return st ? store_exec_stmt(s, st, NULL, 0) : -1;
}

/* BEGIN IMMEDIATE on PostgreSQL (pg_sql.c: BEGIN + the writers' advisory
 * lock) runs as one command: when the lock wait fails, BEGIN has run and
 * the transaction is left aborted, where every later command of the
 * connection fails ("current transaction is aborted") until ROLLBACK.  The
 * callers, as on SQLite, roll back only what store_begin opened: end it
 * here and keep the lock's error for store_is_busy / store_errmsg. */
static int begin_pg(struct store *s, const char *sql)
{
	if (db_exec(s->db, sql) == 0)
		return 0;
	db_pg_abandon(s->db);
	return -1;
}

/* PostgreSQL waits for the writers' lock itself, up to lock_timeout, and
 * says nothing meanwhile: a process that listens (fn: the CLI) would hear
 * neither "waiting" nor "gave up".  So with fn the first wait of a
 * connection is cut at LOCK_WAIT_SLOW_MS (a lock_timeout local to the
 * transaction), fn hears STORE_WAIT_SLOW and the rest of the limit
 * follows; fn hears STORE_WAIT_GAVE_UP when the limit runs out, as
 * busy_wait tells them on SQLite.  The transaction itself then runs with
 * the whole limit, as without fn. */
static int begin_pg_within(struct store *s, long ms)
{
	char sql[192];
	snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL lock_timeout = '%ldms'; SELECT pg_advisory_xact_lock(%lld); "
		 "SET LOCAL lock_timeout = '%ldms'", ms < 1 ? 1 : ms, (long long)SP_PG_LOCK_WRITE,
		 s->wait_limit_ms ? s->wait_limit_ms : 1);
	return begin_pg(s, sql);
}

static int begin_pg_told(struct store *s)
{
	int64_t start = sp_mono_ms();
	long limit = s->wait_limit_ms;
	if (!s->wait_told && limit > LOCK_WAIT_SLOW_MS) {
		if (begin_pg_within(s, LOCK_WAIT_SLOW_MS) == 0)
			return 0;
		if (!store_is_busy(s))
			return -1;
		s->wait_told = true;
		s->wait_fn(STORE_WAIT_SLOW, sp_mono_ms() - start, s->wait_arg);
		limit -= (long)(sp_mono_ms() - start);
	}
	if (begin_pg_within(s, limit) == 0)
		return 0;
	if (store_is_busy(s))
		s->wait_fn(STORE_WAIT_GAVE_UP, sp_mono_ms() - start, s->wait_arg);
	return -1;
}

static int begin_write(struct store *s)
{
	if (!s->url)
		return simple(s, "BEGIN IMMEDIATE");
	if (s->wait_fn)
		return begin_pg_told(s);
	struct dbst *st = store_stmt(s, "BEGIN IMMEDIATE");
	if (!st)
		return -1;
	if (store_exec_stmt(s, st, NULL, 0) == 0)
		return 0;
	db_pg_abandon(s->db);
	return -1;
}

int store_begin(struct store *s)
{
	s->sp_held = false;
	if (begin_write(s) < 0)
		return -1;
	s->tx_serial++;
	return 0;
}

unsigned long store_tx_serial(struct store *s)
{
	return s->tx_serial;
}

bool *store_sp_held(struct store *s)
{
	return &s->sp_held;
}
/* On PostgreSQL one snapshot for the generation and the rows it tags, as
 * SQLite's read transaction holds one WAL snapshot.  Arrays, not literals:
 * store_stmt caches by address, and store_begin_render sends the same
 * statements. */
static const char BEGIN_READ_PG[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
static const char CONFIG_GEN[] = "SELECT gen FROM config_gen WHERE id = 1";
int store_begin_read(struct store *s)
{
	return simple(s, s->url ? BEGIN_READ_PG : "BEGIN DEFERRED");
}

struct dbst *store_batch(struct store *s, const char *sql, const char *types)
{
	for (int i = 0; i < BATCH_SLOTS; i++) {
		if (s->batch[i].sql == sql) {
			db_reset(s->batch[i].st);
			db_clear(s->batch[i].st);
			return s->batch[i].st;
		}
		if (!s->batch[i].sql) {
			if (!(s->batch[i].st = db_prepare_batch(s->db, sql, types))) {
				log_warnx("sql prepare: %s", db_errmsg(s->db));
				return NULL;
			}
			s->batch[i].sql = sql;
			s->batch[i].mark = 0;
			return s->batch[i].st;
		}
	}
	log_warnx("sql batch cache full");
	return NULL;
}

int store_batch_add(struct store *s, struct dbst *st)
{
	return db_batch_add(st) == DB_DONE ? 0 : -1;
}

int store_batch_flush(struct store *s)
{
	for (int i = 0; i < BATCH_SLOTS && s->batch[i].st; i++) {
		/* Written rows are the server's: a ROLLBACK TO undoes them
		 * there, store_batch_back only forgets rows added since. */
		s->batch[i].mark = 0;
		if (db_batch_pending(s->batch[i].st) && db_batch_flush(s->batch[i].st) != DB_DONE)
			return -1;
	}
	return 0;
}

void store_batch_mark(struct store *s)
{
	for (int i = 0; i < BATCH_SLOTS && s->batch[i].st; i++)
		s->batch[i].mark = db_batch_pending(s->batch[i].st);
}

void store_batch_back(struct store *s)
{
	for (int i = 0; i < BATCH_SLOTS && s->batch[i].st; i++)
		db_batch_truncate(s->batch[i].st, s->batch[i].mark);
}

static void pre_drop(struct store *s);

/* Rows a batch still holds belong to this transaction: written before its
 * COMMIT, forgotten at its ROLLBACK.  A PostgreSQL connection lost during
 * the COMMIT itself leaves the outcome unknown: the server may have
 * committed before it went (a promoted synchronous standby then has the
 * change) or not.  Say so, rather than pass on a socket error the admin
 * would read as "nothing was written". */
int store_commit(struct store *s)
{
	s->sp_held = false;     /* COMMIT releases every savepoint */
	pre_drop(s);
	if (store_batch_flush(s) < 0)
		return -1;
	if (simple(s, "COMMIT") == 0)
		return 0;
	if (store_lost(s)) {
		char m[SP_ERR_MAX];
		snprintf(m, sizeof(m), "the database connection was lost while committing (%s): the change may or "
			 "may not have been written; check before repeating it", db_errmsg(s->db));
		s->why = xstrdup(m);
		s->why_code = DB_ERROR;
	}
	return -1;
}

/* Keeps store_commit's message for the caller that rolls back first. */
int store_rollback(struct store *s)
{
	s->sp_held = false;
	pre_drop(s);
	for (int i = 0; i < BATCH_SLOTS && s->batch[i].st; i++) {
		db_batch_truncate(s->batch[i].st, 0);
		s->batch[i].mark = 0;
	}
	/* The failure that led here keeps its words: after ROLLBACK the
	 * driver's own would say "not an error". */
	char *why = s->why ? s->why : db_errcode(s->db) != DB_DONE ? xstrdup(db_errmsg(s->db)) : NULL;
	int code = s->why ? s->why_code : db_errcode(s->db);
	s->why = NULL;
	int rc = simple(s, "ROLLBACK");
	free(s->why);
	s->why = why;
	s->why_code = code;
	return rc;
}

/* ---- tenants ---- */

#define TENANT_COLS "id, slug, name, status, device_auth, allow_cidrs, username_pattern, " \
	"auth_username_pattern, max_per_user, default_template, defaults FROM tenant "

static void tenant_row(struct dbst *st, struct tenant *t)
{
	memset(t, 0, sizeof(*t));
	t->id = db_col_int64(st, 0);
	store_col_text(st, 1, t->slug, sizeof(t->slug));
	store_col_text(st, 2, t->name, sizeof(t->name));
	store_col_text(st, 3, t->status, sizeof(t->status));
	store_col_text(st, 4, t->device_auth, sizeof(t->device_auth));
	store_col_text(st, 5, t->allow_cidrs, sizeof(t->allow_cidrs));
	store_col_text(st, 6, t->username_pattern, sizeof(t->username_pattern));
	store_col_text(st, 7, t->auth_username_pattern, sizeof(t->auth_username_pattern));
	t->max_per_user = db_col_int64(st, 8);
	store_col_text(st, 9, t->default_template, sizeof(t->default_template));
	store_col_text(st, 10, t->defaults, sizeof(t->defaults));
}

static int one_row(struct dbst *st, void (*fill)(struct dbst *, void *), void *out)
{
	int rc = db_step(st);
	if (rc == DB_ROW) {
		fill(st, out);
		db_reset(st);
		return 1;
	}
	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int store_tenant_get(struct store *s, const char *slug, struct tenant *t)
{
	struct dbst *st = store_stmt(s, "SELECT " TENANT_COLS "WHERE slug = ?");
	if (!st)
		return -1;
	store_bind_text(st, 1, slug);
	return one_row(st, (void (*)(struct dbst *, void *))tenant_row, t);
}

/* ---- the render memo (store_memo_begin in store.h) ---- */

#define MEMO_SLOTS 4

struct store_memo {
	bool on;
	long gen;                       /* the generation every row below was read at */
	struct { int64_t id; struct tenant t; } ten[MEMO_SLOTS];
	/* settings: v's settings parsed, at the first store_memo_settings */
	struct { int64_t tenant_id; long number; struct tversion v; json_t *settings; } ver[MEMO_SLOTS];
	unsigned nten, nver;            /* slots filled, then the next one to reuse */
};

/* *dst = *src for a row whose big text field (size bytes at off, 8 KiB of
 * settings JSON) is copied only up to its NUL, the rest of the row whole:
 * most of those bytes are unused, and a render miss copies a tenant and a
 * version out of the memo.  The field's bytes after the NUL are left as
 * they were (nothing reads a string past its end). */
static void row_copy(void *dst, const void *src, size_t rowsize, size_t off, size_t size)
{
	size_t len = strnlen((const char *)src + off, size - 1);
	memcpy(dst, src, off + len);
	((char *)dst)[off + len] = '\0';
	memcpy((char *)dst + off + size, (const char *)src + off + size, rowsize - off - size);
}
#define ROW_COPY(dst, src, type, field) \
	row_copy((dst), (src), sizeof(type), offsetof(type, field), sizeof(((type *)0)->field))

/* Forget every row (another generation, or maybe another server). */
static void memo_forget(struct store_memo *m, long gen)
{
	for (unsigned i = 0; i < MEMO_SLOTS; i++) {
		json_decref(m->ver[i].settings);
		m->ver[i].settings = NULL;
	}
	m->nten = m->nver = 0;
	m->gen = gen;
}

void store_memo_begin(struct store *s, long gen)
{
	if (!s->memo)
		s->memo = xcalloc(1, sizeof(*s->memo));
	if (s->memo->gen != gen)
		memo_forget(s->memo, gen);
	s->memo->on = gen >= 0;
}

json_t *store_memo_settings(struct store *s, const struct tversion *v)
{
	struct store_memo *m = s->memo && s->memo->on ? s->memo : NULL;
	for (unsigned i = 0; m && i < m->nver && i < MEMO_SLOTS; i++)
		if (m->ver[i].v.id == v->id) {
			if (!m->ver[i].settings)
				m->ver[i].settings = json_loads(v->settings[0] ? v->settings : "{}", 0, NULL);
			return json_is_object(m->ver[i].settings) ? m->ver[i].settings : NULL;
		}
	return NULL;
}

void store_memo_end(struct store *s)
{
	if (s->memo)
		s->memo->on = false;
}

int store_tenant_get_id(struct store *s, int64_t id, struct tenant *t)
{
	struct store_memo *m = s->memo && s->memo->on ? s->memo : NULL;
	for (unsigned i = 0; m && i < m->nten && i < MEMO_SLOTS; i++)
		if (m->ten[i].id == id) {
			ROW_COPY(t, &m->ten[i].t, struct tenant, defaults);
			return 1;
		}
	struct dbst *st = store_stmt(s, "SELECT " TENANT_COLS "WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	int rc = one_row(st, (void (*)(struct dbst *, void *))tenant_row, t);
	if (rc == 1 && m) {
		unsigned k = m->nten++ % MEMO_SLOTS;
		m->ten[k].id = id;
		ROW_COPY(&m->ten[k].t, t, struct tenant, defaults);
	}
	return rc;
}

static void tenant_bind(struct dbst *st, const struct tenant *t)
{
	store_bind_text(st, 1, t->slug);
	store_bind_text(st, 2, t->name);
	store_bind_text(st, 3, t->status[0] ? t->status : "active");
	store_bind_text(st, 4, t->device_auth[0] ? t->device_auth : "digest");
	store_bind_text(st, 5, t->allow_cidrs);
	store_bind_text(st, 6, t->username_pattern);
	store_bind_text(st, 7, t->auth_username_pattern);
	db_bind_int64(st, 8, t->max_per_user);
	store_bind_text(st, 9, t->default_template);
	store_bind_text(st, 10, t->defaults[0] ? t->defaults : "{}");
}

/* Every tenant write stores the policy in canonical form (policy.h), so
 * whoever calls, the daemon and diagnose read one shape. */
static int tenant_canon(const struct tenant *in, struct tenant *out, char *err, size_t errlen)
{
	char why[SP_ERR_MAX];
	memcpy(out, in, sizeof(*out));
	if (policy_tenant_canon(out, why, sizeof(why)) < 0)
		return sp_err(err, errlen, "tenant %s: %s", in->slug, why);
	return 0;
}

int store_tenant_add(struct store *s, const struct tenant *in, char *err, size_t errlen)
{
	struct tenant canon, *t = &canon;
	if (tenant_canon(in, &canon, err, errlen) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "INSERT INTO tenant (slug, name, status, device_auth, allow_cidrs, "
				      "username_pattern, auth_username_pattern, max_per_user, default_template, "
				      "defaults, created) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	tenant_bind(st, t);
	db_bind_int64(st, 11, sp_now());
	if (db_step(st) != DB_DONE) {
		int uniq = db_errcode(s->db) == DB_UNIQUE;
		db_reset(st);
		if (uniq)
			return sp_err(err, errlen, "tenant '%s' already exists", t->slug);
		return sp_err(err, errlen, "%s", store_errmsg(s));
	}
	db_reset(st);
	return 0;
}

int store_tenant_update(struct store *s, const struct tenant *in, char *err, size_t errlen)
{
	struct tenant canon, *t = &canon;
	if (tenant_canon(in, &canon, err, errlen) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "UPDATE tenant SET slug=?, name=?, status=?, device_auth=?, "
				      "allow_cidrs=?, username_pattern=?, auth_username_pattern=?, "
				      "max_per_user=?, default_template=?, defaults=? WHERE id=?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	tenant_bind(st, t);
	db_bind_int64(st, 11, t->id);
	return store_exec_stmt(s, st, err, errlen);
}

int store_tenant_each(struct store *s, int (*fn)(const struct tenant *, void *), void *arg)
{
	/* Not cached: fn may call back into the store. */
	struct dbst *st;
	struct tenant t;
	int rc;
	if (!(st = db_prepare(s->db, "SELECT " TENANT_COLS "ORDER BY slug", false)))
		return -1;
	while ((rc = db_step(st)) == DB_ROW) {
		tenant_row(st, &t);
		if (fn(&t, arg))
			break;
	}
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* ---- template versions ---- */

#define TV_COLS "v.id, v.template_id, tn.slug, t.name, v.number, v.settings, v.sha256, v.author, " \
	"v.comment, v.created FROM template_version v JOIN template t ON t.id = v.template_id " \
	"JOIN tenant tn ON tn.id = t.tenant_id "

static void tversion_row(struct dbst *st, struct tversion *v)
{
	memset(v, 0, sizeof(*v));
	v->id = db_col_int64(st, 0);
	v->template_id = db_col_int64(st, 1);
	store_col_text(st, 2, v->tenant, sizeof(v->tenant));
	store_col_text(st, 3, v->name, sizeof(v->name));
	v->number = db_col_int64(st, 4);
	store_col_text(st, 5, v->settings, sizeof(v->settings));
	store_col_text(st, 6, v->sha256, sizeof(v->sha256));
	store_col_text(st, 7, v->author, sizeof(v->author));
	store_col_text(st, 8, v->comment, sizeof(v->comment));
	v->created = db_col_int64(st, 9);
}

int store_tversion_get(struct store *s, int64_t tenant_id, const char *name, long number, struct tversion *v)
{
	struct store_memo *m = s->memo && s->memo->on ? s->memo : NULL;
	for (unsigned i = 0; m && i < m->nver && i < MEMO_SLOTS; i++)
		if (m->ver[i].tenant_id == tenant_id && m->ver[i].number == number && !strcmp(m->ver[i].v.name, name)) {
			ROW_COPY(v, &m->ver[i].v, struct tversion, settings);
			return 1;
		}
	struct dbst *st = store_stmt(s, "SELECT " TV_COLS "WHERE t.tenant_id = ? AND t.name = ? AND "
				      "v.number = CASE WHEN ?3 = 0 THEN t.current ELSE ?3 END");
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	store_bind_text(st, 2, name);
	db_bind_int64(st, 3, number);
	int rc = one_row(st, (void (*)(struct dbst *, void *))tversion_row, v);
	if (rc == 1 && m) {
		unsigned k = m->nver++ % MEMO_SLOTS;
		m->ver[k].tenant_id = tenant_id;
		m->ver[k].number = number;   /* 0: the current version, at this generation */
		ROW_COPY(&m->ver[k].v, v, struct tversion, settings);
		json_decref(m->ver[k].settings);
		m->ver[k].settings = NULL;
	}
	return rc;
}

int store_tversion_add(struct store *s, int64_t tenant_id, const char *name, const char *settings,
		       const char *author, const char *comment, struct tversion *out, char *err, size_t errlen)
{
	struct dbst *st;
	int64_t tid = 0;
	long number = 1;
	char sha[65];

	st = store_stmt(s, "INSERT INTO template (tenant_id, name, created) VALUES (?,?,?) "
			   "ON CONFLICT (tenant_id, name) DO NOTHING");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	db_bind_int64(st, 1, tenant_id);
	store_bind_text(st, 2, name);
	db_bind_int64(st, 3, sp_now());
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	st = store_stmt(s, "SELECT id, current + 1 FROM template WHERE tenant_id = ? AND name = ?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	db_bind_int64(st, 1, tenant_id);
	store_bind_text(st, 2, name);
	if (db_step(st) == DB_ROW) {
		tid = db_col_int64(st, 0);
		number = db_col_int64(st, 1);
	}
	db_reset(st);
	if (!tid)
		return sp_err(err, errlen, "template '%s' could not be created", name);
	sha256_hex(settings, strlen(settings), sha);
	st = store_stmt(s, "INSERT INTO template_version (template_id, number, settings, sha256, author, "
			   "comment, created) VALUES (?,?,?,?,?,?,?)");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	db_bind_int64(st, 1, tid);
	db_bind_int64(st, 2, number);
	store_bind_text(st, 3, settings);
	store_bind_text(st, 4, sha);
	store_bind_text(st, 5, author);
	store_bind_text(st, 6, comment);
	db_bind_int64(st, 7, sp_now());
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	st = store_stmt(s, "UPDATE template SET current = ? WHERE id = ?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	db_bind_int64(st, 1, number);
	db_bind_int64(st, 2, tid);
	if (store_exec_stmt(s, st, err, errlen) < 0)
		return -1;
	if (out && store_tversion_get(s, tenant_id, name, number, out) != 1)
		return sp_err(err, errlen, "template '%s' version %ld vanished", name, number);
	return 0;
}

int store_tversion_each(struct store *s, int64_t tenant_id, const char *name,
			int (*fn)(const struct tversion *, void *), void *arg)
{
	struct dbst *st;
	struct tversion *v = xmalloc(sizeof(*v));
	int rc;
	if (!(st = db_prepare(s->db, "SELECT " TV_COLS "WHERE t.tenant_id = ? AND (?2 = '' OR t.name = ?2) "
			      "ORDER BY t.name, v.number", false))) {
		free(v);
		return -1;
	}
	db_bind_int64(st, 1, tenant_id);
	store_bind_text(st, 2, name ? name : "");
	while ((rc = db_step(st)) == DB_ROW) {
		tversion_row(st, v);
		if (fn(v, arg))
			break;
	}
	db_finalize(st);
	free(v);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

/* ---- devices ---- */

#define DEVICE_COLS "id, mac, tenant_id, layout, model, label, template, pinned_version, status, " \
	"http_user, ha1_md5, ha1_sha256, overrides, fetched_at, fetched_ip, fetched_ua, " \
	"fetched_version, fetched_digest, ha1_enc FROM device LEFT JOIN device_fetch ON device_id = id "

static void device_row(struct dbst *st, struct device *d)
{
	memset(d, 0, sizeof(*d));
	d->id = db_col_int64(st, 0);
	store_col_text(st, 1, d->mac, sizeof(d->mac));
	d->tenant_id = db_col_int64(st, 2);
	store_col_text(st, 3, d->layout, sizeof(d->layout));
	store_col_text(st, 4, d->model, sizeof(d->model));
	store_col_text(st, 5, d->label, sizeof(d->label));
	store_col_text(st, 6, d->template_name, sizeof(d->template_name));
	d->pinned_version = db_col_int64(st, 7);
	store_col_text(st, 8, d->status, sizeof(d->status));
	store_col_text(st, 9, d->http_user, sizeof(d->http_user));
	store_col_text(st, 10, d->ha1_md5, sizeof(d->ha1_md5));
	store_col_text(st, 11, d->ha1_sha256, sizeof(d->ha1_sha256));
	store_col_text(st, 12, d->overrides, sizeof(d->overrides));
	d->fetched_at = db_col_int64(st, 13);
	store_col_client(st, 14, d->fetched_ip, sizeof(d->fetched_ip));
	store_col_client(st, 15, d->fetched_ua, sizeof(d->fetched_ua));
	d->fetched_version = db_col_int64(st, 16);
	store_col_text(st, 17, d->fetched_digest, sizeof(d->fetched_digest));
	store_col_text(st, 18, d->ha1_enc, sizeof(d->ha1_enc));
}

/* ---- secrets at rest: HA1 and tokens are sealed on write, opened on read
 * when the store has the key (store_use_key); without it they read as ""
 * and writes that carry a plaintext fail. ---- */

static bool hex_ok(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* ha1_enc -> ha1_md5 / ha1_sha256 (left "" when no key or no seal). */
static void device_open_secrets(struct store *s, struct device *d)
{
	d->ha1_md5[0] = d->ha1_sha256[0] = '\0';
	if (!s->have_key || !d->ha1_enc[0])
		return;
	char *p = secret_decrypt(s->key, d->ha1_enc);
	if (p && strlen(p) == 32 + 1 + 64 && p[32] == ':') {
		p[32] = '\0';
		if (hex_ok(p, 32) && hex_ok(p + 33, 64)) {
			sp_strlcpy(d->ha1_md5, p, sizeof(d->ha1_md5));
			sp_strlcpy(d->ha1_sha256, p + 33, sizeof(d->ha1_sha256));
		}
	} else {
		log_warnx("device %s: stored HTTP digest credentials do not decrypt", d->mac);
	}
	if (p) {
		secret_wipe(p, strlen(p));
		free(p);
	}
}

/* A new HA1 pair in memory -> d->ha1_enc.  0, or -1 with err. */
static int device_seal(struct store *s, const struct device *d, char *enc, size_t size, char *err, size_t errlen)
{
	char plain[32 + 1 + 64 + 1];
	sp_strlcpy(enc, d->ha1_enc, size);
	if (!d->ha1_md5[0] && !d->ha1_sha256[0])
		return 0;
	if (!s->have_key)
		return sp_err(err, errlen, "device %s: HTTP digest credentials need the key file", d->mac);
	if (!hex_ok(d->ha1_md5, 32) || !hex_ok(d->ha1_sha256, 64))
		return sp_err(err, errlen, "device %s: HA1 values are not lowercase hex digests", d->mac);
	snprintf(plain, sizeof(plain), "%s:%s", d->ha1_md5, d->ha1_sha256);
	char *e = secret_encrypt(s->key, plain);
	secret_wipe(plain, sizeof(plain));
	if (!e || strlen(e) >= size) {
		free(e);
		return sp_err(err, errlen, "device %s: cannot encrypt HTTP digest credentials", d->mac);
	}
	sp_strlcpy(enc, e, size);
	free(e);
	return 0;
}

int store_device_get(struct store *s, const char *mac, struct device *d)
{
	struct dbst *st = s->pre.dev;
	bool pre = st && !strcmp(s->pre.mac, mac);
	if (pre)
		s->pre.dev = NULL;      /* store_begin_render's row: read it */
	else if ((st = store_stmt(s, "SELECT " DEVICE_COLS "WHERE mac = ?")))
		store_bind_text(st, 1, mac);
	else
		return -1;
	int rc = one_row(st, (void (*)(struct dbst *, void *))device_row, d);
	if (rc == 1)
		device_open_secrets(s, d);
	if (rc == 1 && pre) {
		s->pre.dev_id = d->id;
		s->pre.tenant_id = d->tenant_id;
	}
	return rc;
}

int store_device_get_id(struct store *s, int64_t id, struct device *d)
{
	struct dbst *st = store_stmt(s, "SELECT " DEVICE_COLS "WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	int rc = one_row(st, (void (*)(struct dbst *, void *))device_row, d);
	if (rc == 1)
		device_open_secrets(s, d);
	return rc;
}

/* Each device row of st (keys bound as ?1) to fn, secrets opened. */
static int devices_each(struct store *s, struct dbst *st, const char *keys,
			int (*fn)(const struct device *, void *), void *arg)
{
	struct device *d = xmalloc(sizeof(*d));
	int rc;
	if (!st) {
		free(d);
		return -1;
	}
	store_bind_text(st, 1, keys);
	while ((rc = db_step(st)) == DB_ROW) {
		device_row(st, d);
		device_open_secrets(s, d);
		if (fn(d, arg))
			break;
	}
	db_reset(st);
	free(d);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_device_get_many(struct store *s, const char *macs, int (*fn)(const struct device *, void *), void *arg)
{
	return devices_each(s, store_stmt(s, "SELECT " DEVICE_COLS "WHERE mac IN (SELECT value FROM json_each(?1)) "
					  "ORDER BY id"), macs, fn, arg);
}

int store_device_get_ids(struct store *s, const char *ids, int (*fn)(const struct device *, void *), void *arg)
{
	return devices_each(s, store_stmt(s, "SELECT " DEVICE_COLS "WHERE id IN (SELECT value FROM json_each(?1)) "
					  "ORDER BY id"), ids, fn, arg);
}

/* ha1_md5 / ha1_sha256 columns (schema 001) stay '': HA1 lives in ha1_enc. */
static void device_bind(struct dbst *st, const struct device *d, const char *ha1_enc)
{
	store_bind_text(st, 1, d->mac);
	db_bind_int64(st, 2, d->tenant_id);
	store_bind_text(st, 3, d->layout);
	store_bind_text(st, 4, d->model);
	store_bind_text(st, 5, d->label);
	store_bind_text(st, 6, d->template_name);
	db_bind_int64(st, 7, d->pinned_version);
	store_bind_text(st, 8, d->status[0] ? d->status : "active");
	store_bind_text(st, 9, d->http_user);
	store_bind_text(st, 10, ha1_enc);
	store_bind_text(st, 11, d->overrides[0] ? d->overrides : "{}");
}

int store_device_add(struct store *s, struct device *d, char *err, size_t errlen)
{
	char enc[sizeof(d->ha1_enc)];
	if (device_seal(s, d, enc, sizeof(enc), err, errlen) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "INSERT INTO device (mac, tenant_id, layout, model, label, template, "
				      "pinned_version, status, http_user, ha1_enc, overrides, "
				      "created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	device_bind(st, d, enc);
	db_bind_int64(st, 12, sp_now());
	if (db_step(st) != DB_DONE) {
		int uniq = db_errcode(s->db) == DB_UNIQUE;
		db_reset(st);
		if (uniq)
			return sp_err(err, errlen, "device '%s' already exists", d->mac);
		return sp_err(err, errlen, "%s", store_errmsg(s));
	}
	db_reset(st);
	d->id = db_last_id(s->db);
	return 0;
}

int store_device_update(struct store *s, const struct device *d, char *err, size_t errlen)
{
	char enc[sizeof(d->ha1_enc)];
	if (device_seal(s, d, enc, sizeof(enc), err, errlen) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "UPDATE device SET mac=?, tenant_id=?, layout=?, model=?, label=?, "
				      "template=?, pinned_version=?, status=?, http_user=?, ha1_enc=?, "
				      "overrides=? WHERE id=?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	device_bind(st, d, enc);
	db_bind_int64(st, 12, d->id);
	return store_exec_stmt(s, st, err, errlen);
}

int store_device_delete(struct store *s, int64_t id)
{
	struct dbst *st = store_stmt(s, "DELETE FROM device WHERE id = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, id);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_device_each(struct store *s, int64_t tenant_id, int (*fn)(const struct device *, void *), void *arg)
{
	struct dbst *st;
	struct device *d = xmalloc(sizeof(*d));
	int rc;
	if (!(st = db_prepare(s->db, "SELECT " DEVICE_COLS "WHERE ?1 = 0 OR tenant_id = ?1 ORDER BY mac", false))) {
		free(d);
		return -1;
	}
	db_bind_int64(st, 1, tenant_id);
	while ((rc = db_step(st)) == DB_ROW) {
		device_row(st, d);
		device_open_secrets(s, d);
		if (fn(d, arg))
			break;
	}
	db_finalize(st);
	free(d);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_device_count(struct store *s, int64_t tenant_id, long *n)
{
	struct dbst *st = store_stmt(s, "SELECT count(*) FROM device WHERE ?1 = 0 OR tenant_id = ?1");
	if (!st)
		return -1;
	db_bind_int64(st, 1, tenant_id);
	int rc = db_step(st);
	*n = rc == DB_ROW ? db_col_int64(st, 0) : 0;
	db_reset(st);
	return rc == DB_ROW ? 0 : -1;
}

/* ---- accounts ---- */

#define ACCOUNT_COLS "id, device_id, line, display_name, extension, username, auth_username, " \
	"password_enc, coalesce(token_hash,''), token_enc, token_revoked, last_code, last_code_at FROM account "

static void account_row(struct dbst *st, struct account *a)
{
	memset(a, 0, sizeof(*a));
	a->id = db_col_int64(st, 0);
	a->device_id = db_col_int64(st, 1);
	a->line = db_col_int64(st, 2);
	store_col_text(st, 3, a->display_name, sizeof(a->display_name));
	store_col_text(st, 4, a->extension, sizeof(a->extension));
	store_col_text(st, 5, a->username, sizeof(a->username));
	store_col_text(st, 6, a->auth_username, sizeof(a->auth_username));
	store_col_text(st, 7, a->password_enc, sizeof(a->password_enc));
	store_col_text(st, 8, a->token_hash, sizeof(a->token_hash));
	store_col_text(st, 9, a->token_enc, sizeof(a->token_enc));
	a->token_revoked = db_col_int64(st, 10) != 0;
	a->last_code = db_col_int64(st, 11);
	a->last_code_at = db_col_int64(st, 12);
}

/* token_enc -> token (left "" when no key). */
static void account_open_secrets(struct store *s, struct account *a)
{
	a->token[0] = '\0';
	if (!s->have_key || !a->token_enc[0])
		return;
	char *p = secret_decrypt(s->key, a->token_enc);
	if (p && hex_ok(p, SP_TOKEN_HEX))
		sp_strlcpy(a->token, p, sizeof(a->token));
	else
		log_warnx("account %lld: stored softphone token does not decrypt", (long long)a->id);
	if (p) {
		secret_wipe(p, strlen(p));
		free(p);
	}
}

static void token_hash_of(const struct store *s, const char *token, char out[65])
{
	secret_hmac_hex(s->key, LABEL_TOKEN, token, strlen(token), out);
}

/* The token in memory -> hash and ciphertext to store (both "" and the
 * row's kept values when a->token is "").  0, or -1 with err. */
static int account_seal(struct store *s, const struct account *a, char hash[65], char *enc, size_t size,
			char *err, size_t errlen)
{
	sp_strlcpy(hash, a->token_hash, 65);
	sp_strlcpy(enc, a->token_enc, size);
	if (!a->token[0])
		return 0;
	if (!s->have_key)
		return sp_err(err, errlen, "line %ld: a softphone token needs the key file", a->line);
	if (!hex_ok(a->token, SP_TOKEN_HEX))
		return sp_err(err, errlen, "line %ld: token is not %d lowercase hex digits", a->line, SP_TOKEN_HEX);
	char *e = secret_encrypt(s->key, a->token);
	if (!e || strlen(e) >= size) {
		free(e);
		return sp_err(err, errlen, "line %ld: cannot encrypt the token", a->line);
	}
	sp_strlcpy(enc, e, size);
	free(e);
	token_hash_of(s, a->token, hash);
	return 0;
}

int store_account_list(struct store *s, int64_t device_id, struct account *a, size_t max, size_t *n)
{
	struct dbst *st = s->pre.acc;
	int rc;
	*n = 0;
	if (st && s->pre.dev_id == device_id)
		s->pre.acc = NULL;      /* store_begin_render's rows */
	else if ((st = store_stmt(s, "SELECT " ACCOUNT_COLS "WHERE device_id = ? ORDER BY line")))
		db_bind_int64(st, 1, device_id);
	else
		return -1;
	while ((rc = db_step(st)) == DB_ROW && *n < max)
		account_row(st, &a[(*n)++]);
	db_reset(st);
	for (size_t i = 0; i < *n; i++)
		account_open_secrets(s, &a[i]);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_account_get_line(struct store *s, int64_t device_id, long line, struct account *a)
{
	struct dbst *st = store_stmt(s, "SELECT " ACCOUNT_COLS "WHERE device_id = ? AND line = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, line);
	int rc = one_row(st, (void (*)(struct dbst *, void *))account_row, a);
	if (rc == 1)
		account_open_secrets(s, a);
	return rc;
}

int store_account_get_token(struct store *s, const char *token, struct account *a)
{
	char hash[65];
	if (!s->have_key) {
		log_warnx("token lookup without the key file");
		return -1;
	}
	struct dbst *st = store_stmt(s, "SELECT " ACCOUNT_COLS "WHERE token_hash = ?");
	if (!st)
		return -1;
	token_hash_of(s, token, hash);
	store_bind_text(st, 1, hash);
	int rc = one_row(st, (void (*)(struct dbst *, void *))account_row, a);
	if (rc == 1)
		account_open_secrets(s, a);
	return rc;
}

/* account.token (schema 001) stays NULL: the token lives in token_hash/_enc. */
static void account_bind(struct dbst *st, const struct account *a, const char *hash, const char *enc)
{
	db_bind_int64(st, 1, a->device_id);
	db_bind_int64(st, 2, a->line);
	store_bind_text(st, 3, a->display_name);
	store_bind_text(st, 4, a->extension);
	store_bind_text(st, 5, a->username);
	store_bind_text(st, 6, a->auth_username);
	store_bind_text(st, 7, a->password_enc);
	if (hash[0])
		store_bind_text(st, 8, hash);
	else
		db_bind_null(st, 8);
	store_bind_text(st, 9, enc);
	db_bind_int64(st, 10, a->token_revoked);
}

int store_account_add(struct store *s, struct account *a, char *err, size_t errlen)
{
	char hash[65], enc[sizeof(a->token_enc)];
	if (account_seal(s, a, hash, enc, sizeof(enc), err, errlen) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "INSERT INTO account (device_id, line, display_name, extension, "
				      "username, auth_username, password_enc, token_hash, token_enc, token_revoked) "
				      "VALUES (?,?,?,?,?,?,?,?,?,?)");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	account_bind(st, a, hash, enc);
	if (db_step(st) != DB_DONE) {
		int uniq = db_errcode(s->db) == DB_UNIQUE;
		db_reset(st);
		if (uniq)
			return sp_err(err, errlen, "line %ld already exists on this device", a->line);
		return sp_err(err, errlen, "%s", store_errmsg(s));
	}
	db_reset(st);
	a->id = db_last_id(s->db);
	sp_strlcpy(a->token_hash, hash, sizeof(a->token_hash));
	sp_strlcpy(a->token_enc, enc, sizeof(a->token_enc));
	return 0;
}

int store_account_update(struct store *s, const struct account *a, char *err, size_t errlen)
{
	char hash[65], enc[sizeof(a->token_enc)];
	if (account_seal(s, a, hash, enc, sizeof(enc), err, errlen) < 0)
		return -1;
	struct dbst *st = store_stmt(s, "UPDATE account SET device_id=?, line=?, display_name=?, extension=?, "
				      "username=?, auth_username=?, password_enc=?, token_hash=?, token_enc=?, "
				      "token_revoked=? WHERE id=?");
	if (!st)
		return sp_err(err, errlen, "%s", store_errmsg(s));
	account_bind(st, a, hash, enc);
	db_bind_int64(st, 11, a->id);
	return store_exec_stmt(s, st, err, errlen);
}

int store_account_each_in_tenant(struct store *s, int64_t tenant_id,
				 int (*fn)(const struct account *, const char *mac, void *), void *arg)
{
	struct dbst *st;
	struct account a;
	char mac[SP_MAC_LEN + 1];
	int rc;
	if (!(st = db_prepare(s->db, "SELECT a.id, a.device_id, a.line, a.display_name, a.extension, "
			      "a.username, a.auth_username, a.password_enc, coalesce(a.token_hash,''), "
			      "a.token_enc, a.token_revoked, a.last_code, a.last_code_at, d.mac FROM account a "
			      "JOIN device d ON d.id = a.device_id WHERE d.tenant_id = ? ORDER BY d.mac, a.line",
			      false)))
		return -1;
	db_bind_int64(st, 1, tenant_id);
	while ((rc = db_step(st)) == DB_ROW) {
		account_row(st, &a);
		account_open_secrets(s, &a);
		store_col_text(st, 13, mac, sizeof(mac));
		if (fn(&a, mac, arg))
			break;
	}
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_audit(struct store *s, const char *actor, const char *action, const char *object,
		const char *before, const char *after, const char *detail)
{
	struct dbst *st = store_stmt(s, "INSERT INTO audit_log (at, actor, action, object, before_digest, "
				      "after_digest, detail) VALUES (?,?,?,?,?,?,?)");
	if (!st)
		return -1;
	db_bind_int64(st, 1, sp_now());
	store_bind_text(st, 2, actor);
	store_bind_text(st, 3, action);
	store_bind_text(st, 4, object);
	store_bind_text(st, 5, before ? before : "");
	store_bind_text(st, 6, after ? after : "");
	store_bind_text(st, 7, detail ? detail : "");
	return store_exec_stmt(s, st, NULL, 0);
}

/* The integer st (CONFIG_GEN, bound or kept, or any one-value read)
 * reads; -1 for none. */
static long gen_read(struct dbst *st)
{
	long v = -1;
	if (st && db_step(st) == DB_ROW)
		v = db_col_int64(st, 0);
	if (st)
		db_reset(st);
	return v;
}

long store_config_gen(struct store *s)
{
	return gen_read(store_stmt(s, CONFIG_GEN));
}

long store_scalar(struct store *s, const char *sql)
{
	return gen_read(store_stmt(s, sql));
}

/* The rows store_begin_render reads ahead, by MAC: statements of their
 * own (no other reader resets them), in the same snapshot as the device. */
static const char PRE_DEVICE[] = "SELECT " DEVICE_COLS "WHERE mac = ?1";
static const char PRE_ACCOUNTS[] = "SELECT " ACCOUNT_COLS
	"WHERE device_id = (SELECT id FROM device WHERE mac = ?1) ORDER BY line";
static const char PRE_WEBPW[] = "SELECT role, device_id, password_enc FROM web_password "
	"WHERE (tenant_id = 0 AND device_id = (SELECT id FROM device WHERE mac = ?1)) "
	"OR (tenant_id = (SELECT tenant_id FROM device WHERE mac = ?1) AND device_id = 0)";

static void pre_drop(struct store *s)
{
	struct dbst **k[] = { &s->pre.dev, &s->pre.acc, &s->pre.web };
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (*k[i]) {
			db_reset(*k[i]);
			*k[i] = NULL;
		}
	s->pre.dev_id = s->pre.tenant_id = -1;
}

/* st[0..2]: the PRE_ statements, bound to mac.  0, or -1 (one missing). */
static int pre_bind(struct store *s, struct dbst **st, const char *mac)
{
	st[0] = store_stmt(s, PRE_DEVICE);
	st[1] = store_stmt(s, PRE_ACCOUNTS);
	st[2] = store_stmt(s, PRE_WEBPW);
	for (int i = 0; i < 3; i++) {
		if (!st[i])
			return -1;
		store_bind_text(st[i], 1, mac);
	}
	return 0;
}

/* st[0..2], pipelined: kept for their readers. */
static void pre_keep(struct store *s, struct dbst *const *st, const char *mac)
{
	sp_strlcpy(s->pre.mac, mac, sizeof(s->pre.mac));
	s->pre.dev = st[0];
	s->pre.acc = st[1];
	s->pre.web = st[2];
}

long store_begin_render(struct store *s, const char *mac, bool one_trip)
{
	pre_drop(s);
	s->snap.ended = false;
	if (!s->url)
		return store_begin_read(s) == 0 ? store_config_gen(s) : -1;
	bool rows = mac && *mac;
	one_trip = one_trip && rows;
	struct dbst *st[6] = { store_stmt(s, BEGIN_READ_PG), store_stmt(s, CONFIG_GEN) };
	int n = 2;
	if (rows) {
		if (pre_bind(s, st + 2, mac) < 0)
			return -1;
		n = 5;
	}
	if (one_trip)
		st[n++] = store_stmt(s, "COMMIT");
	for (int i = 0; i < n; i++)
		if (!st[i])
			return -1;
	if (db_pipeline(s->db, st, n) != DB_DONE || store_exec_stmt(s, st[0], NULL, 0) < 0 ||
	    (one_trip && store_exec_stmt(s, st[5], NULL, 0) < 0))
		return -1;
	long g = gen_read(st[1]);
	if (g >= 0 && rows)
		pre_keep(s, st + 2, mac);
	if (one_trip) {
		s->snap.ended = true;
		s->snap.gen = g;
		s->snap.runs = db_pg_runs(s->db);
	}
	return g;
}

int store_read_ahead(struct store *s, const char *mac)
{
	struct dbst *st[3];
	pre_drop(s);
	if (!s->url)
		return 0;       /* SQLite: a read is no round trip */
	if (pre_bind(s, st, mac) < 0 || db_pipeline(s->db, st, 3) != DB_DONE)
		return -1;
	pre_keep(s, st, mac);
	return 0;
}

int store_end_render(struct store *s)
{
	if (!s->url)
		return store_commit(s);
	pre_drop(s);
	if (!s->snap.ended)
		return db_send(s->db, "COMMIT") == DB_DONE ? 0 : -1;
	s->snap.ended = false;
	if (db_pg_runs(s->db) == s->snap.runs)
		return 0;
	/* The render read more (a tenant or version the memo did not hold,
	 * the firmware table), each statement its own snapshot: the same
	 * rows as the first one's only if no change committed meanwhile,
	 * and every change that can reach a render bumps the generation in
	 * its own transaction (schema 002). */
	long g = store_config_gen(s);
	if (g >= 0 && g == s->snap.gen)
		return 0;
	if (s->memo)
		memo_forget(s->memo, -1);       /* it may hold rows of a later generation under this one */
	return 1;
}

struct dbst *store_pre_webpw(struct store *s, int64_t tenant_id, int64_t device_id)
{
	struct dbst *st = s->pre.web;
	if (!st || s->pre.dev_id != device_id || s->pre.tenant_id != tenant_id)
		return NULL;
	s->pre.web = NULL;
	return st;
}

int store_device_log_add(struct store *s, int64_t device_id, const char *name, const void *body, size_t len,
			 long keep)
{
	struct dbst *st = store_stmt(s, "INSERT INTO device_log (device_id, at, name, body) VALUES (?,?,?,?)");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, sp_now());
	store_bind_text(st, 3, name);
	db_bind_blob(st, 4, body, len);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	st = store_stmt(s, "DELETE FROM device_log WHERE device_id = ?1 AND id NOT IN "
			   "(SELECT id FROM device_log WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2)");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, keep);
	return store_exec_stmt(s, st, NULL, 0);
}

int store_device_log_each(struct store *s, int64_t device_id,
			  int (*fn)(int64_t at, const char *name, const void *body, size_t len, void *), void *arg)
{
	struct dbst *st;
	char name[SP_NAME_MAX];
	const void *body;
	size_t len;
	int rc;
	if (!(st = db_prepare(s->db, "SELECT at, name, body FROM device_log WHERE device_id = ? ORDER BY id DESC",
			      false)))
		return -1;
	db_bind_int64(st, 1, device_id);
	while ((rc = db_step(st)) == DB_ROW) {
		store_col_text(st, 1, name, sizeof(name));
		body = db_col_blob(st, 2, &len);
		if (fn(db_col_int64(st, 0), name, body, len, arg))
			break;
	}
	db_finalize(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}

int store_prune(struct store *s, int64_t before, long chunk, long *n)
{
	static const char *const sql[] = {
		"DELETE FROM fetch_log WHERE id IN (SELECT id FROM fetch_log WHERE at < ? LIMIT ?)",
		"DELETE FROM registration WHERE id IN (SELECT id FROM registration WHERE at < ? LIMIT ?)",
	};
	*n = 0;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		for (;;) {
			struct dbst *st = store_stmt(s, sql[i]);
			if (!st || store_begin(s) < 0)
				return -1;
			db_bind_int64(st, 1, before);
			db_bind_int64(st, 2, chunk);
			if (store_exec_stmt(s, st, NULL, 0) < 0) {
				store_rollback(s);
				return -1;
			}
			long k = db_changes(s->db);
			if (store_commit(s) < 0)
				return -1;
			*n += k;
			if (k < chunk)
				break;
		}
	}
	return 0;
}

int store_account_delete(struct store *s, int64_t device_id, long line)
{
	struct dbst *st = store_stmt(s, "DELETE FROM account WHERE device_id = ? AND line = ?");
	if (!st)
		return -1;
	db_bind_int64(st, 1, device_id);
	db_bind_int64(st, 2, line);
	if (store_exec_stmt(s, st, NULL, 0) < 0)
		return -1;
	return db_changes(store_db(s)) > 0 ? 1 : 0;
}

/* ---- the key: check value and one-time conversion of legacy rows ---- */

static bool same_hex(const char *a, const char *b)
{
	size_t n = strlen(a);
	unsigned char d = n != strlen(b);
	for (size_t i = 0; i < n && !d; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int read_state(struct store *s, char check[65], int *converted)
{
	struct dbst *st = store_stmt(s, "SELECT key_check, converted FROM secret_state WHERE id = 1");
	if (!st || db_step(st) != DB_ROW) {
		if (st)
			db_reset(st);
		return -1;
	}
	store_col_text(st, 0, check, 65);
	*converted = (int)db_col_int64(st, 1);
	db_reset(st);
	return 0;
}

/* A database from before schema 005 has no check value: the key must
 * open a stored password (when there is one) before it is trusted. */
static int key_opens_passwords(struct store *s, const unsigned char key[SP_KEY_LEN])
{
	struct dbst *st = store_stmt(s, "SELECT password_enc FROM account WHERE password_enc != '' LIMIT 1");
	char enc[512];
	int ok = 1;
	if (!st)
		return -1;
	if (db_step(st) == DB_ROW) {
		store_col_text(st, 0, enc, sizeof(enc));
		char *p = secret_decrypt(key, enc);
		ok = p != NULL;
		if (p) {
			secret_wipe(p, strlen(p));
			free(p);
		}
	}
	db_reset(st);
	return ok;
}

/* Rows written before schema 005 kept tokens and HA1 in plaintext.  Seal
 * them with the store's key, in id order, 512 at a time (the scan never
 * walks rows it is changing).  Inside the caller's transaction. */
static int convert_tokens(struct store *s, long *n)
{
	int64_t after = 0;
	for (;;) {
		struct { int64_t id; char token[SP_TOKEN_HEX + 8]; } batch[512];
		size_t k = 0;
		struct dbst *st = store_stmt(s, "SELECT id, token FROM account WHERE token IS NOT NULL AND id > ? "
					      "ORDER BY id LIMIT 512");
		if (!st)
			return -1;
		db_bind_int64(st, 1, after);
		while (k < 512 && db_step(st) == DB_ROW) {
			batch[k].id = db_col_int64(st, 0);
			store_col_text(st, 1, batch[k].token, sizeof(batch[k].token));
			k++;
		}
		db_reset(st);
		for (size_t i = 0; i < k; i++) {
			struct account a = { .id = batch[i].id, .line = 0 };
			char hash[65] = "", enc[sizeof(a.token_enc)] = "";
			if (hex_ok(batch[i].token, SP_TOKEN_HEX)) {
				sp_strlcpy(a.token, batch[i].token, sizeof(a.token));
				if (account_seal(s, &a, hash, enc, sizeof(enc), NULL, 0) < 0)
					return -1;
			} else {
				log_warnx("account %lld: dropping a malformed legacy token", (long long)a.id);
			}
			st = store_stmt(s, "UPDATE account SET token = NULL, token_hash = ?, token_enc = ? WHERE id = ?");
			if (!st)
				return -1;
			if (hash[0])
				store_bind_text(st, 1, hash);
			else
				db_bind_null(st, 1);
			store_bind_text(st, 2, enc);
			db_bind_int64(st, 3, a.id);
			secret_wipe(&a, sizeof(a));
			secret_wipe(batch[i].token, sizeof(batch[i].token));
			if (store_exec_stmt(s, st, NULL, 0) < 0)
				return -1;
			(*n)++;
			after = batch[i].id;
		}
		if (k < 512)
			return 0;
	}
}

static int convert_ha1(struct store *s, long *n)
{
	int64_t after = 0;
	for (;;) {
		struct { int64_t id; char md5[40], sha[72]; } batch[512];
		size_t k = 0;
		struct dbst *st = store_stmt(s, "SELECT id, ha1_md5, ha1_sha256 FROM device WHERE id > ? AND "
					      "(ha1_md5 != '' OR ha1_sha256 != '') ORDER BY id LIMIT 512");
		if (!st)
			return -1;
		db_bind_int64(st, 1, after);
		while (k < 512 && db_step(st) == DB_ROW) {
			batch[k].id = db_col_int64(st, 0);
			store_col_text(st, 1, batch[k].md5, sizeof(batch[k].md5));
			store_col_text(st, 2, batch[k].sha, sizeof(batch[k].sha));
			k++;
		}
		db_reset(st);
		for (size_t i = 0; i < k; i++) {
			struct device d = { .id = batch[i].id };
			char enc[sizeof(d.ha1_enc)] = "";
			snprintf(d.mac, sizeof(d.mac), "#%lld", (long long)d.id);
			if (hex_ok(batch[i].md5, 32) && hex_ok(batch[i].sha, 64)) {
				sp_strlcpy(d.ha1_md5, batch[i].md5, sizeof(d.ha1_md5));
				sp_strlcpy(d.ha1_sha256, batch[i].sha, sizeof(d.ha1_sha256));
				if (device_seal(s, &d, enc, sizeof(enc), NULL, 0) < 0)
					return -1;
			} else {
				log_warnx("device %lld: dropping malformed legacy HTTP digest credentials",
					  (long long)d.id);
			}
			st = store_stmt(s, "UPDATE device SET ha1_md5 = '', ha1_sha256 = '', ha1_enc = ? WHERE id = ?");
			if (!st)
				return -1;
			store_bind_text(st, 1, enc);
			db_bind_int64(st, 2, d.id);
			secret_wipe(&d, sizeof(d));
			secret_wipe(&batch[i], sizeof(batch[i]));
			if (store_exec_stmt(s, st, NULL, 0) < 0)
				return -1;
			(*n)++;
			after = batch[i].id;
		}
		if (k < 512)
			return 0;
	}
}

static int convert_legacy(struct store *s, char *err, size_t errlen)
{
	long tokens = 0, ha1 = 0;
	if (convert_tokens(s, &tokens) < 0 || convert_ha1(s, &ha1) < 0)
		return sp_err(err, errlen, "cannot convert legacy secrets: %s", store_errmsg(s));
	/* Any run of 16+ hex digits: the same rule as every new row. */
	if (exec_sql(s->db, "UPDATE fetch_log SET path = sp_redact_path(path) WHERE path GLOB "
			    "'*[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]"
			    "[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]"
			    "[0-9a-fA-F][0-9a-fA-F]*'", err, errlen) < 0)
		return -1;
	long paths = db_changes(s->db);
	if (tokens || ha1 || paths)
		log_info("database: sealed %ld legacy softphone tokens and %ld devices' HTTP digest credentials, "
			 "redacted %ld fetch log paths", tokens, ha1, paths);
	return 0;
}

int store_use_key(struct store *s, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen)
{
	char want[65], have[65];
	int converted = 0;
	secret_hmac_hex(key, LABEL_CHECK, "", 0, want);
	if (read_state(s, have, &converted) < 0)
		return sp_err(err, errlen, "cannot read the key check: %s", store_errmsg(s));
	if (have[0] && !same_hex(have, want))
		return sp_err(err, errlen, "does not match this database (key check failed)");
	if (have[0] && converted) {
		memcpy(s->key, key, SP_KEY_LEN);
		s->have_key = true;
		return 0;
	}
	/* First keyed open since schema 005: check, convert, record, at once. */
	if (store_begin(s) < 0)
		return sp_err(err, errlen, "cannot start a transaction: %s", store_errmsg(s));
	if (read_state(s, have, &converted) < 0) {
		sp_err(err, errlen, "cannot read the key check: %s", store_errmsg(s));
		goto fail;
	}
	if (have[0] && !same_hex(have, want)) {
		sp_err(err, errlen, "does not match this database (key check failed)");
		goto fail;
	}
	if (!have[0]) {
		int ok = key_opens_passwords(s, key);
		if (ok <= 0) {
			sp_err(err, errlen, ok < 0 ? "cannot read accounts: %s" :
			       "does not decrypt the stored passwords (a key file of another database?)%s",
			       ok < 0 ? store_errmsg(s) : "");
			goto fail;
		}
	}
	memcpy(s->key, key, SP_KEY_LEN);
	s->have_key = true;
	if (!converted && convert_legacy(s, err, errlen) < 0)
		goto fail;
	struct dbst *st = store_stmt(s, "UPDATE secret_state SET key_check = ?, converted = 1 WHERE id = 1");
	if (!st) {
		sp_err(err, errlen, "%s", store_errmsg(s));
		goto fail;
	}
	store_bind_text(st, 1, want);
	if (store_exec_stmt(s, st, err, errlen) < 0 || store_commit(s) < 0) {
		sp_err(err, errlen, "cannot record the key check: %s", store_errmsg(s));
		goto fail;
	}
	return 0;
fail:
	store_rollback(s);
	s->have_key = false;
	secret_wipe(s->key, sizeof(s->key));
	return -1;
}

/* Does the store's database have a table called name?  1, 0, -1. */
static int has_table(struct store *s, const char *name)
{
	if (!s->url)
		return store_has_table(db_sqlite_handle(s->db), name);
	struct dbst *st = db_prepare(s->db, "SELECT to_regclass(?) IS NOT NULL", false);
	int rc = -1;
	if (!st)
		return -1;
	db_bind_text(st, 1, name);
	if (db_step(st) == DB_ROW)
		rc = db_col_int64(st, 0) != 0;
	db_finalize(st);
	return rc;
}

int store_key_verify(struct store *s, const unsigned char key[SP_KEY_LEN], char *err, size_t errlen)
{
	char want[65], have[65] = "";
	int converted = 0, has = has_table(s, "secret_state");
	if (has < 0 || (has && read_state(s, have, &converted) < 0))
		return sp_err(err, errlen, "cannot read the key check: %s", store_errmsg(s));
	if (have[0]) {
		secret_hmac_hex(key, LABEL_CHECK, "", 0, want);
		if (!same_hex(have, want))
			return sp_err(err, errlen, "does not match this database (key check failed)");
		return 0;
	}
	/* No check value yet (before schema 005, or never opened with a key):
	 * a stored password, if any, must open with it. */
	has = has_table(s, "account");
	int ok = has > 0 ? key_opens_passwords(s, key) : has;
	if (ok < 0)
		return sp_err(err, errlen, "cannot read accounts: %s", store_errmsg(s));
	if (ok == 0)
		return sp_err(err, errlen, "does not decrypt the stored passwords (a key file of another database?)");
	return 0;
}

/* ---- a lost PostgreSQL connection (issue 17) ---- */

bool store_lost(struct store *s)
{
	return s->url && db_pg_lost(s->db);
}

int store_reconnect(struct store *s, char *err, size_t errlen)
{
	if (!s->url)
		return 0;
	struct db *db = db_pg_open(s->url, err, errlen);
	if (!db)
		return -1;
	/* The cached statements' server-side halves died with the old
	 * connection: prepare them again on the new one. */
	for (int i = 0; i < STMT_SLOTS; i++) {
		db_finalize(s->cache[i].st);
		s->cache[i].st = NULL;
		s->cache[i].sql = NULL;
	}
	batches_drop(s);
	db_close(s->db);
	s->db = db;
	/* Maybe another server now (a promoted replica), where a generation
	 * number may name other rows: forget what the memo read. */
	if (s->memo)
		memo_forget(s->memo, -1);
	return 0;
}
