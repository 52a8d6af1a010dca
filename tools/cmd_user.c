/*
 * cmd_user.c: `sipprov user add|list|rm|passwd`: the people who log in to
 * the web console (sipprovd's /ui/ on admin_listen).  Passwords come from
 * a terminal (typed twice, not echoed) or --password-file, and only their
 * scrypt hash is stored (core/user.c).  Sessions are the daemon's business.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static const char usage_add[] = "user add NAME --role admin|operator|read-only [--tenant T] [--password-file F]";
static const char usage_passwd[] = "user passwd NAME [--password-file F]";

/* One line from f into out (newline dropped): 0, or -1 when nothing fits. */
static int read_line(FILE *f, char *out, size_t n)
{
	if (!fgets(out, (int)n, f))
		return -1;
	size_t len = strcspn(out, "\r\n");
	if (out[len] == '\0' && len == n - 1 && !feof(f))
		return -1;              /* longer than the buffer */
	out[len] = '\0';
	return 0;
}

static int prompt(FILE *tty, const char *what, char *out, size_t n)
{
	struct termios old, quiet;
	int fd = fileno(tty), rc;
	fprintf(tty, "%s: ", what);
	fflush(tty);
	if (tcgetattr(fd, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	rc = read_line(tty, out, n);
	tcsetattr(fd, TCSAFLUSH, &old);
	fputc('\n', tty);
	return rc;
}

/* The new password, from file or typed twice on the terminal; checked
 * against user_password_valid.  0 or EXIT_USER after saying why. */
static int get_password(const char *file, const char *name, char pw[SP_PASSWORD_MAX + 2])
{
	char again[SP_PASSWORD_MAX + 2], err[SP_ERR_MAX];
	int rc = 0;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return cli_fail("--password-file '%s': cannot read it", file);
		rc = read_line(f, pw, SP_PASSWORD_MAX + 2);
		fclose(f);
		if (rc < 0)
			return cli_fail("--password-file '%s': no password line (or longer than %d bytes)", file,
					SP_PASSWORD_MAX - 1);
	} else {
		FILE *tty = fopen("/dev/tty", "r+");
		if (!tty || !isatty(fileno(tty))) {
			if (tty)
				fclose(tty);
			return cli_fail("user %s: no terminal to type the password on: use --password-file", name);
		}
		if (prompt(tty, "password", pw, SP_PASSWORD_MAX + 2) < 0 ||
		    prompt(tty, "password again", again, sizeof(again)) < 0)
			rc = cli_fail("user %s: no password read", name);
		else if (strcmp(pw, again))
			rc = cli_fail("user %s: the two passwords differ", name);
		fclose(tty);
		secret_wipe(again, sizeof(again));
		if (rc)
			return rc;
	}
	if (!user_password_valid(pw, err, sizeof(err)))
		return cli_fail("user %s: %s", name, err);
	return 0;
}

static int user_add(struct cli *c, int argc, char **argv)
{
	const char *tenant = NULL, *role = NULL, *pwfile = NULL;
	char *pos[2], err[SP_ERR_MAX], pw[SP_PASSWORD_MAX + 2];
	int npos, rc;
	struct console_user u;
	struct tenant tn;
	struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &tenant, 0, 0 },
		{ "--role", OPT_STR, &role, 0, 0 },
		{ "--password-file", OPT_STR, &pwfile, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos, usage_add)))
		return rc;
	if (npos != 1 || !role)
		return cli_usage(usage_add);
	memset(&u, 0, sizeof(u));
	if (strlen(pos[0]) >= sizeof(u.name) || !validate_slug(pos[0]))
		return cli_fail("user name '%.64s' is not valid: use 1 to 63 of a-z, 0-9 and '-'", pos[0]);
	if (!api_role_ok(role))
		return cli_fail("user %s: role '%s' is not one of admin, operator, read-only", pos[0], role);
	if (tenant) {
		if ((rc = cli_tenant(c, tenant, &tn)))
			return rc;
		u.tenant_id = tn.id;
	}
	if ((rc = get_password(pwfile, pos[0], pw)))
		return rc;
	sp_strlcpy(u.name, pos[0], sizeof(u.name));
	sp_strlcpy(u.role, role, sizeof(u.role));
	rc = user_password_hash(pw, u.pw_hash);
	secret_wipe(pw, sizeof(pw));
	if (rc < 0)
		return cli_fail("user %s: cannot hash the password (random number generator or scrypt failed)", u.name);
	if (store_begin(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	if (store_user_add(c->store, &u, err, sizeof(err)) < 0 ||
	    store_audit(c->store, c->actor, "user add", u.name, "", "", role) < 0) {
		store_rollback(c->store);
		return cli_fail("%s", err);
	}
	if (store_commit(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	printf("user %s added (%s%s%s)\n", u.name, role, tenant ? ", tenant " : "", tenant ? tenant : "");
	return 0;
}

static int list_one(const struct console_user *u, void *arg)
{
	json_t *arr = arg;
	if (arr)
		json_array_append_new(arr, json_pack("{s:s, s:s?, s:s, s:I, s:I}", "name", u->name, "tenant",
						     u->tenant_id ? u->tenant : NULL, "role", u->role, "created",
						     (json_int_t)u->created, "updated", (json_int_t)u->updated));
	else
		printf("%-24s %-10s %s\n", u->name, u->role, u->tenant_id ? u->tenant : "*");
	return 0;
}

static int user_list(struct cli *c, int argc, char **argv)
{
	json_t *arr = c->json ? json_array() : NULL;
	if (argc)
		return cli_usage("user list [--json]");
	if (store_user_each(c->store, list_one, arr) < 0) {
		json_decref(arr);
		return cli_fail("%s", store_errmsg(c->store));
	}
	if (arr)
		cli_json_out(arr);
	return 0;
}

/* rm and passwd: one row changed and audited in one transaction. */
static int user_change(struct cli *c, const char *name, const char *action, const char *pw_hash)
{
	if (store_begin(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	int rc = pw_hash ? store_user_set_password(c->store, name, pw_hash, sp_now()) : store_user_rm(c->store, name);
	if (rc == 1 && store_audit(c->store, c->actor, action, name, "", "", "") < 0)
		rc = -1;
	if (rc != 1) {
		store_rollback(c->store);
		if (rc == 0)
			return cli_fail("no user '%s' (see 'sipprov user list')", name);
		return cli_fail("%s", store_errmsg(c->store));
	}
	if (store_commit(c->store) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	return 0;
}

static int user_rm(struct cli *c, int argc, char **argv)
{
	if (argc != 1 || argv[0][0] == '-')
		return cli_usage("user rm NAME");
	int rc = user_change(c, argv[0], "user rm", NULL);
	if (!rc)
		printf("user %s removed (its sessions ended)\n", argv[0]);
	return rc;
}

static int user_passwd(struct cli *c, int argc, char **argv)
{
	const char *pwfile = NULL;
	char *pos[2], pw[SP_PASSWORD_MAX + 2], hash[SP_PW_HASH_MAX];
	int npos, rc;
	struct console_user u;
	struct cli_opt opts[] = {
		{ "--password-file", OPT_STR, &pwfile, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	if ((rc = cli_parse(argc, argv, opts, pos, 2, &npos, usage_passwd)))
		return rc;
	if (npos != 1)
		return cli_usage(usage_passwd);
	/* Say "no such user" before asking for a password. */
	if ((rc = store_user_get(c->store, pos[0], &u)) != 1)
		return rc < 0 ? cli_fail("%s", store_errmsg(c->store))
			      : cli_fail("no user '%s' (see 'sipprov user list')", pos[0]);
	if ((rc = get_password(pwfile, pos[0], pw)))
		return rc;
	rc = user_password_hash(pw, hash);
	secret_wipe(pw, sizeof(pw));
	if (rc < 0)
		return cli_fail("user %s: cannot hash the password", pos[0]);
	if ((rc = user_change(c, pos[0], "user passwd", hash)))
		return rc;
	printf("user %s: password changed (its sessions ended)\n", pos[0]);
	return 0;
}

int cmd_user(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", user_add }, { "list", user_list }, { "rm", user_rm }, { "passwd", user_passwd },
		{ NULL, NULL },
	};
	return cli_dispatch(c, "user", subs, argc, argv);
}
