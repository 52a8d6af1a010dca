/*
 * cmd_tenant.c: `sipprov tenant add|list|show|set|suspend|resume` — tenants
 * and their policy (device auth modes, source allowlist, username patterns,
 * default template and default settings).  `tenant move` lives in
 * cmd_bulk.c.  Every change is validated before it is written, and audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/sipprov.h"

static const char usage_add[] =
	"tenant add SLUG [--name N] [--username-pattern RE] [--auth-username-pattern RE]\n"
	"       [--device-auth none|digest|mtls|token ...] [--allow CIDR ...] [--max-per-user N]\n"
	"       [--default-template NAME] [key=value ...]";
static const char usage_set[] =
	"tenant set SLUG [--name N] [--username-pattern RE] [--auth-username-pattern RE]\n"
	"       [--device-auth MODE ...] [--allow CIDR ...] [--max-per-user N] [--default-template NAME]\n"
	"       [key=value ...]   (tenant default settings; 'key=' removes one)";

/* Parse options and key=value defaults onto t.  pos[0] is the slug. */
static int tenant_edit(struct cli *c, struct tenant *t, int argc, char **argv, const char *usage, bool adding)
{
	const char *name = NULL, *upat = NULL, *apat = NULL, *deftpl = NULL;
	long max = -1;
	struct buf auth, allow;
	char *pos[64], err[SP_ERR_MAX];
	int npos, rc = 0;
	json_t *defaults = NULL;
	struct cli_opt opts[] = {
		{ "--name", OPT_STR, &name, 0, 0 },
		{ "--username-pattern", OPT_STR, &upat, 0, 0 },
		{ "--auth-username-pattern", OPT_STR, &apat, 0, 0 },
		{ "--device-auth", OPT_LIST, &auth, 0, 0 },
		{ "--allow", OPT_LIST, &allow, 0, 0 },
		{ "--max-per-user", OPT_LONG, &max, 0, 1000 },
		{ "--default-template", OPT_STR, &deftpl, 0, 0 },
		{ NULL, 0, NULL, 0, 0 },
	};
	buf_init(&auth, sizeof(t->device_auth) - 1);
	buf_init(&allow, sizeof(t->allow_cidrs) - 1);
	if ((rc = cli_parse(argc, argv, opts, pos, 64, &npos, usage)))
		goto out;
	if (npos < 1) {
		rc = cli_usage(usage);
		goto out;
	}
	if (adding) {
		if (strlen(pos[0]) >= sizeof(t->slug)) {
			rc = cli_fail("tenant slug '%.64s...' is longer than %zu characters", pos[0], sizeof(t->slug) - 1);
			goto out;
		}
		sp_strlcpy(t->slug, pos[0], sizeof(t->slug));
	}
	struct { const char *v; char *dst; size_t n; const char *field; } strs[] = {
		{ name, t->name, sizeof(t->name), "name" },
		{ upat, t->username_pattern, sizeof(t->username_pattern), "username-pattern" },
		{ apat, t->auth_username_pattern, sizeof(t->auth_username_pattern), "auth-username-pattern" },
		{ deftpl, t->default_template, sizeof(t->default_template), "default-template" },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (!strs[i].v)
			continue;
		if (strlen(strs[i].v) >= strs[i].n) {
			rc = cli_fail("tenant %s: --%s is longer than %zu characters", t->slug, strs[i].field,
				      strs[i].n - 1);
			goto out;
		}
		sp_strlcpy(strs[i].dst, strs[i].v, strs[i].n);
	}
	if (auth.overflow || allow.overflow) {
		rc = cli_fail("tenant %s: --%s list is too long", t->slug, auth.overflow ? "device-auth" : "allow");
		goto out;
	}
	if (auth.len)
		sp_strlcpy(t->device_auth, auth.data, sizeof(t->device_auth));
	if (allow.len)
		sp_strlcpy(t->allow_cidrs, allow.data, sizeof(t->allow_cidrs));
	if (max >= 0)
		t->max_per_user = max;
	if (npos > 1) {
		json_error_t je;
		defaults = json_loads(t->defaults[0] ? t->defaults : "{}", 0, &je);
		if (!defaults)
			defaults = json_object();
		for (int i = 1; i < npos; i++)
			if (settings_apply_kv(defaults, pos[i], err, sizeof(err)) < 0) {
				rc = cli_fail("tenant %s: %s", t->slug, err);
				goto out;
			}
	}
	const char *field;
	if (tenant_prepare(c->store, t, defaults, c->force, &field, err, sizeof(err)) < 0)
		rc = cli_fail("%s", err);
out:
	json_decref(defaults);
	buf_release(&auth);
	buf_release(&allow);
	return rc;
}

static int tenant_add(struct cli *c, int argc, char **argv)
{
	struct tenant t;
	char err[SP_ERR_MAX];
	int rc;
	memset(&t, 0, sizeof(t));
	sp_strlcpy(t.status, "active", sizeof(t.status));
	sp_strlcpy(t.device_auth, "digest", sizeof(t.device_auth));
	sp_strlcpy(t.defaults, "{}", sizeof(t.defaults));
	if ((rc = tenant_edit(c, &t, argc, argv, usage_add, true)))
		return rc;
	if (t.default_template[0])
		return cli_fail("tenant %s: --default-template needs the template to exist: add the tenant, "
				"then 'template set', then 'tenant set --default-template'", t.slug);
	if (!t.name[0])
		sp_strlcpy(t.name, t.slug, sizeof(t.name));
	if (tenant_save(c->store, c->actor, "tenant add", &t, NULL, t.device_auth, err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	printf("tenant %s added (device auth: %s)\n", t.slug, t.device_auth);
	return 0;
}

static int tenant_set(struct cli *c, int argc, char **argv)
{
	struct tenant t;
	char err[SP_ERR_MAX], before[65], after[65];
	int rc;
	if (argc < 1 || argv[0][0] == '-')
		return cli_usage(usage_set);
	if ((rc = cli_tenant(c, argv[0], &t)))
		return rc;
	tenant_digest(&t, before);
	if ((rc = tenant_edit(c, &t, argc, argv, usage_set, false)))
		return rc;
	tenant_digest(&t, after);
	if (!strcmp(before, after)) {
		printf("tenant %s unchanged\n", t.slug);
		return 0;
	}
	if (tenant_save(c->store, c->actor, "tenant set", &t, before, c->force ? "forced" : "", err,
			sizeof(err)) < 0)
		return cli_fail("%s", err);
	printf("tenant %s updated\n", t.slug);
	return 0;
}

static int tenant_status(struct cli *c, int argc, char **argv, const char *status)
{
	struct tenant t;
	char err[SP_ERR_MAX], before[65];
	int rc;
	if (argc != 1)
		return cli_usage(!strcmp(status, "active") ? "tenant resume SLUG" : "tenant suspend SLUG");
	if ((rc = cli_tenant(c, argv[0], &t)))
		return rc;
	tenant_digest(&t, before);
	sp_strlcpy(t.status, status, sizeof(t.status));
	if (tenant_save(c->store, c->actor, !strcmp(status, "active") ? "tenant resume" : "tenant suspend", &t,
			before, "", err, sizeof(err)) < 0)
		return cli_fail("%s", err);
	printf("tenant %s %s\n", t.slug, !strcmp(status, "active") ? "resumed" : "suspended");
	return 0;
}

struct list_ctx {
	struct cli *c;
	json_t *arr;
};

static int list_one(const struct tenant *t, void *arg)
{
	struct list_ctx *lc = arg;
	long n = 0;
	store_device_count(lc->c->store, t->id, &n);
	if (lc->arr)
		json_array_append_new(lc->arr, tenant_json(t, n));
	else
		printf("%-20s %-10s %-22s %6ld devices  %s\n", t->slug, t->status, t->device_auth, n, t->name);
	return 0;
}

static int tenant_list(struct cli *c, int argc, char **argv)
{
	struct list_ctx lc = { c, c->json ? json_array() : NULL };
	if (argc)
		return cli_usage("tenant list [--json]");
	if (store_tenant_each(c->store, list_one, &lc) < 0)
		return cli_fail("%s", store_errmsg(c->store));
	if (lc.arr)
		cli_json_out(lc.arr);
	return 0;
}

static int tenant_show(struct cli *c, int argc, char **argv)
{
	struct tenant t;
	long n = 0;
	int rc;
	if (argc != 1)
		return cli_usage("tenant show SLUG [--json]");
	if ((rc = cli_tenant(c, argv[0], &t)))
		return rc;
	store_device_count(c->store, t.id, &n);
	if (c->json) {
		cli_json_out(tenant_json(&t, n));
		return 0;
	}
	printf("tenant:                %s\nname:                  %s\nstatus:                %s\n"
	       "device auth:           %s\nallowed sources:       %s\nusername pattern:      %s\n"
	       "auth-username pattern: %s\nmax devices per user:  %ld\ndefault template:      %s\n"
	       "default settings:      %s\ndevices:               %ld\n",
	       t.slug, t.name, t.status, t.device_auth, t.allow_cidrs[0] ? t.allow_cidrs : "any",
	       t.username_pattern[0] ? t.username_pattern : "(none)",
	       t.auth_username_pattern[0] ? t.auth_username_pattern : "(none)", t.max_per_user,
	       t.default_template[0] ? t.default_template : "(none)", t.defaults, n);
	return 0;
}

static int tenant_suspend(struct cli *c, int argc, char **argv)
{
	return tenant_status(c, argc, argv, "suspended");
}

static int tenant_resume(struct cli *c, int argc, char **argv)
{
	return tenant_status(c, argc, argv, "active");
}

int cmd_tenant(struct cli *c, int argc, char **argv)
{
	static const struct cli_sub subs[] = {
		{ "add", tenant_add }, { "list", tenant_list }, { "show", tenant_show }, { "set", tenant_set },
		{ "suspend", tenant_suspend }, { "resume", tenant_resume }, { "move", cmd_tenant_move },
		{ NULL, NULL },
	};
	return cli_dispatch(c, "tenant", subs, argc, argv);
}
