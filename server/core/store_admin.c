/*
 * store_admin.c: a database's life around serving: which schema a file
 * holds, migrations (only when asked, after a backup), online backups with
 * SQLite's backup API, checks of backup files and restores.  It decides no
 * policy (who may restore, when the daemon migrates): callers do.  It only
 * refuses what would lose or damage data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SQLite-only admin work: schema bookkeeping on sqlite_master, the backup
 * API, integrity_check, restore over a file.  It reaches the connection
 * through db_sqlite_handle; rows elsewhere go through db.h. */
#include <sqlite3.h>

#include "db_sqlite.h"
#include "store_int.h"

#define RESTORE_WAIT_MS 1000            /* how long another connection may hold the target */

static int newest(void)
{
	return schema_migration_count ? schema_migrations[schema_migration_count - 1].number : 0;
}

static bool known(int number)
{
	for (size_t i = 0; i < schema_migration_count; i++)
		if (schema_migrations[i].number == number)
			return true;
	return false;
}

int store_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* 1 when migration number is recorded in db, 0 not, -1 error. */
static int recorded(sqlite3 *db, int number)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migration WHERE number = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, number);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_schema_read(sqlite3 *db, struct store_schema *sc, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;
	memset(sc, 0, sizeof(*sc));
	sc->want = newest();
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
		return sp_err(err, errlen, "%s", sqlite3_errmsg(db));
	rc = sqlite3_step(st);
	sc->fresh = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return sp_err(err, errlen, "%s", sqlite3_errmsg(db));
	if (sc->fresh) {
		sc->pending = (int)schema_migration_count;
		return 0;
	}
	if ((rc = store_has_table(db, "schema_migration")) <= 0)
		return sp_err(err, errlen, "%s", rc < 0 ? sqlite3_errmsg(db) :
			      "not a sipprov database (it has tables but no schema_migration)");
	if (sqlite3_prepare_v2(db, "SELECT number FROM schema_migration ORDER BY number", -1, &st, NULL) != SQLITE_OK)
		return sp_err(err, errlen, "%s", sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_int(st, 0);
		if (n > sc->have)
			sc->have = n;
		if (!known(n) && !sc->unknown)
			sc->unknown = n;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sp_err(err, errlen, "%s", sqlite3_errmsg(db));
	for (size_t i = 0; i < schema_migration_count; i++) {
		if ((rc = recorded(db, schema_migrations[i].number)) < 0)
			return sp_err(err, errlen, "%s", sqlite3_errmsg(db));
		if (rc == 0 && !sc->pending++)
			sc->missing = schema_migrations[i].number;
	}
	return 0;
}

int store_schema(struct store *s, struct store_schema *sc, char *err, size_t errlen)
{
	if (store_url(s))
		return store_pg_schema(store_url(s), sc, err, errlen);
	return store_schema_read(db_sqlite_handle(store_db(s)), sc, err, errlen);
}

int store_schema_refuse(const char *path, const struct store_schema *sc, char *err, size_t errlen)
{
	if (sc->unknown)
		return sp_err(err, errlen, "database '%s' has schema %03d, newer than this sipprov %s (schema %03d): "
			      "use the sipprov that wrote it, or restore a backup", path,
			      sc->unknown > sc->have ? sc->unknown : sc->have, SP_VERSION, sc->want);
	if (!sc->fresh && sc->pending && sc->have >= sc->want)
		return sp_err(err, errlen, "database '%s' lacks migration %03d of this sipprov %s: run 'sipprov "
			      "migrate' (it backs the database up first)", path, sc->missing, SP_VERSION);
	if (!sc->fresh && sc->pending)
		return sp_err(err, errlen, "database '%s' is at schema %03d, this sipprov %s needs %03d: run "
			      "'sipprov migrate' (it backs the database up first)", path, sc->have, SP_VERSION, sc->want);
	return 0;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sp_err(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int store_schema_apply(sqlite3 *db, char *err, size_t errlen)
{
	char why[SP_ERR_MAX];
	if (exec(db, "CREATE TABLE IF NOT EXISTS schema_migration ("
		     "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)", err, errlen) < 0)
		return -1;
	/* Every number not recorded, not only those above the highest: a
	 * number left out by one release is applied by the next. */
	for (size_t i = 0; i < schema_migration_count; i++) {
		const struct schema_migration *m = &schema_migrations[i];
		sqlite3_stmt *st;
		if (exec(db, "BEGIN IMMEDIATE", err, errlen) < 0)
			return -1;
		/* Asked inside the write lock: a concurrent migrator applied it, or not. */
		int rc = recorded(db, m->number);
		if (rc != 0) {
			exec(db, "ROLLBACK", NULL, 0);
			if (rc < 0)
				return sp_err(err, errlen, "%s", sqlite3_errmsg(db));
			continue;
		}
		if (exec(db, m->sql, why, sizeof(why)) < 0) {
			exec(db, "ROLLBACK", NULL, 0);
			return sp_err(err, errlen, "migration %s failed: %s", m->name, why);
		}
		if (sqlite3_prepare_v2(db, "INSERT INTO schema_migration VALUES (?,?,?)", -1, &st, NULL) != SQLITE_OK) {
			sp_err(err, errlen, "%s", sqlite3_errmsg(db));
			exec(db, "ROLLBACK", NULL, 0);
			return -1;
		}
		sqlite3_bind_int(st, 1, m->number);
		sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, sp_now());
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE || exec(db, "COMMIT", NULL, 0) < 0) {
			exec(db, "ROLLBACK", NULL, 0);
			return sp_err(err, errlen, "migration %s: cannot record it", m->name);
		}
	}
	return 0;
}

char *store_uri(const char *path, const char *q)
{
	struct buf b;
	char hex[4];
	buf_init(&b, 64 * 1024);
	buf_adds(&b, "file:");
	for (const char *p = path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#') {
			snprintf(hex, sizeof(hex), "%%%02X", (unsigned char)*p);
			buf_adds(&b, hex);
		} else {
			buf_add(&b, p, 1);
		}
	}
	buf_adds(&b, "?");
	buf_adds(&b, q);
	return buf_detach(&b, NULL);
}

/* ---- backup ---- */

static void unlink_db(const char *path)
{
	const char *sfx[] = { "", "-journal", "-wal", "-shm" };
	char p[4200];
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

/* integrity_check's first line: 0 "ok", else -1 with err. */
static int integrity(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		return sp_err(err, errlen, "'%s' is not a usable database: %s", what, sqlite3_errmsg(db));
	int rc = sqlite3_step(st);
	const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	if (t && !strcmp((const char *)t, "ok")) {
		sqlite3_finalize(st);
		return 0;
	}
	sp_err(err, errlen, "'%s' fails integrity_check: %s", what,
	       t ? (const char *)t : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return -1;
}

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static void dir_of(const char *path, char *out, size_t n)
{
	sp_strlcpy(out, path, n);
	char *slash = strrchr(out, '/');
	if (!slash)
		sp_strlcpy(out, ".", n);
	else
		slash[slash == out] = '\0';
}

/* Copy src (one snapshot: the backup API in a single step holds one read
 * transaction) into dest through a 0600 temporary file beside it, checked
 * before it is renamed into place: dest is the whole copy or untouched. */
static int backup_to(sqlite3 *src, const char *dest, bool force, char *err, size_t errlen)
{
	char tmp[4200], dir[4200];
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int fd, rc = -1;

	if (!force && access(dest, F_OK) == 0)
		return sp_err(err, errlen, "'%s' exists: refusing to overwrite it (--force replaces it)", dest);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", dest, (long)getpid());
	unlink_db(tmp);
	/* 0600 whatever the umask; SQLite gives its journal the same mode. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return sp_err(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
	close(fd);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sp_err(err, errlen, "cannot open '%s': %s", tmp, dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
		sp_err(err, errlen, "cannot start the backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	int step;
	/* BUSY only while another connection recovers the WAL: retry briefly. */
	for (int tries = 0; (step = sqlite3_backup_step(b, -1)) != SQLITE_DONE && tries < 50; tries++) {
		if ((step & 0xff) != SQLITE_BUSY && (step & 0xff) != SQLITE_LOCKED)
			break;
		sqlite3_sleep(100);
	}
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		sp_err(err, errlen, "backup failed: %s", sqlite3_errstr(step));
		goto out;
	}
	if (integrity(dst, tmp, err, errlen) < 0)
		goto out;
	sqlite3_close(dst);
	dst = NULL;
	if (fsync_path(tmp, false) < 0) {
		sp_err(err, errlen, "cannot sync '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (force) {
		if (rename(tmp, dest) < 0) {
			sp_err(err, errlen, "cannot rename '%s' to '%s': %s", tmp, dest, strerror(errno));
			goto out;
		}
	} else if (link(tmp, dest) < 0) {   /* atomic "create unless it exists" */
		int e = errno;
		/* No hard links (vfat, some network file systems): check, then rename. */
		bool nolink = e == EPERM || e == EOPNOTSUPP || e == EMLINK;
		if (e == EEXIST || (nolink && access(dest, F_OK) == 0)) {
			sp_err(err, errlen, "'%s' exists: refusing to overwrite it (--force replaces it)", dest);
			goto out;
		}
		if (!nolink || rename(tmp, dest) < 0) {
			sp_err(err, errlen, "cannot create '%s': %s", dest, strerror(nolink ? errno : e));
			goto out;
		}
	}
	dir_of(dest, dir, sizeof(dir));
	fsync_path(dir, true);
	rc = 0;
out:
	sqlite3_close(dst);
	unlink_db(tmp);
	return rc;
}

/* A read-write connection to path whose schema is not newer than ours. */
static struct store *open_known(const char *path, struct store_schema *sc, char *err, size_t errlen)
{
	struct store *s = store_open_raw(path, false, err, errlen);
	char why[SP_ERR_MAX];
	if (!s)
		return NULL;
	if (store_schema(s, sc, why, sizeof(why)) < 0) {
		sp_err(err, errlen, "database '%s': %s", path, why);
		store_close(s);
		return NULL;
	}
	if (sc->unknown) {
		store_schema_refuse(path, sc, err, errlen);
		store_close(s);
		return NULL;
	}
	return s;
}

int store_backup(const char *path, const char *dest, bool force, char *err, size_t errlen)
{
	if (store_is_pg_url(path))
		return store_refuse_pg_file_op(path, "backup", err, errlen);
	struct store_schema sc;
	struct store *s = open_known(path, &sc, err, errlen);
	if (!s)
		return -1;
	int rc = backup_to(db_sqlite_handle(store_db(s)), dest, force, err, errlen);
	store_close(s);
	return rc;
}

int store_migrate(const char *path, struct store_migrated *m, char *err, size_t errlen)
{
	struct store_schema sc;
	int rc = -1;
	if (store_is_pg_url(path))
		return store_pg_migrate(path, m, err, errlen);
	memset(m, 0, sizeof(*m));
	struct store *s = open_known(path, &sc, err, errlen);
	if (!s)
		return -1;
	m->from = m->to = sc.have;
	if (!sc.pending) {
		store_close(s);
		return 0;
	}
	if (!sc.fresh) {
		for (int i = 1; i < 100; i++) {
			if (i == 1)
				snprintf(m->backup, sizeof(m->backup), "%s.pre-%03d.bak", path, sc.have);
			else
				snprintf(m->backup, sizeof(m->backup), "%s.pre-%03d.%d.bak", path, sc.have, i);
			if (access(m->backup, F_OK) < 0)
				break;
		}
		if (backup_to(db_sqlite_handle(store_db(s)), m->backup, false, err, errlen) < 0)
			goto out;
	}
	if (store_schema_apply(db_sqlite_handle(store_db(s)), err, errlen) < 0)
		goto out;
	m->applied = sc.pending;
	m->to = sc.want;
	rc = 0;
out:
	store_close(s);
	return rc;
}

/* ---- restore ---- */

int store_file_check(const char *path, const unsigned char *key, struct store_schema *sc, char *err,
		     size_t errlen)
{
	struct store_schema own;
	char why[SP_ERR_MAX];
	int rc = -1;
	if (store_is_pg_url(path))
		return store_refuse_pg_file_op(path, "an integrity check", err, errlen);
	struct store *s = store_open_raw(path, true, err, errlen);
	if (!sc)
		sc = &own;
	if (!s)
		return -1;
	if (integrity(db_sqlite_handle(store_db(s)), path, err, errlen) < 0)
		goto out;
	if (store_schema(s, sc, why, sizeof(why)) < 0) {
		sp_err(err, errlen, "'%s': %s", path, why);
		goto out;
	}
	if (sc->fresh) {
		sp_err(err, errlen, "'%s' is an empty database", path);
		goto out;
	}
	if (sc->unknown) {
		store_schema_refuse(path, sc, err, errlen);
		goto out;
	}
	if (key && store_key_verify(s, key, why, sizeof(why)) < 0) {
		sp_err(err, errlen, "'%s': the key file %s", path, why);
		goto out;
	}
	rc = 0;
out:
	store_close(s);
	return rc;
}

/* Overwrite the open database dst with src in one write transaction.  The
 * exclusive locking mode holds the file from the first check to the end:
 * any other connection (sipprovd keeps its own open) makes it fail. */
static int restore_over(sqlite3 *src, const char *dest, char *err, size_t errlen)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc = -1;
	if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sp_err(err, errlen, "cannot open database '%s': %s", dest, dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(dst, RESTORE_WAIT_MS);
	if (exec(dst, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT", NULL, 0) < 0) {
		sp_err(err, errlen, "database '%s' is in use by another process (a running sipprovd, an import): "
		       "stop it first; nothing was written", dest);
		goto out;
	}
	if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
		sp_err(err, errlen, "cannot start the restore: %s", sqlite3_errmsg(dst));
		goto out;
	}
	int step = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		sp_err(err, errlen, "restore into '%s' failed: %s", dest, sqlite3_errstr(step));
		goto out;
	}
	rc = integrity(dst, dest, err, errlen);
out:
	sqlite3_close(dst);
	return rc;
}

int store_restore(const char *src, const char *dest, const unsigned char *key, struct store_schema *sc,
		  char *err, size_t errlen)
{
	struct stat a, b;
	char side[4200];
	int rc = -1;
	if (store_is_pg_url(dest))
		return store_refuse_pg_file_op(dest, "restore", err, errlen);
	if (store_file_check(src, key, sc, err, errlen) < 0)
		return -1;
	if (stat(src, &a) == 0 && stat(dest, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return sp_err(err, errlen, "'%s' is the database itself", src);
	struct store *s = store_open_raw(src, true, err, errlen);
	if (!s)
		return -1;
	if (access(dest, F_OK) < 0) {
		/* A -wal left without its database would be replayed into the new file. */
		snprintf(side, sizeof(side), "%s-wal", dest);
		if (access(side, F_OK) == 0)
			sp_err(err, errlen, "'%s' exists without its database: move it away first", side);
		else
			rc = backup_to(db_sqlite_handle(store_db(s)), dest, false, err, errlen);
	} else {
		rc = restore_over(db_sqlite_handle(store_db(s)), dest, err, errlen);
	}
	store_close(s);
	return rc;
}
