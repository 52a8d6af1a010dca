/*
 * cmd_webpw.c: `sipprov web-password set|rm|show`: the admin and user
 * passwords of the phones' own web interface, per tenant or per device (the
 * device's wins), encrypted at rest with the key file like SIP passwords.
 * Passwords come from files (never argv, which other users can read); show
 * prints them only with --show-secrets.  Rendering is the layouts'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define WP_USAGE "web-password set (--tenant T | --device MAC) [--admin-file F] [--user-file F]\n" \
	"       sipprov web-password rm (--tenant T | --device MAC) [--admin] [--user]\n" \
	"       sipprov web-password show (--tenant T | --device MAC) [--json] [--show-secrets]"
#define WP_MAX 128                      /* characters phones' web forms take; well under SP_FIELD_MAX */

struct wp_opts { const char *tenant, *device, *admin_file, *user_file; bool admin, user; };

/* The tenant or device named; 0 or an exit code after printing. */
static int wp_target(struct cli *c, int argc, char **argv, struct wp_opts *o, struct tenant *t, struct device *d,
		     bool need_key)
{
	const struct cli_opt opts[] = {
		{ "--tenant", OPT_STR, &o->tenant, 0, 0 },
		{ "--device", OPT_STR, &o->device, 0, 0 },
		{ "--admin-file", OPT_STR, &o->admin_file, 0, 0 },
		{ "--user-file", OPT_STR, &o->user_file, 0, 0 },
		{ "--admin", OPT_FLAG, &o->admin, 0, 0 },
		{ "--user", OPT_FLAG, &o->user, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	char *pos[1];
	int npos, rc;
	memset(o, 0, sizeof(*o));
	memset(d, 0, sizeof(*d));
	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, WP_USAGE)))
		return rc;
	if (npos || !o->tenant == !o->device) {
		fprintf(stderr, "error: name exactly one of --tenant and --device\n");
		return cli_usage(WP_USAGE);
	}
	if ((rc = need_key ? cli_open_key(c) : cli_open(c)))
		return rc;
	if (o->tenant)
		return cli_tenant(c, o->tenant, t);
	if ((rc = cli_device(c, o->device, d)))
		return rc;
	return cli_tenant_by_id(c, d->tenant_id, t);
}

/* The first line of file into out (line end dropped), checked; 0 or EXIT_USER
 * naming the option. */
static int read_pw(const char *opt, const char *file, char *out, size_t n)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return cli_fail("%s '%s': %s", opt, file, strerror(errno));
	if (!fgets(out, (int)n, f))
		out[0] = '\0';
	fclose(f);
	size_t len = strcspn(out, "\r\n");
	bool whole = out[len] != '\0' || len + 1 < n;
	out[len] = '\0';
	if (!len)
		return cli_fail("%s '%s': the first line is empty", opt, file);
	if (!whole || len > WP_MAX) {
		secret_wipe(out, n);
		return cli_fail("%s '%s': the password is longer than %d bytes", opt, file, WP_MAX);
	}
	if (!sp_text_ok(out)) {
		secret_wipe(out, n);
		return cli_fail("%s '%s': the password must be UTF-8 text without control characters", opt, file);
	}
	return 0;
}

static const char *subject(const struct tenant *t, const struct device *d, char *buf, size_t n)
{
	if (d->mac[0])
		snprintf(buf, n, "device %s", d->mac);
	else
		snprintf(buf, n, "tenant %s", t->slug);
	return buf;
}

static int wp_set(struct cli *c, int argc, char **argv)
{
	struct wp_opts o;
	struct tenant t;
	struct device d;
	char pw[2][WP_MAX + 2] = { "", "" }, who[SP_SLUG_MAX + 16], err[SP_ERR_MAX] = "";
	char *enc[2] = { NULL, NULL };
	static const char *const roles[] = { "admin", "user" };
	int rc;

	if ((rc = wp_target(c, argc, argv, &o, &t, &d, true)))
		return rc;
	if (!o.admin_file && !o.user_file) {
		fprintf(stderr, "error: set needs --admin-file and/or --user-file\n");
		return cli_usage(WP_USAGE);
	}
	if ((o.admin_file && (rc = read_pw("--admin-file", o.admin_file, pw[0], sizeof(pw[0])))) ||
	    (o.user_file && (rc = read_pw("--user-file", o.user_file, pw[1], sizeof(pw[1])))))
		goto out;
	for (int i = 0; i < 2; i++)
		if (pw[i][0] && !(enc[i] = secret_encrypt(c->key, pw[i]))) {
			rc = cli_fail("cannot encrypt the %s password", roles[i]);
			goto out;
		}
	subject(&t, &d, who, sizeof(who));
	rc = store_begin(c->store) < 0 ? -1 : 0;
	for (int i = 0; i < 2 && rc == 0; i++)
		if (enc[i])
			rc = store_webpw_set(c->store, d.mac[0] ? 0 : t.id, d.id, roles[i], enc[i], err, sizeof(err)) < 0 ||
			     store_audit(c->store, c->actor, "web_password.set", who, NULL, NULL, roles[i]) < 0 ? -1 : 0;
	if (rc < 0 || store_commit(c->store) < 0) {
		store_rollback(c->store);
		rc = cli_fail("%s: %s", who, err[0] ? err : store_errmsg(c->store));
		goto out;
	}
	printf("%s: web password%s set:%s%s\n", who, enc[0] && enc[1] ? "s" : "", enc[0] ? " admin" : "",
	       enc[1] ? " user" : "");
	rc = 0;
out:
	secret_wipe(pw, sizeof(pw));
	free(enc[0]);
	free(enc[1]);
	return rc;
}

static int wp_rm(struct cli *c, int argc, char **argv)
{
	struct wp_opts o;
	struct tenant t;
	struct device d;
	char who[SP_SLUG_MAX + 16], err[SP_ERR_MAX] = "";
	static const char *const roles[] = { "admin", "user" };
	int rc, n = 0, gone = 0;

	if ((rc = wp_target(c, argc, argv, &o, &t, &d, false)))
		return rc;
	bool want[2] = { o.admin || !o.user, o.user || !o.admin };
	subject(&t, &d, who, sizeof(who));
	if (store_begin(c->store) < 0)
		return cli_fail("cannot start a transaction: %s", store_errmsg(c->store));
	for (int i = 0; i < 2; i++) {
		if (!want[i])
			continue;
		rc = store_webpw_set(c->store, d.mac[0] ? 0 : t.id, d.id, roles[i], "", err, sizeof(err));
		if (rc < 0 || (rc == 1 && store_audit(c->store, c->actor, "web_password.rm", who, NULL, NULL, roles[i]) < 0)) {
			store_rollback(c->store);
			return cli_fail("%s: %s", who, err[0] ? err : store_errmsg(c->store));
		}
		gone += rc;
		n++;
	}
	if (store_commit(c->store) < 0) {
		store_rollback(c->store);
		return cli_fail("%s: %s", who, store_errmsg(c->store));
	}
	if (!gone)
		return cli_fail("%s has no %sweb password of its own", who, n == 2 ? "" : want[0] ? "admin " : "user ");
	printf("%s: %d web password%s removed\n", who, gone, gone == 1 ? "" : "s");
	return 0;
}

/* One role: where it comes from ("device", "tenant", "" none) and, with
 * the key, its text (caller wipes). */
static int wp_lookup(struct cli *c, const struct tenant *t, const struct device *d, const char *role,
		     const char **from, char *plain, size_t n)
{
	char enc[1024];
	int rc = 0;
	*from = "";
	plain[0] = '\0';
	if (d->mac[0] && (rc = store_webpw_get(c->store, 0, d->id, role, enc, sizeof(enc))) == 1)
		*from = "device";
	else if (rc == 0 && (rc = store_webpw_get(c->store, t->id, 0, role, enc, sizeof(enc))) == 1)
		*from = "tenant";
	if (rc < 0)
		return cli_fail("cannot read web passwords: %s", store_errmsg(c->store));
	if (rc == 1 && c->show_secrets) {
		char *p = secret_decrypt(c->key, enc);
		if (!p)
			return cli_fail("the %s web password does not decrypt (wrong key file?)", role);
		sp_strlcpy(plain, p, n);
		secret_wipe(p, strlen(p));
		free(p);
	}
	return 0;
}

static int wp_show(struct cli *c, int argc, char **argv)
{
	struct wp_opts o;
	struct tenant t;
	struct device d;
	char who[SP_SLUG_MAX + 16], plain[2][SP_FIELD_MAX];
	const char *from[2];
	static const char *const roles[] = { "admin", "user" };
	int rc;

	if ((rc = wp_target(c, argc, argv, &o, &t, &d, c->show_secrets)))
		return rc;
	for (int i = 0; i < 2; i++)
		if ((rc = wp_lookup(c, &t, &d, roles[i], &from[i], plain[i], sizeof(plain[i])))) {
			secret_wipe(plain, sizeof(plain));
			return rc;
		}
	subject(&t, &d, who, sizeof(who));
	if (c->json) {
		json_t *j = json_object();
		for (int i = 0; i < 2; i++) {
			json_t *r = json_pack("{s:b, s:s}", "set", *from[i] != '\0', "from", from[i]);
			if (c->show_secrets && *from[i])
				json_object_set_new(r, "password", json_string(plain[i]));
			json_object_set_new(j, roles[i], r);
		}
		cli_json_out(j);
	} else {
		printf("%s\n", who);
		for (int i = 0; i < 2; i++) {
			if (!*from[i])
				printf("  %-6s not set\n", roles[i]);
			else if (c->show_secrets)
				printf("  %-6s set (%s): %s\n", roles[i], from[i], plain[i]);
			else
				printf("  %-6s set (%s)\n", roles[i], from[i]);
		}
	}
	secret_wipe(plain, sizeof(plain));
	return 0;
}

int cmd_webpw(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "set", wp_set }, { "rm", wp_rm }, { "show", wp_show }, { NULL, NULL },
	};
	return cli_dispatch(c, "web-password", subs, argc, argv);
}
