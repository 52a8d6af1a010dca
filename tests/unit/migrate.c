/*
 * migrate.c: the schema runner and store_admin.c: a gap in the recorded
 * migrations is filled (not skipped forever), migrations run only through
 * store_migrate and after a 0600 backup named for the old schema, a newer
 * database is refused by every entry point, and the read-only open that
 * sipprovd -n uses creates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"
#include "core/sipprov.h"
#include "support/store_test.h"

static int newest(void)
{
	return schema_migrations[schema_migration_count - 1].number;
}

static bool exists(const char *p)
{
	return access(p, F_OK) == 0;
}

/* 007 and 009 were both released; a database with 009 but not 007 (a
 * branch that skipped it, or a number left free and used later) must get
 * 007 applied.  The old runner applied only numbers above the highest. */
static void test_gap(const char *dir)
{
	char path[512], err[SP_ERR_MAX], out[64], bak[600];
	struct store_migrated m;
	struct store_schema sc;
	snprintf(path, sizeof(path), "%s/gap.db", dir);
	ok(store_test_create_at(path, 9,
				"DROP INDEX drift_unknown_src; ALTER TABLE drift_event DROP COLUMN src_ip;"
				"DELETE FROM schema_migration WHERE number = 7;"
				"INSERT INTO tenant (slug, created) VALUES ('kept', 0)", err, sizeof(err)) == 0,
	   "a database with every migration to 009 but 007: %s", err);
	struct store *s = store_open_raw(path, true, err, sizeof(err));
	ok(s && store_schema(s, &sc, err, sizeof(err)) == 0, "its schema reads: %s", err);
	is_int(sc.have, 9, "highest recorded: 009");
	ok(sc.pending >= 1 && !sc.unknown, "007 counts as pending, nothing unknown (pending %d)", sc.pending);
	store_close(s);
	ok(store_open(path, err, sizeof(err)) == NULL && strstr(err, "run 'sipprov migrate'"),
	   "store_open refuses the gap like any out-of-date schema: %s", err);
	ok(store_migrate(path, &m, err, sizeof(err)) == 0, "store_migrate: %s", err);
	ok(m.applied >= 1 && m.from == 9 && m.to == newest(), "it applied %d (from %03d to %03d)", m.applied, m.from, m.to);
	s = store_open(path, err, sizeof(err));
	ok(s != NULL, "then store_open accepts it: %s", err);
	if (!s)
		return;
	ok(store_test_text(s, "SELECT count(*) FROM schema_migration WHERE number = 7", out, sizeof(out)) == 1 &&
	   !strcmp(out, "1"), "007 is recorded now");
	ok(store_test_text(s, "SELECT count(*) FROM pragma_table_info('drift_event') WHERE name = 'src_ip'", out,
			   sizeof(out)) == 1 && !strcmp(out, "1"), "and its column exists");
	store_test_text(s, "SELECT slug FROM tenant", out, sizeof(out));
	is_str(out, "kept", "data kept");
	store_close(s);
	snprintf(bak, sizeof(bak), "%s.pre-009.bak", path);
	struct stat st;
	ok(stat(bak, &st) == 0 && (st.st_mode & 0777) == 0600, "backup %s first, mode 0600", bak);
	ok(store_file_check(bak, NULL, &sc, err, sizeof(err)) == 0 && sc.pending >= 1, "the backup is the old schema");
	ok(store_migrate(path, &m, err, sizeof(err)) == 0 && m.applied == 0 && !m.backup[0],
	   "a second migrate has nothing to do and makes no backup");
}

static void test_newer(const char *dir)
{
	char path[512], err[SP_ERR_MAX], dest[600], want[64];
	struct store_migrated m;
	snprintf(path, sizeof(path), "%s/newer.db", dir);
	snprintf(dest, sizeof(dest), "%s/newer.copy", dir);
	snprintf(want, sizeof(want), "schema %03d, newer than this sipprov", newest() + 1);
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migration VALUES (%d, 'future', 0)", newest() + 1);
	ok(store_test_create_at(path, newest(), sql, err, sizeof(err)) == 0, "a database from a newer sipprov");
	ok(store_open(path, err, sizeof(err)) == NULL && strstr(err, want), "store_open refuses it: %s", err);
	ok(store_migrate(path, &m, err, sizeof(err)) < 0 && strstr(err, want), "store_migrate refuses it");
	ok(store_backup(path, dest, false, err, sizeof(err)) < 0 && !exists(dest), "store_backup refuses it");
	ok(store_file_check(path, NULL, NULL, err, sizeof(err)) < 0 && strstr(err, want), "store_file_check refuses it");
}

static void test_readonly(const char *dir)
{
	char path[512], side[600], err[SP_ERR_MAX];
	unsigned char key[SP_KEY_LEN], other[SP_KEY_LEN];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	snprintf(path, sizeof(path), "%s/ro.db", dir);
	ok(store_open_raw(path, true, err, sizeof(err)) == NULL && strstr(err, "no database at") && !exists(path),
	   "read-only open of a missing database: refused, nothing created");
	struct store *s = store_open(path, err, sizeof(err));
	ok(s && store_use_key(s, key, err, sizeof(err)) == 0, "a keyed database");
	store_close(s);
	snprintf(side, sizeof(side), "%s-wal", path);
	ok(!exists(side), "closed cleanly: no -wal");
	s = store_open_raw(path, true, err, sizeof(err));
	ok(s != NULL, "read-only open: %s", err);
	ok(store_key_verify(s, key, err, sizeof(err)) == 0, "store_key_verify: the right key");
	ok(store_key_verify(s, other, err, sizeof(err)) < 0 && strstr(err, "key check failed"),
	   "store_key_verify: a wrong key (%s)", err);
	store_close(s);
	ok(!exists(side), "the read-only open left no -wal behind");
	snprintf(side, sizeof(side), "%s-shm", path);
	ok(!exists(side), "and no -shm");
}

static void test_backup_restore(const char *dir)
{
	char path[512], copy[600], other[600], bad[600], err[SP_ERR_MAX], out[64];
	unsigned char key[SP_KEY_LEN], wrong[SP_KEY_LEN];
	struct store_schema sc;
	struct stat st;
	memset(key, 3, sizeof(key));
	memset(wrong, 4, sizeof(wrong));
	snprintf(path, sizeof(path), "%s/live.db", dir);
	snprintf(copy, sizeof(copy), "%s/live.bak", dir);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	snprintf(bad, sizeof(bad), "%s/bad.db", dir);
	struct store *s = store_open(path, err, sizeof(err));
	ok(s && store_use_key(s, key, err, sizeof(err)) == 0 && store_test_exec(s, "INSERT INTO tenant (slug, created) "
	   "VALUES ('a', 0)", err, sizeof(err)) == 0, "a live database with a tenant");
	mode_t old = umask(0);
	ok(store_backup(path, copy, false, err, sizeof(err)) == 0, "backup while a connection is open: %s", err);
	umask(old);
	ok(stat(copy, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600 with umask 0 (%o)", st.st_mode & 0777);
	ok(store_backup(path, copy, false, err, sizeof(err)) < 0 && strstr(err, "refusing to overwrite"),
	   "an existing backup is kept: %s", err);
	ok(store_backup(path, copy, true, err, sizeof(err)) == 0, "unless forced");
	ok(store_file_check(copy, wrong, NULL, err, sizeof(err)) < 0 && strstr(err, "key check failed"),
	   "the backup with another key: refused (%s)", err);
	ok(store_restore(copy, path, key, NULL, err, sizeof(err)) < 0 && strstr(err, "in use by another process"),
	   "restore over a database another connection holds: refused (%s)", err);
	ok(store_test_text(s, "SELECT count(*) FROM tenant", out, sizeof(out)) == 1 && !strcmp(out, "1"),
	   "nothing written");
	ok(store_test_exec(s, "INSERT INTO tenant (slug, created) VALUES ('b', 0)", err, sizeof(err)) == 0,
	   "the live database moves on (2 tenants)");
	store_close(s);
	ok(store_restore(copy, path, key, &sc, err, sizeof(err)) == 0 && sc.have == newest(),
	   "restore over it once it is closed: %s", err);
	s = store_open(path, err, sizeof(err));
	ok(s && store_test_text(s, "SELECT group_concat(slug) FROM tenant", out, sizeof(out)) == 1 &&
	   !strcmp(out, "a"), "the live database is the backup again (%s)", out);
	store_close(s);
	ok(store_restore(copy, other, key, NULL, err, sizeof(err)) == 0 && stat(other, &st) == 0 &&
	   (st.st_mode & 0777) == 0600, "restore into a new path: mode 0600");
	ok(store_restore(copy, copy, key, NULL, err, sizeof(err)) < 0, "restore onto itself: refused");

	/* A truncated copy, and one with a page header overwritten. */
	FILE *in = fopen(copy, "rb"), *o = fopen(bad, "wb");
	char buf[4096 * 3];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fwrite(buf, 1, n, o);
	fclose(in);
	fclose(o);
	ok(store_file_check(bad, NULL, NULL, err, sizeof(err)) < 0, "a truncated backup fails the check: %s", err);
	ok(store_restore(bad, other, NULL, NULL, err, sizeof(err)) < 0, "and is not restored");
	ok(store_restore("/nonexistent/x.db", other, NULL, NULL, err, sizeof(err)) < 0 && strstr(err, "no database"),
	   "a missing backup: %s", err);
}

int main(void)
{
	char dir[] = "/tmp/sipprov-migrate.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	log_init(LOG_LVL_ERR, false);
	test_gap(dir);
	test_newer(dir);
	test_readonly(dir);
	test_backup_restore(dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
