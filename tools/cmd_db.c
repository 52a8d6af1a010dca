/*
 * cmd_db.c: the database's lifecycle from the CLI: `sipprov migrate`
 * (backup, then the missing migrations; given a PostgreSQL URL, its
 * schema/pg migrations, no backup), `sipprov backup FILE [--with-key]`
 * (online) and `sipprov restore FILE [--with-key]`.  The SQLite work is in
 * core/store_admin.c; here are the key file, the messages and the
 * policies: restore refuses while anything (sipprovd) has the database open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/sipprov.h"

/* PostgreSQL (issue 17): no backup (pg_dump is the admin's tool); the URL
 * is shown without its password. */
static int migrate_pg(struct cli *c)
{
	struct store_migrated m;
	char err[SP_ERR_MAX], shown[SP_FIELD_MAX];
	store_pg_url_redact(c->db_path, shown, sizeof(shown));
	if (store_pg_migrate(c->db_path, &m, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (!m.applied)
		printf("database %s is at schema %03d: nothing to migrate\n", shown, m.to);
	else
		printf("migrated database %s from schema %03d to %03d (%d migration%s)\n", shown, m.from, m.to,
		       m.applied, m.applied == 1 ? "" : "s");
	return 0;
}

int cmd_migrate(struct cli *c, int argc, char **argv)
{
	struct store_migrated m;
	char err[SP_ERR_MAX];
	if (argc)
		return cli_usage("migrate");
	if (store_is_pg_url(c->db_path))
		return migrate_pg(c);
	if (access(c->db_path, F_OK) < 0)
		return cli_fail("no database at '%s' (run 'sipprov init' to create one)", c->db_path);
	if (store_migrate(c->db_path, &m, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (!m.applied) {
		printf("database %s is at schema %03d: nothing to migrate\n", c->db_path, m.to);
		return 0;
	}
	if (m.backup[0])
		printf("backed up %s to %s (mode 0600)\n", c->db_path, m.backup);
	printf("migrated database %s from schema %03d to %03d (%d migration%s)\n", c->db_path, m.from, m.to,
	       m.applied, m.applied == 1 ? "" : "s");
	return 0;
}

/* Write key as a key file at path, mode 0600 whatever the umask: through
 * a temporary file, renamed over path (force) or linked (refused if path
 * exists).  0 or EXIT_USER after printing why. */
static int write_key(const char *path, const unsigned char key[SP_KEY_LEN], bool force)
{
	char tmp[SP_FIELD_MAX + 32], hex[SP_KEY_LEN * 2 + 2];
	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cli_fail("cannot create '%s': %s", tmp, strerror(errno));
	sp_hex(key, SP_KEY_LEN, hex);
	size_t n = strlen(hex);
	hex[n++] = '\n';
	bool ok = write(fd, hex, n) == (ssize_t)n && fsync(fd) == 0;
	close(fd);
	secret_wipe(hex, sizeof(hex));
	if (ok)
		ok = force ? rename(tmp, path) == 0 : link(tmp, path) == 0;
	int e = errno;
	unlink(tmp);
	if (!ok)
		return cli_fail(e == EEXIST ? "'%s' exists: refusing to overwrite it (--force replaces it)" :
				"cannot write key file '%s': %s", path, strerror(e));
	return 0;
}

int cmd_backup(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "backup FILE [--with-key] [--force]";
	bool with_key = false;
	char *pos[1], err[SP_ERR_MAX], kp[SP_FIELD_MAX + 8], dest_key[SP_FIELD_MAX + 8];
	unsigned char key[SP_KEY_LEN];
	int npos, rc;
	struct cli_opt opts[] = {
		{ "--with-key", OPT_FLAG, &with_key, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage)))
		return rc;
	if (npos != 1)
		return cli_usage(usage);
	if (store_is_pg_url(c->db_path) && store_backup(c->db_path, pos[0], c->force, err, sizeof(err)) < 0)
		return cli_fail("%s", err);     /* refused by name: pg_dump */
	if (access(c->db_path, F_OK) < 0)
		return cli_fail("no database at '%s'", c->db_path);
	if (strlen(pos[0]) + 4 >= SP_FIELD_MAX)
		return cli_fail("backup file name '%s' is too long", pos[0]);
	snprintf(dest_key, sizeof(dest_key), "%s.key", pos[0]);
	if (with_key) {
		/* Both or neither: check the key before writing anything. */
		cli_key_path(c, kp, sizeof(kp));
		if (secret_key_load(kp, key, err, sizeof(err)) < 0)
			return cli_fail("--with-key: %s", err);
		if (!c->force && access(dest_key, F_OK) == 0) {
			secret_wipe(key, sizeof(key));
			return cli_fail("'%s' exists: refusing to overwrite it (--force replaces it)", dest_key);
		}
	}
	if (store_backup(c->db_path, pos[0], c->force, err, sizeof(err)) < 0) {
		secret_wipe(key, sizeof(key));
		return cli_fail("%s", err);
	}
	printf("backed up %s to %s (mode 0600)\n", c->db_path, pos[0]);
	if (!with_key) {
		printf("the key file is not in it: keep a copy of %s apart (or use --with-key)\n",
		       (cli_key_path(c, kp, sizeof(kp)), kp));
		return 0;
	}
	/* The key must open the copy, or the pair is useless. */
	if (store_file_check(pos[0], key, NULL, err, sizeof(err)) < 0) {
		secret_wipe(key, sizeof(key));
		return cli_fail("%s", err);
	}
	rc = write_key(dest_key, key, c->force);
	secret_wipe(key, sizeof(key));
	if (!rc)
		printf("wrote the key file to %s (mode 0600): keep it apart from the backup\n", dest_key);
	return rc;
}

int cmd_restore(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "restore FILE [--with-key]";
	bool with_key = false, have_key = false;
	char *pos[1], err[SP_ERR_MAX], kp[SP_FIELD_MAX + 8], src_key[SP_FIELD_MAX + 8];
	unsigned char key[SP_KEY_LEN];
	struct store_schema sc;
	int npos, rc;
	struct cli_opt opts[] = {
		{ "--with-key", OPT_FLAG, &with_key, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, usage)))
		return rc;
	if (npos != 1)
		return cli_usage(usage);
	if (store_is_pg_url(c->db_path) && store_restore(pos[0], c->db_path, NULL, &sc, err, sizeof(err)) < 0)
		return cli_fail("%s", err);     /* refused by name: pg_restore */
	if (strlen(pos[0]) + 4 >= SP_FIELD_MAX)
		return cli_fail("backup file name '%s' is too long", pos[0]);
	cli_key_path(c, kp, sizeof(kp));
	snprintf(src_key, sizeof(src_key), "%s.key", pos[0]);
	if (with_key) {
		if (secret_key_load(src_key, key, err, sizeof(err)) < 0)
			return cli_fail("--with-key: %s", err);
		have_key = true;
	} else if (access(kp, R_OK) == 0) {
		if (secret_key_load(kp, key, err, sizeof(err)) < 0)
			return cli_fail("%s", err);
		have_key = true;
	}
	if (store_restore(pos[0], c->db_path, have_key ? key : NULL, &sc, err, sizeof(err)) < 0) {
		secret_wipe(key, sizeof(key));
		if (have_key && !with_key && strstr(err, "the key file"))
			return cli_fail("%s; its key is not %s: pass --with-key to restore %s with it", err, kp, src_key);
		return cli_fail("%s", err);
	}
	rc = with_key ? write_key(kp, key, true) : 0;
	secret_wipe(key, sizeof(key));
	if (rc)
		return rc;
	printf("restored %s into %s (schema %03d)\n", pos[0], c->db_path, sc.have);
	if (with_key)
		printf("restored the key file %s from %s (mode 0600)\n", kp, src_key);
	else if (!have_key)
		fprintf(stderr, "warning: the key was not checked: %s is %s\n", kp,
			access(kp, F_OK) == 0 ? "not readable by you" : "missing (restore it, or use --with-key)");
	if (sc.pending)
		printf("the backup is at schema %03d: run 'sipprov migrate' (or start sipprovd) to bring it to %03d\n",
		       sc.have, sc.want);
	return 0;
}
