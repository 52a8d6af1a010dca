/*
 * cmd_account.c: `sipprov account add|set|rm|list|token`: the SIP lines of
 * a device.  Every write is validated (validate_account) and audit-logged
 * in one transaction; passwords are encrypted at rest and never printed
 * or logged unless --show-secrets is given for a listing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "qr.h"
#include "core/sipprov.h"

#define ACC_USAGE "account add MAC [--line N] --username U --auth-username A --password P " \
	"[--display-name D] [--extension E]\n" \
	"       sipprov account set MAC [--line N] [--username U] [--auth-username A] [--password P] " \
	"[--display-name D] [--extension E]\n" \
	"       sipprov account rm MAC [--line N]\n" \
	"       sipprov account list MAC [--json] [--show-secrets]\n" \
	"       sipprov account token MAC [--line N] --rotate|--revoke\n" \
	"       sipprov account qr MAC [--line N] [--png FILE | --svg FILE] [--force]"

struct acc_opts {
	long line;
	const char *username, *auth_username, *password, *display_name, *extension;
	const char *png, *svg;
	bool rotate, revoke;
};

static int parse(int argc, char **argv, struct acc_opts *o, char **mac)
{
	const struct cli_opt opts[] = {
		{ "--line", OPT_LONG, &o->line, 1, SP_MAX_LINES },
		{ "--username", OPT_STR, &o->username, 0, 0 },
		{ "--auth-username", OPT_STR, &o->auth_username, 0, 0 },
		{ "--password", OPT_STR, &o->password, 0, 0 },
		{ "--display-name", OPT_STR, &o->display_name, 0, 0 },
		{ "--extension", OPT_STR, &o->extension, 0, 0 },
		{ "--rotate", OPT_FLAG, &o->rotate, 0, 0 },
		{ "--revoke", OPT_FLAG, &o->revoke, 0, 0 },
		{ "--png", OPT_STR, &o->png, 0, 0 },
		{ "--svg", OPT_STR, &o->svg, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	char *pos[1];
	int npos, rc;
	memset(o, 0, sizeof(*o));
	o->line = 1;
	if ((rc = cli_parse(argc, argv, opts, pos, 1, &npos, ACC_USAGE)))
		return rc;
	if (npos != 1)
		return cli_usage(ACC_USAGE);
	*mac = pos[0];
	return 0;
}

static const char *url_base(char *out, size_t n)
{
	const char *env = getenv("SIPPROV_URL");
	size_t len;
	sp_strlcpy(out, env && *env ? env : "http://127.0.0.1:8080", n);
	len = strlen(out);
	while (len && out[len - 1] == '/')
		out[--len] = '\0';
	return out;
}

static void print_token_url(struct cli *c, const struct device *d, const struct account *a)
{
	char base[SP_FIELD_MAX];
	const struct layouts *ls;
	if (!a->token[0] || a->token_revoked)
		return;
	ls = cli_layouts(c);
	if (ls && layout_uses_token(layouts_find(ls, d->layout)))
		printf("token url: %s/s/%s\n", url_base(base, sizeof(base)), a->token);
}

/* Find line on device; 1 found, 0 not, or EXIT_USER after printing. */
/* The account on a line: 1 found, 0 none, -1 error (printed). */
static int find_line(struct cli *c, const struct device *d, long line, struct account *out)
{
	int rc = store_account_get_line(c->store, d->id, line, out);
	if (rc < 0)
		cli_fail("device %s: cannot read accounts: %s", d->mac, store_errmsg(c->store));
	return rc;
}

/* Like find_line, but a missing line is the user's error. */
static int need_line(struct cli *c, const struct device *d, long line, struct account *out)
{
	int rc = find_line(c, d, line, out);
	if (rc == 0)
		return cli_fail("device %s has no line %ld (see 'sipprov account list %s')", d->mac, line, d->mac);
	return rc < 0 ? EXIT_USER : 0;
}

/* The core's account_change of the options given. */
static void merge(struct account *a, const struct acc_opts *o)
{
	struct account_change ch = { o->username, o->auth_username, o->password, o->display_name, o->extension };
	account_merge(a, &ch);
}

/* Validate, encrypt, write and audit one account (core's account_write). */
static int write_account(struct cli *c, const struct device *d, struct account *a, bool add,
			 const char *before)
{
	char err[SP_ERR_MAX];
	if (account_write(c->store, c->key, c->actor, d, a, add, before, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	return 0;
}

static int acc_add(struct cli *c, int argc, char **argv)
{
	struct acc_opts o;
	struct device d;
	struct account a, old;
	char *mac, cm[18];
	int rc;

	if ((rc = parse(argc, argv, &o, &mac)))
		return rc;
	if (!o.username || !o.auth_username || !o.password) {
		fprintf(stderr, "error: account add needs --username, --auth-username and --password\n");
		return cli_usage(ACC_USAGE);
	}
	if ((rc = cli_open_key(c)) || (rc = cli_device(c, mac, &d)))
		return rc;
	if ((rc = find_line(c, &d, o.line, &old)) < 0)
		return EXIT_USER;
	if (rc == 1)
		return cli_fail("device %s already has line %ld (use 'sipprov account set %s --line %ld ...')",
				d.mac, o.line, d.mac, o.line);
	memset(&a, 0, sizeof(a));
	a.device_id = d.id;
	a.line = o.line;
	merge(&a, &o);
	if (random_hex(a.token, 16) < 0)
		return cli_fail("cannot generate a token: random number generator failed");
	rc = write_account(c, &d, &a, true, "");
	secret_wipe(a.password, sizeof(a.password));
	if (rc)
		return rc;
	validate_mac_colons(d.mac, cm);
	printf("account %ld on %s added (username %s, auth_username %s)\n", a.line, cm, a.username,
	       a.auth_username);
	print_token_url(c, &d, &a);
	return 0;
}

static int acc_set(struct cli *c, int argc, char **argv)
{
	struct acc_opts o;
	struct device d;
	struct account a;
	char *mac, before[65], cm[18];
	int rc;

	if ((rc = parse(argc, argv, &o, &mac)))
		return rc;
	if (!o.username && !o.auth_username && !o.password && !o.display_name && !o.extension) {
		fprintf(stderr, "error: account set needs at least one field to change\n");
		return cli_usage(ACC_USAGE);
	}
	if ((rc = cli_open_key(c)) || (rc = cli_device(c, mac, &d)))
		return rc;
	if ((rc = need_line(c, &d, o.line, &a)))
		return rc;
	account_digest(&a, before);
	merge(&a, &o);
	rc = write_account(c, &d, &a, false, before);
	secret_wipe(a.password, sizeof(a.password));
	if (rc)
		return rc;
	validate_mac_colons(d.mac, cm);
	printf("account %ld on %s updated\n", a.line, cm);
	return 0;
}

static int acc_rm(struct cli *c, int argc, char **argv)
{
	struct acc_opts o;
	struct device d;
	struct account a;
	char *mac, object[64], cm[18], err[SP_ERR_MAX];
	int rc;

	if ((rc = parse(argc, argv, &o, &mac)))
		return rc;
	if ((rc = cli_open(c)) || (rc = cli_device(c, mac, &d)))
		return rc;
	if ((rc = need_line(c, &d, o.line, &a)))
		return rc;
	validate_mac_colons(d.mac, cm);
	snprintf(object, sizeof(object), "account %ld on %s", a.line, cm);
	if (account_remove(c->store, c->actor, &d, &a, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	printf("%s removed\n", object);
	return 0;
}

static int acc_list(struct cli *c, int argc, char **argv)
{
	struct acc_opts o;
	struct device d;
	struct account *all;
	char *mac, base[SP_FIELD_MAX], url[SP_FIELD_MAX + 64];
	size_t n;
	int rc;
	json_t *arr;

	if ((rc = parse(argc, argv, &o, &mac)))
		return rc;
	if ((rc = (c->show_secrets ? cli_open_key(c) : cli_open(c))) || (rc = cli_device(c, mac, &d)))
		return rc;
	all = xcalloc(SP_MAX_LINES, sizeof(*all));
	if (store_account_list(c->store, d.id, all, SP_MAX_LINES, &n) < 0) {
		free(all);
		return cli_fail("device %s: cannot read accounts: %s", d.mac, store_errmsg(c->store));
	}
	arr = json_array();
	url_base(base, sizeof(base));
	for (size_t i = 0; i < n; i++) {
		struct account *a = &all[i];
		json_t *r = json_object();
		json_object_set_new(r, "line", json_integer(a->line));
		json_object_set_new(r, "display_name", json_string(a->display_name));
		json_object_set_new(r, "extension", json_string(a->extension));
		json_object_set_new(r, "username", json_string(a->username));
		json_object_set_new(r, "auth_username", json_string(a->auth_username));
		json_object_set_new(r, "token", json_string(!a->token_hash[0] ? "none" :
							      a->token_revoked ? "revoked" : "active"));
		json_object_set_new(r, "last_code", json_integer(a->last_code));
		if (c->show_secrets) {
			char *p = secret_decrypt(c->key, a->password_enc);
			json_object_set_new(r, "password", p ? json_string(p) : json_null());
			if (p) {
				secret_wipe(p, strlen(p));
				free(p);
			}
			if (a->token[0] && !a->token_revoked) {
				snprintf(url, sizeof(url), "%s/s/%s", base, a->token);
				json_object_set_new(r, "token_url", json_string(url));
			}
		}
		json_array_append_new(arr, r);
	}
	for (size_t i = 0; i < n; i++)
		secret_wipe(&all[i], sizeof(all[i]));
	free(all);
	if (c->json) {
		cli_json_out(arr);
		return 0;
	}
	size_t i;
	json_t *r;
	printf("%-4s %-24s %-10s %-20s %-20s %-8s%s\n", "LINE", "DISPLAY NAME", "EXTENSION", "USERNAME",
	       "AUTH USERNAME", "TOKEN", c->show_secrets ? " PASSWORD / TOKEN URL" : "");
	json_array_foreach(arr, i, r) {
		printf("%-4lld %-24s %-10s %-20s %-20s %-8s", (long long)json_integer_value(json_object_get(r, "line")),
		       json_string_value(json_object_get(r, "display_name")),
		       json_string_value(json_object_get(r, "extension")),
		       json_string_value(json_object_get(r, "username")),
		       json_string_value(json_object_get(r, "auth_username")),
		       json_string_value(json_object_get(r, "token")));
		if (c->show_secrets) {
			const char *p = json_string_value(json_object_get(r, "password"));
			const char *u = json_string_value(json_object_get(r, "token_url"));
			printf(" %s %s", p ? p : "(does not decrypt)", u ? u : "");
		}
		putchar('\n');
	}
	json_decref(arr);
	return 0;
}

static int acc_token(struct cli *c, int argc, char **argv)
{
	struct acc_opts o;
	struct device d;
	struct account a;
	char *mac, object[64], cm[18], err[SP_ERR_MAX];
	int rc;

	if ((rc = parse(argc, argv, &o, &mac)))
		return rc;
	if (o.rotate == o.revoke) {
		fprintf(stderr, "error: account token needs exactly one of --rotate or --revoke\n");
		return cli_usage(ACC_USAGE);
	}
	/* A new token is sealed with the key (its hash and ciphertext). */
	if ((rc = (o.rotate ? cli_open_key(c) : cli_open(c))) || (rc = cli_device(c, mac, &d)))
		return rc;
	if ((rc = need_line(c, &d, o.line, &a)))
		return rc;
	validate_mac_colons(d.mac, cm);
	snprintf(object, sizeof(object), "account %ld on %s", a.line, cm);
	if (account_token_set(c->store, c->actor, &d, &a, o.rotate, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	if (o.rotate) {
		char base[SP_FIELD_MAX];
		printf("%s: new token; the old URL no longer works\n", object);
		printf("token url: %s/s/%s\n", url_base(base, sizeof(base)), a.token);
	} else {
		printf("%s: token revoked\n", object);
	}
	return 0;
}

/* The token URL as a QR code: Linphone (and other softphones that take a
 * remote-provisioning URL) scan it instead of having it typed.  The code
 * is the secret itself, so showing it is audited like a rotation. */
static int acc_qr(struct cli *c, int argc, char **argv)
{
	struct acc_opts o;
	struct device d;
	struct account a;
	char *mac, base[SP_FIELD_MAX], url[SP_FIELD_MAX + 64], object[64], cm[18], err[SP_ERR_MAX];
	const struct layouts *ls;
	int rc;

	if ((rc = parse(argc, argv, &o, &mac)))
		return rc;
	if (o.png && o.svg) {
		fprintf(stderr, "error: account qr takes one of --png or --svg\n");
		return cli_usage(ACC_USAGE);
	}
	if ((rc = cli_open_key(c)) || (rc = cli_device(c, mac, &d)) || (rc = need_line(c, &d, o.line, &a)))
		return rc;
	ls = cli_layouts(c);
	if (!ls)
		return EXIT_USER;
	if (!layout_uses_token(layouts_find(ls, d.layout)))
		return cli_fail("device %s: layout '%s' is fetched by MAC with HTTP credentials, not by a token "
				"URL; QR onboarding is for token layouts such as linphone", d.mac, d.layout);
	if (!a.token[0] || a.token_revoked)
		return cli_fail("device %s line %ld: no active token (create one: sipprov account token %s "
				"--line %ld --rotate)", d.mac, a.line, d.mac, a.line);
	snprintf(url, sizeof(url), "%s/s/%s", url_base(base, sizeof(base)), a.token);
	secret_wipe(a.token, sizeof(a.token));
	validate_mac_colons(d.mac, cm);
	snprintf(object, sizeof(object), "account %ld on %s", a.line, cm);
	/* Audited once shown: a file is written first (and removed if the
	 * audit fails), the terminal is drawn only after the audit. */
	const char *file = o.png ? o.png : o.svg;
	if (file && qr_write(url, o.png ? QR_PNG : QR_SVG, NULL, file, c->force, err, sizeof(err)) < 0) {
		rc = cli_fail("%s", err);
	} else if (store_audit(c->store, c->actor, "account.qr", object, NULL, NULL, file ? file : "terminal") < 0) {
		if (file)
			unlink(file);
		rc = cli_fail("%s: cannot write the audit log: %s", object, store_errmsg(c->store));
	} else if (file) {
		printf("%s: QR code of the token URL written to %s (mode 0600)\n", object, file);
	} else if (qr_write(url, QR_TERM, stdout, NULL, false, err, sizeof(err)) < 0) {
		rc = cli_fail("%s", err);
	} else {
		printf("token url: %s\n", url);
	}
	secret_wipe(url, sizeof(url));
	return rc;
}

int cmd_account(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", acc_add }, { "set", acc_set }, { "rm", acc_rm }, { "list", acc_list }, { "token", acc_token },
		{ "qr", acc_qr }, { NULL, NULL },
	};
	return cli_dispatch(c, "account", subs, argc, argv);
}
